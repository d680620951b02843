"""Handlers of the pools and of ReduceMean over H and W."""
from __future__ import annotations

from typing import Any, Literal

from ...layers import AdaptiveAvgPool, AdaptiveMaxPool, GlobalAvgPool, Reduce
from ..graphbuild import TV, Unsupported
from ..lowering import avg_pool, max_pool, spatial_mean
from .values import W, ints, window
from .walker import OnnxWalker


def maxpool(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp.tensor(inputs[0])
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("max pool returning indices")
    kernel = tuple(attrs["kernel_shape"])
    if set(attrs.get("dilations", (1,))) != {1}:
        raise Unsupported("dilated max pool")
    return [max_pool(imp, x, kernel, ceil=bool(attrs.get("ceil_mode", 0)), **window(attrs, len(kernel)))]


def avgpool(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    kernel = tuple(attrs["kernel_shape"])
    return avg_pool(imp, x, kernel, ceil=bool(attrs.get("ceil_mode", 0)),
                    include_pad=bool(attrs.get("count_include_pad", 0)), **window(attrs, len(kernel)))


def global_avg(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    if len(x.shape) == 3:
        return imp.emit(GlobalAvgPool(), [x], (x.shape[0], 1, 1))
    if len(x.shape) < 2:
        raise Unsupported("global pool of a vector")
    return imp.emit(AdaptiveAvgPool(output=1), [x], (x.shape[0],) + (1,) * (len(x.shape) - 1))


def global_max(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    if len(x.shape) < 2:
        raise Unsupported("global pool of a vector")
    return imp.emit(AdaptiveMaxPool(output=1), [x], (x.shape[0],) + (1,) * (len(x.shape) - 1))


def _axes(inputs: list[Any], attrs: dict) -> tuple[int, ...] | None:
    """A reduction's axes: an attribute, or an input from opset 18 (ReduceSum: 13)."""
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    return None if axes is None else tuple(int(a) for a in axes)


def reduce_mean(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """ReduceMean over H and W of a map (a global average pool, as before), else a Reduce."""
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    axes = _axes(inputs, attrs)
    try:
        return spatial_mean(imp, x, axes, bool(attrs.get("keepdims", 1)))
    except Unsupported:
        return _reduce(imp, "mean", x, axes, attrs)


def reduction(op: Literal["sum", "mean", "amax", "amin", "norm", "var", "max"], p: float = 2.0) -> Any:
    """ReduceSum (sum), ReduceMax (amax), ReduceMin (amin), ReduceL2 (norm, p = 2), ReduceL1 (norm, p = 1)."""
    def handle(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
        return _reduce(imp, op, imp.tensor(inputs[0]), _axes(inputs, attrs), attrs, p)
    return handle


def _reduce(imp: OnnxWalker, op: Literal["sum", "mean", "amax", "amin", "norm", "var", "max"], x: TV, axes: tuple[int, ...] | None, attrs: dict, p: float = 2.0) -> TV:
    x = imp.tensor(x)
    rank = len(x.shape) + 1
    if not axes:
        raise Unsupported(f"{op} over every dimension, the batch's included")
    if any(not -rank <= a < rank or a % rank == 0 for a in axes):
        raise Unsupported(f"{op} over axes {list(axes)} (the batch, or out of range)")
    dims = tuple(a % rank - 1 for a in axes)
    keep = bool(attrs.get("keepdims", 1))
    shape = tuple(1 if d in dims else s for d, s in enumerate(x.shape)) if keep else \
        tuple(s for d, s in enumerate(x.shape) if d not in dims)
    return imp.emit(Reduce(op=op, dims=dims, keepdim=keep, p=float(p)), [x], shape, base=op)
