"""Handlers of what moves data without computing: views, flatten, permutes, the channel shuffle's
steps, chunk/split/slice along the channels, indexing and concatenation."""
from __future__ import annotations

from typing import Any

from ...layers import ChannelShuffle
from ...layers.reshape import chunk_sizes
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import channel_slice, chunk_count, concat, permute as lower_permute, view_to
from .values import BATCH, PV, Pieces, arg, dims
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
    return lower_permute(imp, x, dims(tuple(order), len(x.shape) + 1))


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
    if isinstance(x, TV) and x.form in ("std", "grouped", "regrouped"):
        return x
    raise Unsupported("contiguous copy of a permuted tensor")


def alias(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    """A call that returns its input as far as counting goes: x.float(), x.to(...), x.clone()."""
    x = args[0]
    if isinstance(x, TV):
        return x
    raise Unsupported("")


def m_identity(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    return args[0]


def chunk(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    x = imp.tensor(args[0])
    chunks, dim = int(arg(args, kwargs, 1, "chunks")), arg(args, kwargs, 2, "dim", 0)
    if len(x.shape) != 3 or dim % 4 != 1:
        raise Unsupported("chunk along a dimension other than the channels")
    return Pieces(x, chunks, chunk_sizes(x.shape[0], chunks), {})


def split(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    """split along the channels into torch.chunk's sizes (the pieces' sizes: from the trace)."""
    x = imp.tensor(args[0])
    dim = arg(args, kwargs, 2, "dim", 0)
    if len(x.shape) != 3 or dim % 4 != 1:
        raise Unsupported("split along a dimension other than the channels")
    sizes = [int(t.shape[1]) for t in result]
    chunks = chunk_count(x.shape[0], sizes)
    if chunks is None:
        raise Unsupported(f"split into {sizes} channels (only into torch.chunk's sizes)")
    return Pieces(x, chunks, sizes, {})


def getitem(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    seq, index = args[0], args[1]
    if isinstance(seq, Pieces):
        return imp.piece(seq, int(index))
    if isinstance(seq, (list, tuple, dict)):
        return seq[index]
    if isinstance(seq, TV):
        return slice_index(imp, imp.tensor(seq), index)
    raise Unsupported("indexing")


def slice_index(imp: GraphWalker, x: TV, index: Any) -> TV:
    """x[:, a:b] (a channel slice), written as an index."""
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) < 2 or index[0] != slice(None) or any(i != slice(None) for i in index[2:]):
        raise Unsupported("indexing other than a channel slice")
    s = index[1]
    if not isinstance(s, slice) or s.step not in (None, 1):
        raise Unsupported("indexing other than a channel slice")
    start, stop, _ = s.indices(x.shape[0])
    return channel_slice(imp, x, start, stop)


def cat(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    items = arg(args, kwargs, 0, "tensors")
    dim = arg(args, kwargs, 1, "dim", None)
    if dim is None:
        dim = kwargs.get("axis", 0)
    flat: list[TV] = []
    for item in (items if isinstance(items, (list, tuple)) else [items]):
        if isinstance(item, Pieces):
            flat.extend(imp.piece(item, i) for i in range(item.chunks))
        else:
            flat.append(imp.tensor(item, ("std", "nhwc")))
    return concat(imp, flat, dim)
