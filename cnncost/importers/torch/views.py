"""Handlers of what moves data without computing: views, flatten, permutes, the channel shuffle's
steps, chunk/split/slice along the channels, indexing and concatenation."""
from __future__ import annotations

import dataclasses
from typing import Any

from ...layers import ChannelShuffle, ConcatMerge, Contiguous, Expand, Permute, Select, Slice, Stack, Tokens
from ...layers.reshape import chunk_sizes
from ...layers.imported import Reshape
from ...layers.strides import compute_stride
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import channel_slice, chunk_count, concat, permute as lower_permute, view_to
from .values import BATCH, PV, Pieces, arg, dims, params_of, torch_dim, torch_rank
from .walker import GraphWalker


def flatten(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x, start = args[0], arg(args, kwargs, 1, "start_dim", 0)
    if isinstance(x, TV) and (x.folded or x.batch or start == 0) and x.form != "grouped_t":
        return fold_view(imp, node, x, result, "flatten")
    return view_to(imp, x, imp.out(result), "flatten")


def m_flatten(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    if isinstance(x, TV) and (x.folded or x.batch or m.start_dim == 0):
        return fold_view(imp, node, x, result, "flatten")
    return view_to(imp, x, imp.out(result), "flatten")


def view(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    if isinstance(args[0], PV):  # a parameter reshaped to broadcast (timm's gamma.reshape(1, -1, 1, 1))
        return PV(args[0].path, args[0].tensor, tuple(int(d) for d in result.shape))
    x = args[0]
    if isinstance(x, TV) and x.scale is not None and not x.batch:  # (RAFT's 0.25 * mask).view(...): the product first
        x = imp.tensor(x, (x.form,))
    if isinstance(x, TV) and (x.folded or x.batch or tuple(result.shape[:1]) != (BATCH,)):
        return fold_view(imp, node, x, result, "view")
    if isinstance(x, TV) and x.form == "std" and numel(x.shape) * BATCH != result.numel():  # merged rows before
        raise Unsupported("a view that splits the batch dimension back out of merged rows")
    try:
        return view_to(imp, x, imp.out(result), "view")
    except Unsupported:
        if not isinstance(x, TV) or x.form == "std" or x.scale is not None:
            raise
        return view_to(imp, imp.tensor(x), imp.out(result), "view")  # a channels-last map as its permute row


def fold_view(imp: GraphWalker, node: Any, x: Any, result: Any, what: str) -> TV:
    """A view that folds the batch into the result's first dim, (N*k, ...) batch-major (Swin's
    window partition), or views a folded tensor again, or unfolds it back to (N, ...) (the
    windows' reverse): a reshape of the per-sample shapes (see `TV.folded`). The batch must be
    the outermost factor of the first dim: the input's batch is its dim 0, or only dims of size 1
    come before it."""
    if not isinstance(x, TV):
        raise Unsupported(f"{what} of a {type(x).__name__}")
    size = tuple(int(d) for d in result.shape)
    if x.batch and x.scale is None and x.form == "std" and size[:x.batch] == x.shape[:x.batch] \
            and (any(d != 1 for d in x.shape[:x.batch]) or size[0] % BATCH):
        return fold_after(imp, node, x, size, what)
    if any(x.shape[d] != 1 for d in range(x.batch)):  # dims of size 1 before the batch leave it outermost
        raise Unsupported(f"{what} of a tensor whose batch is dim {x.batch}: the batch would not be the outermost "
                          "factor of the result's first dim")
    x = imp.tensor(dataclasses.replace(x, batch=0))
    if not size or size[0] % BATCH:
        raise Unsupported(f"{what} to {size}: its first dim does not hold the batch as its outermost factor")
    folded = size[0] != BATCH
    y = (size[0] // BATCH, *size[1:]) if folded else (size[1:] or (1,))
    source = imp.results.get(node.args[0]) if node.args else None
    if source is not None and hasattr(source, "stride") and compute_stride(tuple(source.shape), tuple(source.stride()), size) is None:
        # torch's reshape copies where the batch cannot merge with the dims folded into it; the
        # per-sample reshape could view (the batch kept apart): the copy, then a view
        x = imp.emit(Contiguous(), [x], x.shape, base="contiguous")
    if y == x.shape:
        return TV(x.leaf, y, folded=folded)
    v = imp.emit(Reshape(shape=y), [TV(x.leaf, x.shape)], y, base="view" if what == "view" else what)
    return TV(v.leaf, y, folded=folded)


def fold_after(imp: GraphWalker, node: Any, x: TV, size: tuple[int, ...], what: str) -> TV:
    """A view that keeps the dims before the batch (torch dim `x.batch`) and folds the batch into
    the result's dim there as its outermost factor, or views the dims after it (SAM's
    `qkv.reshape(3, N * heads, L, E)` of (3, N, heads, L, E)): per sample, a reshape of the dims
    from there on, the leading ones kept; the result's batch stays at that dim (folded, unless
    the dim is the batch alone)."""
    b = x.batch
    if size[b] % BATCH:
        raise Unsupported(f"{what} to {size}: its dim {b} does not hold the batch as its outermost factor")
    folded = size[b] != BATCH
    y = (*size[:b], size[b] // BATCH, *size[b + 1:]) if folded else (*size[:b], *size[b + 1:])
    if not y:
        raise Unsupported(f"{what} to {size}: nothing per sample")
    source = imp.results.get(node.args[0]) if node.args else None
    v = TV(x.leaf, x.shape)
    if source is not None and hasattr(source, "stride") and compute_stride(tuple(source.shape), tuple(source.stride()), size) is None:
        v = imp.emit(Contiguous(batch_dim=b), [v], x.shape, base="contiguous")  # torch's reshape copies, the batch inside
    if y != x.shape:
        v = imp.emit(Reshape(shape=y), [TV(v.leaf, x.shape)], y, base="view" if what == "view" else what)
    return TV(v.leaf, y, batch=b, folded=folded)


def permute(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    if not isinstance(x, TV):
        raise Unsupported("permute of a non-tensor")
    x = scaled_first(imp, x)
    order = tuple(args[1:]) if len(args) > 2 else arg(args, kwargs, 1, "dims")
    perm = dims(tuple(order), torch_rank(x))
    try:
        return lower_permute(imp, x, perm)
    except Unsupported:
        if x.form == "std" or x.scale is not None:
            raise
        return lower_permute(imp, imp.tensor(x), perm)  # a view in progress, made plain first (detection heads)


def scaled_first(imp: GraphWalker, x: TV) -> TV:
    """x with a pending constant factor made its own row first (DaViT's `(k * scale).transpose`):
    the product is what torch permutes, and what reads the permuted view sees its strides."""
    return imp.tensor(x, (x.form,)) if x.scale is not None and not x.batch else x


def transpose(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """A swap of two dimensions: the permutation that swaps them."""
    x = args[0]
    if not isinstance(x, TV):
        raise Unsupported("transpose of a non-tensor")
    x = scaled_first(imp, x)
    a, b = dims((arg(args, kwargs, 1, "dim0"), arg(args, kwargs, 2, "dim1")), torch_rank(x))
    order = list(range(torch_rank(x)))
    order[a], order[b] = order[b], order[a]
    return lower_permute(imp, x, tuple(order))


def contiguous(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """A copy: of a shuffle's transposed view, the shuffle itself; of anything else, nothing."""
    x = args[0]
    if isinstance(x, TV) and x.form == "grouped_t":
        channels_first = imp.builder.cnncost_shape(x)
        v = imp.emit(ChannelShuffle(groups=x.groups), [TV(x.leaf, channels_first)], channels_first, base="shuffle")
        return TV(v.leaf, imp.out(result), "regrouped", groups=x.groups)
    if isinstance(x, TV) and x.form == "std" and x.scale is None:
        leaf = imp.builder.leaves[x.leaf]
        if leaf is not None and isinstance(leaf.layer, (Permute, Slice, Select, Reshape)):  # maybe a copy: the layer says
            if x.folded and x.batch:  # (kept refused: an opaque row's output is taken to be folded at dim 0)
                raise Unsupported(f"contiguous copy of a tensor whose folded batch is dim {x.batch}")
            # a batch moved to dim b (timm's qkv.permute(2, 0, 3, 1, 4).contiguous()): the copy keeps it there
            v = imp.emit(Contiguous(batch_dim=x.batch), [TV(x.leaf, x.shape)], x.shape, base="contiguous")
            return TV(v.leaf, x.shape, batch=x.batch, folded=x.folded)
    if isinstance(x, TV) and x.form in ("std", "grouped", "regrouped"):
        return x
    raise Unsupported("contiguous copy of a permuted tensor")


def alias(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    """A call that returns its input as far as counting goes: x.float(), x.to(...), x.clone()."""
    x = args[0]
    if isinstance(x, TV):
        y = imp.out(result) if hasattr(result, "shape") else x.shape
        if y == x.shape or len(y) != len(x.shape) or x.form != "std" or x.batch:
            return x
        if x.folded and y[0] != x.shape[0]:
            raise Unsupported("expansion of the dim the batch is folded into")
        v = imp.emit(Expand(shape=y), [imp.tensor(x)], y, base="expand")  # x.expand(-1, -1, H, -1, -1)
        return dataclasses.replace(v, folded=x.folded)
    if isinstance(x, PV) and hasattr(result, "shape"):  # a parameter expanded over the batch (a class token)
        return PV(x.path, x.tensor, tuple(int(d) for d in result.shape))
    raise Unsupported("")


def m_identity(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    return args[0]


def sample_dim(x: TV, dim: Any, what: str) -> int:
    """torch's `dim` (counting the batch, at `x.batch`) as a per-sample dim, else Unsupported; a
    folded batch has no dim of its own (`TV.folded`), and its dim is not cut."""
    rank = torch_rank(x)
    if not isinstance(dim, int) or not -rank <= dim < rank or dim % rank == x.batch:
        raise Unsupported(f"{what} along dim {dim} (the batch, or out of range)")
    return dim % rank - (dim % rank > x.batch and not x.folded)


def chunk(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    x = imp.tensor(args[0])
    if unstacking(x, arg(args, kwargs, 2, "dim", 0), result):
        return unstack(imp, x)
    chunks, d = int(arg(args, kwargs, 1, "chunks")), sample_dim(x, arg(args, kwargs, 2, "dim", 0), "chunk")
    return Pieces(x, chunks, chunk_sizes(x.shape[d], chunks), {}, d)


def split(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces | tuple[Any, ...]:
    """split along one dim: torch.chunk's sizes where they are (a Chunk), else a Split (the
    pieces' sizes: from the trace)."""
    x = imp.tensor(args[0])
    if unstacking(x, arg(args, kwargs, 2, "dim", 0), result):
        return unstack(imp, x)
    d = sample_dim(x, arg(args, kwargs, 2, "dim", 0), "split")
    sizes = [int(t.shape[torch_dim(x, d)]) for t in result]
    chunks = chunk_count(x.shape[d], sizes)
    if chunks is None:
        return Pieces(x, len(sizes), sizes, {}, d, split=True)
    return Pieces(x, chunks, sizes, {}, d)


def batch_cat(imp: GraphWalker, xs: list[TV], result: Any) -> TV:
    """torch.cat([a, b], dim=0) of k tensors of one shape (RAFT's encoder on both images): the
    batch of k*N runs one op per layer on every sample of every tensor, as a tensor whose batch is
    folded into a new first dim of size k (`TV.folded`; torch's rows are tensor-major, cnncost's
    sample-major: no count depends on the order, and `unstack` takes the tensors back out)."""
    if any(v.folded or v.batch or v.shape != xs[0].shape for v in xs) or int(result.shape[0]) != len(xs) * BATCH:
        raise Unsupported("concatenation along the batch dim of tensors of different shapes, or folded")
    layer = Stack(dim=0)
    v = imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="cat")
    return dataclasses.replace(v, folded=True)


def unstacking(x: TV, dim: Any, result: Any) -> bool:
    """Whether chunk/split(dim) cuts a folded tensor along its torch dim 0 into pieces of one
    batch each: `batch_cat`'s tensors taken back out."""
    pieces = list(result) if isinstance(result, (list, tuple)) else []
    return x.folded and isinstance(dim, int) and dim % torch_rank(x) == 0 and len(pieces) == x.shape[0] \
        and all(int(t.shape[0]) == BATCH for t in pieces)


def unstack(imp: GraphWalker, x: TV) -> tuple:
    """The k pieces of a folded (k, ...) tensor along its fold, each one sample's (...): a Select
    (a view) each, no longer folded."""
    return tuple(dataclasses.replace(imp.emit(Select(dim=0, index=i), [x], x.shape[1:], base="chunk"), folded=False)
                 for i in range(x.shape[0]))


def unbind(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
    """x.unbind(dim): one Select per piece."""
    x = batched(args[0])
    d = sample_dim(x, arg(args, kwargs, 1, "dim", 0), "unbind")
    index = [slice(None)] * torch_rank(x)
    return tuple(slice_index(imp, x, (*index[:torch_dim(x, d)], i)) for i in range(x.shape[d]))


def getitem(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    seq, index = args[0], args[1]
    if isinstance(seq, Pieces) and seq.refused and int(index) % seq.chunks not in seq.made:
        return Pieces(seq.src, 1, [], {}, refused=seq.refused)  # refused where something reads it
    if isinstance(seq, Pieces):
        return imp.piece(seq, int(index))
    if isinstance(seq, (list, tuple, dict)):
        return seq[index]
    if isinstance(seq, TV) and isinstance(index, tuple) and None in index:
        return index_unsqueezed(imp, batched(seq), index, result)
    if isinstance(seq, TV):
        return slice_index(imp, batched(seq), index)
    raise Unsupported("indexing")


def index_unsqueezed(imp: GraphWalker, x: TV, index: tuple, result: Any) -> TV:
    """x[:, :, None] (SAM's `rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]`): the index
    without its Nones, then a view with their dims of size 1, the batch kept first."""
    if index[0] is None or x.batch:
        raise Unsupported("indexing with None before the batch dimension")
    y = slice_index(imp, x, tuple(i for i in index if i is not None))
    if y.batch:
        raise Unsupported("indexing with None of a tensor whose batch moved")
    shape = imp.out(result)
    if shape == y.shape:
        return y
    v = imp.emit(Reshape(shape=shape), [TV(y.leaf, y.shape)], shape, base="unsqueeze")
    return TV(v.leaf, shape, folded=y.folded)


def slice_index(imp: GraphWalker, x: TV, index: Any) -> TV:
    """x[:, a:b] (a channel slice: the chunk it is, as before), or any index of slices and ints
    that keeps the batch whole: one Slice per sliced dim, one Select per int (from the last)."""
    if not isinstance(index, tuple):
        index = (index,)
    if index.count(Ellipsis) == 1 and None not in index:  # x[..., :H, :W]: the dims it stands for, whole
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * max(torch_rank(x) + 1 - len(index), 0) + index[k + 1:]
    if Ellipsis in index or None in index or len(index) > torch_rank(x) \
            or (len(index) > x.batch and index[x.batch] != slice(None)):
        raise Unsupported("indexing of the batch dimension, or with ... or None")
    rest = [i for t, i in enumerate(index) if t != x.batch or x.folded]  # by per-sample dim
    if x.batch == 0 and not x.folded and len(x.shape) == 3 and rest and isinstance(rest[0], slice) and rest[0].step in (None, 1) \
            and all(i == slice(None) for i in rest[1:]):
        start, stop, _ = rest[0].indices(x.shape[0])
        try:
            return channel_slice(imp, x, start, stop)
        except Unsupported:
            pass
    v, shape, batch = TV(x.leaf, x.shape), list(x.shape), x.batch
    for d in range(len(rest) - 1, -1, -1):  # from the last dim: the earlier dims keep their numbers
        i = rest[d]
        if isinstance(i, slice):
            if i == slice(None):
                continue
            start, stop, step = i.indices(shape[d])
            if step < 1 or stop <= start:
                raise Unsupported(f"slice {i} of dim {d}")
            shape[d] = len(range(start, stop, step))
            v = imp.emit(Slice(dim=d, start=start, stop=stop, step=step), [v], tuple(shape), base="slice")
        elif isinstance(i, int) and not isinstance(i, bool):
            if len(shape) < 2:
                raise Unsupported("indexing a vector to one number per sample")
            del shape[d]
            v = imp.emit(Select(dim=d, index=i), [v], tuple(shape), base="select")
            batch -= d < batch  # a dim before the batch went away
        else:
            raise Unsupported(f"indexing with a {type(i).__name__}")
    return TV(v.leaf, tuple(shape), batch=batch, folded=x.folded)


def batched(v: Any) -> TV:
    """v as a plain tensor whose batch may sit anywhere (the handlers that follow it)."""
    if not isinstance(v, TV) or v.scale is not None or v.form != "std":
        raise Unsupported("reads a non-tensor, a scaled tensor or a view in progress")
    return v


def cat(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    items = arg(args, kwargs, 0, "tensors")
    dim = arg(args, kwargs, 1, "dim", None)
    if dim is None:
        dim = kwargs.get("axis", 0)
    items = list(items) if isinstance(items, (list, tuple)) else [items]
    if len(items) == 2 and isinstance(items[0], PV) and isinstance(items[1], TV):
        return tokens(imp, items[0], imp.tensor(items[1]), dim)
    flat: list[TV] = []
    for item in items:
        if isinstance(item, Pieces):
            flat.extend(imp.piece(item, i) for i in range(item.chunks))
        else:
            flat.append(imp.tensor(item, ("std", "nhwc")))
    if len({v.form for v in flat}) > 1:  # channels-last and plain tensors: the channels-last ones as views
        flat = [imp.tensor(v) for v in flat]
    if not any(v.folded for v in flat) and tuple(result.shape[:1]) != (BATCH,):
        if isinstance(dim, int) and dim % torch_rank(flat[0]) == flat[0].batch == 0 and len(flat) > 1:
            return batch_cat(imp, flat, result)
        raise Unsupported(f"a result of shape {tuple(result.shape)}: its first dimension is not the batch "
                          "(it merges the batch dimension, or is made without it)")
    if any(v.folded for v in flat):
        if not all(v.folded and len(v.shape) == len(flat[0].shape) and v.shape[0] == flat[0].shape[0] for v in flat):
            raise Unsupported("concatenation of tensors whose batches are folded differently")
        layer = ConcatMerge(dim=sample_dim(flat[0], dim, "concatenation"))
        return imp.emit(layer, flat, layer.merge_shape(tuple(v.shape for v in flat)))
    return concat(imp, flat, dim)


def tokens(imp: GraphWalker, p: PV, x: TV, dim: int) -> TV:
    """torch.cat((token.expand(N, -1, -1), x), 1): learnable tokens before a sequence."""
    t = tuple(p.tensor.shape)
    if sample_dim(x, dim, "tokens") != 0 or len(t) != len(x.shape) + 1 or t[0] != 1 or t[2:] != x.shape[1:] \
            or p.shape[:1] != (BATCH,) or not params_of(p):
        raise Unsupported(f"concatenation of a {'x'.join(map(str, t))} parameter with a tensor")
    return imp.emit(Tokens(count=t[1]), [x], (x.shape[0] + t[1], *x.shape[1:]), base=p.path.rpartition(".")[2],
                    params=params_of(p))


def stack(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.stack(tensors, dim) along a new per-sample dim."""
    items = arg(args, kwargs, 0, "tensors")
    xs = [imp.tensor(v) for v in items]
    if len({(v.folded, v.shape) for v in xs}) > 1:
        raise Unsupported("stack of tensors whose batches are folded differently")
    rank = torch_rank(xs[0]) + 1  # and the new dim
    dim = arg(args, kwargs, 1, "dim", 0)
    if not -rank <= dim < rank:
        raise Unsupported(f"stack along dim {dim} (out of range)")
    if dim % rank == 0 and not xs[0].folded:
        # before the batch (crossvit's heads, torch.stack(logits)): (k, N, ...), the batch at dim 1
        if any(x.batch for x in xs):
            raise Unsupported("stack along dim 0 of tensors whose batch is not their first dim")
        layer = Stack(dim=0)
        v = imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="stack")
        return dataclasses.replace(v, batch=1)
    if any(x.batch for x in xs) or dim % rank == 0:
        raise Unsupported(f"stack along dim {dim} (the batch, or of tensors whose batch moved)")
    layer = Stack(dim=dim % rank - (not xs[0].folded))
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="stack")


stack.batch_anywhere = True  # type: ignore[attr-defined]  # (k, N, ...) along dim 0


# The handlers that read or make a tensor whose batch is not its first dim (see `TV.batch`).
for _handler in (permute, transpose, unbind, getitem, contiguous, view, flatten, m_flatten, cat):
    _handler.batch_anywhere = True  # type: ignore[union-attr]
