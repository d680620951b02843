"""Handlers of the pools and of ReduceMean over H and W."""
from __future__ import annotations

from typing import Any

from ...layers import AdaptiveMaxPool, GlobalAvgPool
from ..graphbuild import TV, Unsupported
from ..lowering import avg_pool, max_pool, spatial_mean
from .values import W, ints, window
from .walker import OnnxWalker


def maxpool(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp.tensor(inputs[0])
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("max pool returning indices")
    kernel = tuple(attrs["kernel_shape"])
    if tuple(attrs.get("dilations", (1, 1))) != (1, 1):
        raise Unsupported("dilated max pool")
    return [max_pool(imp, x, kernel, ceil=bool(attrs.get("ceil_mode", 0)), **window(attrs))]


def avgpool(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    kernel = tuple(attrs["kernel_shape"])
    return avg_pool(imp, x, kernel, ceil=bool(attrs.get("ceil_mode", 0)),
                    include_pad=bool(attrs.get("count_include_pad", 0)), **window(attrs))


def global_avg(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    return imp.emit(GlobalAvgPool(), [x], (x.shape[0], 1, 1))


def global_max(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    return imp.emit(AdaptiveMaxPool(output=1), [x], (x.shape[0], 1, 1))


def reduce_mean(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """ReduceMean over H and W (axes: an attribute, or an input from opset 18)."""
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    return spatial_mean(imp, x, axes, bool(attrs.get("keepdims", 1)))
