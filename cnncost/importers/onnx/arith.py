"""Handlers of Add, Mul and Div: residuals, gates, layer scale, constant factors and stochastic
depth's random mask."""
from __future__ import annotations

from typing import Any

from ...layers import StochasticDepth
from ..graphbuild import TV, Unsupported
from ..lowering import add as lower_add, layer_scale, multiply, over_constant, times_constant
from .values import Noise, W, scalar
from .walker import OnnxWalker


def add(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    return lower_add(imp, inputs[0], inputs[1])


def mul(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """By stochastic depth's mask, by a constant (pending, for the add that reads it), by a
    per-channel weight (layer scale), or by a tensor (a gate)."""
    a, b = inputs
    if not isinstance(a, TV):
        a, b = b, a
    if not isinstance(a, TV):
        raise Unsupported("multiplication")
    if isinstance(b, Noise):
        x = imp.tensor(a, ("std", "nhwc"))
        if b.keep is None:
            raise Unsupported("multiplication by random noise")
        mode = "row" if b.shape and b.shape[0] == imp.batch and imp.batch > 1 else "batch"
        return imp.emit(StochasticDepth(p=round(1 - b.keep, 12), mode=mode), [x], x.shape, form=x.form)
    value = scalar(b) if not isinstance(b, TV) else None
    if value is not None:
        return times_constant(a, value)
    if isinstance(b, W):
        init = float(b.data.reshape(-1)[0]) if b.data is not None and b.data.size else 1e-6
        return layer_scale(imp, imp.tensor(a, ("std", "nhwc")), b.shape, init, [b])
    if isinstance(b, TV):
        return multiply(imp, imp.tensor(a, ("std", "nhwc")), imp.tensor(b, ("std", "nhwc")))
    raise Unsupported("multiplication")


def div(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    a, b = inputs
    value = scalar(b)
    if isinstance(a, TV) and value:
        return over_constant(a, value)
    raise Unsupported("division")
