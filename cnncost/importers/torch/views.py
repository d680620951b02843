"""Handlers of what moves data without computing: views, flatten, permutes, the channel shuffle's
steps, chunk/split/slice along the channels, indexing and concatenation."""
from __future__ import annotations

from typing import Any

from ...layers import ChannelShuffle, Contiguous, Permute, Select, Slice, Stack, Tokens
from ...layers.reshape import chunk_sizes
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import channel_slice, chunk_count, concat, permute as lower_permute, view_to
from .values import BATCH, PV, Pieces, arg, dims, params_of
from .walker import GraphWalker


def flatten(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    start = arg(args, kwargs, 1, "start_dim", 0)
    if start == 0 and not (isinstance(args[0], TV) and args[0].form == "grouped_t"):
        raise Unsupported("flatten of the batch dimension")
    return view_to(imp, args[0], imp.out(result), "flatten")


def m_flatten(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if m.start_dim == 0:
        raise Unsupported("flatten of the batch dimension")
    return view_to(imp, args[0], imp.out(result), "flatten")


def view(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    if isinstance(args[0], PV):  # a parameter reshaped to broadcast (timm's gamma.reshape(1, -1, 1, 1))
        return PV(args[0].path, args[0].tensor, tuple(int(d) for d in result.shape))
    if tuple(result.shape[:1]) != (BATCH,):
        raise Unsupported("a view that merges the batch dimension")
    x = args[0]
    if isinstance(x, TV) and x.form == "std" and numel(x.shape) * BATCH != result.numel():  # merged rows before
        raise Unsupported("a view that splits the batch dimension back out of merged rows")
    return view_to(imp, args[0], imp.out(result), "view")


def permute(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    if not isinstance(x, TV):
        raise Unsupported("permute of a non-tensor")
    order = tuple(args[1:]) if len(args) > 2 else arg(args, kwargs, 1, "dims")
    perm = dims(tuple(order), len(x.shape) + 1)
    try:
        return lower_permute(imp, x, perm)
    except Unsupported:
        if x.form == "std" or x.scale is not None:
            raise
        return lower_permute(imp, imp.tensor(x), perm)  # a view in progress, made plain first (detection heads)


def transpose(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """A swap of two dimensions: the permutation that swaps them."""
    x = args[0]
    if not isinstance(x, TV):
        raise Unsupported("transpose of a non-tensor")
    a, b = dims((arg(args, kwargs, 1, "dim0"), arg(args, kwargs, 2, "dim1")), len(x.shape) + 1)
    order = list(range(len(x.shape) + 1))
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
        if leaf is not None and isinstance(leaf.layer, (Permute, Slice, Select)):  # maybe a copy: the layer says
            v = imp.emit(Contiguous(), [TV(x.leaf, x.shape)], x.shape, base="contiguous")
            return TV(v.leaf, x.shape, batch=x.batch)
    if isinstance(x, TV) and x.form in ("std", "grouped", "regrouped"):
        return x
    raise Unsupported("contiguous copy of a permuted tensor")


def alias(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    """A call that returns its input as far as counting goes: x.float(), x.to(...), x.clone()."""
    x = args[0]
    if isinstance(x, TV):
        return x
    if isinstance(x, PV) and hasattr(result, "shape"):  # a parameter expanded over the batch (a class token)
        return PV(x.path, x.tensor, tuple(int(d) for d in result.shape))
    raise Unsupported("")


def m_identity(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    return args[0]


def sample_dim(x: TV, dim: Any, what: str) -> int:
    """torch's `dim` (counting the batch, at `x.batch`) as a per-sample dim, else Unsupported."""
    rank = len(x.shape) + 1
    if not isinstance(dim, int) or not -rank <= dim < rank or dim % rank == x.batch:
        raise Unsupported(f"{what} along dim {dim} (the batch, or out of range)")
    return dim % rank - (dim % rank > x.batch)


def chunk(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    x = imp.tensor(args[0])
    chunks, d = int(arg(args, kwargs, 1, "chunks")), sample_dim(x, arg(args, kwargs, 2, "dim", 0), "chunk")
    return Pieces(x, chunks, chunk_sizes(x.shape[d], chunks), {}, d)


def split(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    """split along one dim: torch.chunk's sizes where they are (a Chunk), else a Split (the
    pieces' sizes: from the trace)."""
    x = imp.tensor(args[0])
    d = sample_dim(x, arg(args, kwargs, 2, "dim", 0), "split")
    sizes = [int(t.shape[d + 1]) for t in result]
    chunks = chunk_count(x.shape[d], sizes)
    if chunks is None:
        return Pieces(x, len(sizes), sizes, {}, d, split=True)
    return Pieces(x, chunks, sizes, {}, d)


def unbind(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
    """x.unbind(dim): one Select per piece."""
    x = batched(args[0])
    d = sample_dim(x, arg(args, kwargs, 1, "dim", 0), "unbind")
    index = [slice(None)] * (len(x.shape) + 1)
    return tuple(slice_index(imp, x, (*index[:d + (d >= x.batch)], i)) for i in range(x.shape[d]))


def getitem(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    seq, index = args[0], args[1]
    if isinstance(seq, Pieces):
        return imp.piece(seq, int(index))
    if isinstance(seq, (list, tuple, dict)):
        return seq[index]
    if isinstance(seq, TV):
        return slice_index(imp, batched(seq), index)
    raise Unsupported("indexing")


def slice_index(imp: GraphWalker, x: TV, index: Any) -> TV:
    """x[:, a:b] (a channel slice: the chunk it is, as before), or any index of slices and ints
    that keeps the batch whole: one Slice per sliced dim, one Select per int (from the last)."""
    if not isinstance(index, tuple):
        index = (index,)
    if index.count(Ellipsis) == 1 and None not in index:  # x[..., :H, :W]: the dims it stands for, whole
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * max(len(x.shape) + 2 - len(index), 0) + index[k + 1:]
    if Ellipsis in index or None in index or len(index) > len(x.shape) + 1 \
            or (len(index) > x.batch and index[x.batch] != slice(None)):
        raise Unsupported("indexing of the batch dimension, or with ... or None")
    rest = [i for t, i in enumerate(index) if t != x.batch]  # by per-sample dim
    if x.batch == 0 and len(x.shape) == 3 and rest and isinstance(rest[0], slice) and rest[0].step in (None, 1) \
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
    return TV(v.leaf, tuple(shape), batch=batch)


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
    rank = len(xs[0].shape) + 2  # the batch and the new dim
    dim = arg(args, kwargs, 1, "dim", 0)
    if not -rank <= dim < rank or dim % rank == 0:
        raise Unsupported(f"stack along dim {dim} (the batch, or out of range)")
    layer = Stack(dim=dim % rank - 1)
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="stack")


# The handlers that read or make a tensor whose batch is not its first dim (see `TV.batch`).
for _handler in (permute, transpose, unbind, getitem, contiguous):
    _handler.batch_anywhere = True  # type: ignore[attr-defined]
