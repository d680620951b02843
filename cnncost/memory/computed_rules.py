"""The memory rule of `computed` (layers/computed.py): x op c, c made once per forward from
parameters and buffers. What making c saved does not scale with the batch: a fixed tensor."""
from __future__ import annotations

from typing import Any

from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor, promote


def computed(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x * c and x / c save x where c needs a gradient (c's gradient reads x), c / x always (x's
    own gradient reads it); the
    `saved` elements (c's making, and c where the op saves it first) are kept once per forward, in
    the parameters' dtype (autocast leaves these ops alone). The output is promoted with c.
    `expand`: c made at the batch's size, a new per-sample tensor; what making it saved, once. `weight`: x
    itself; what making c saved, and c, which the next op (conv, linear) saves: in the
    parameters' dtype (under autocast the op saves its own low cast of c: `save_matmul`), once
    per forward. `tensor`: c, a fixed tensor (not per
    sample), and what making it saved."""
    if layer.op == "tensor":  # c itself, once per forward, whatever the batch
        if layer.saved:
            b.step.saved.append(b.new(0, b.precision.param_dtype, fixed=layer.saved))
        out = b.new(0, b.precision.param_dtype, fixed=numel(layer.shape))
        out.requires_grad = layer.grad
        return out
    if layer.op == "weight":
        # saved whether or not x needs a gradient: c is made of parameters (b.save would skip it)
        precision = b.precision
        b.step.saved.append(b.new(0, precision.param_dtype, fixed=layer.saved + numel(layer.shape) * (not precision.autocast)))
        b.made_weight = x.view(x.shown, x.layout, x.strides)  # under autocast the op saves its low cast of c
        return b.made_weight
    if layer.op == "expand":  # c made per sample; what making it saved, once per forward
        if layer.saved:
            b.step.saved.append(b.new(0, b.precision.param_dtype, fixed=layer.saved))
        out = b.new(numel(y), b.precision.param_dtype)
        out.requires_grad = layer.grad
        return out
    if saves_x(layer):
        b.save(x)
    if layer.saved:
        b.save(b.new(0, b.precision.param_dtype, fixed=layer.saved))
    return b.new(numel(y), promote(x.dtype, b.precision.param_dtype) if layer.shape else x.dtype)


def saves_x(layer: Any) -> bool:
    """Whether autograd keeps x (torch's derivatives.yaml: mul saves self for other's gradient;
    div saves other for both gradients and self for other's)."""
    return (layer.op in ("mul", "div") and layer.grad) or (layer.op == "div" and layer.reverse)
