"""Handlers of what moves data without computing: Reshape, Flatten, Squeeze/Unsqueeze, Transpose,
Concat, Split and Slice along the channels, Shape, Cast, Identity."""
from __future__ import annotations

from typing import Any

from ...layers import Chunk
from ...layers.reshape import chunk_sizes
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import channel_slice, chunk_count, concat as lower_concat, permute, view_to
from .constants import shape_of
from .values import W, constant_ints, ints
from .weighted import group_norm_pattern
from .walker import OnnxWalker


def reshape(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    import numpy as np
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("reshape of a split")
    target = inputs[1]
    if isinstance(target, W):
        target = target.data
    if target is None:
        raise Unsupported("reshape to a computed shape")
    dims = list(ints(target))
    full = [imp.batch, *x.shape]
    allowzero = int(attrs.get("allowzero", 0))
    out = [full[i] if d == 0 and not allowzero else d for i, d in enumerate(dims)]
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = numel(tuple(full)) // known
    if out[0] != imp.batch:
        raise Unsupported(f"reshape to {out}, which moves the batch dimension")
    grouped = group_norm_pattern(imp, node, x, out)
    if grouped is not None:
        return grouped
    return view_to(imp, x, tuple(out[1:]))


def flatten(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    if int(attrs.get("axis", 1)) != 1:
        raise Unsupported("flatten at an axis other than 1")
    return view_to(imp, x, (numel(x.shape),), "flatten")


def squeeze(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Squeeze and Unsqueeze (axes: an attribute, or an input from opset 13): a view."""
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("squeeze of a split")
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    full = [imp.batch, *x.shape]
    if node.op_type == "Squeeze":
        axes = {a % len(full) for a in (axes if axes is not None else [i for i, d in enumerate(full) if d == 1])}
        if 0 in axes:
            raise Unsupported("squeeze of the batch dimension")
        out = [d for i, d in enumerate(full) if i not in axes]
    else:
        out = list(full)
        rank = len(full) + len(axes)
        for a in sorted(a % rank for a in axes):
            out.insert(a, 1)
        if out[0] != imp.batch or a == 0:
            raise Unsupported("unsqueeze before the batch dimension")
    return view_to(imp, x, tuple(out[1:]))


def transpose(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    return permute(imp, inputs[0], tuple(attrs.get("perm", ())))


def concat(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    return lower_concat(imp, [imp.tensor(v, ("std", "nhwc")) for v in inputs], int(attrs.get("axis", 1)))


def split(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    """Split along the channels into torch.chunk's sizes: every piece a Chunk layer."""
    x = imp.tensor(inputs[0])
    axis = int(attrs.get("axis", 0)) % (len(x.shape) + 1)
    if axis != 1 or len(x.shape) != 3:
        raise Unsupported("split along an axis other than the channels")
    sizes = attrs.get("split")
    if sizes is None and len(inputs) > 1 and inputs[1] is not None:
        sizes = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    if sizes is None:
        sizes = chunk_sizes(x.shape[0], len(node.output))
    sizes = list(sizes)
    chunks = chunk_count(x.shape[0], sizes)
    if chunks is None:
        raise Unsupported(f"split into {sizes} channels")
    return [imp.emit(Chunk(chunks=chunks, index=i), [x], (sizes[i], *x.shape[1:]), base="chunk")
            for i in range(len(sizes))]


def slice_channels(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Slice with constant bounds along the channels: a chunk with those edges."""
    import numpy as np
    x = imp.tensor(inputs[0])
    starts, ends, axes, steps = (constant_ints(inputs[i]) if len(inputs) > i else None for i in range(1, 5))
    if starts is None or ends is None:
        raise Unsupported("a slice with computed bounds")
    axes = axes or tuple(range(len(starts)))
    steps = steps or (1,) * len(starts)
    if tuple(a % 4 for a in axes) != (1,) or steps != (1,) or len(x.shape) != 3:
        raise Unsupported("a slice that is not a channel slice")
    bounds = slice(int(np.clip(starts[0], -2**62, 2**62)), int(np.clip(ends[0], -2**62, 2**62)))
    start, stop, _ = bounds.indices(x.shape[0])
    return channel_slice(imp, x, start, stop)


def shape(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> Any:
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("shape of a split")
    return shape_of((imp.batch, *x.shape), attrs)


def passthrough(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> Any:
    """Identity, and Cast of a float tensor (cnncost's dtype is the report's)."""
    return inputs[0]
