"""A tensor computed once per forward from parameters, buffers and constants only (no input),
applied to the input: a relative position bias gathered from its table, a gate's sigmoid of a
parameter, biases concatenated with a buffer's zeros, a position embedding resized.

The whole input-independent computation is one row: its parameters (each counted once over the
net), the batch-free tensor c it makes (which broadcasts over the batch, as a position embedding
does), and the bytes it saves for backward, which do not scale with the batch (`saved`: once per
forward, a fixed figure in every total). Its per-sample MACs are 0; the MACs of making c (an MLP
on a coordinates buffer: Swin V2's continuous position bias) are done once per forward whatever
the batch (`macs_once`, the engine's `fixed_macs`), and so is their backward.

Op `weight`: c is the weight of the convolution or linear that reads this row's output (a weight
standardised from parameters, timm's ScaledStdConv2d): x passes through unchanged; that op
counts the parameter of c's shape, this row the others c is made of (a gain), and what making c
saved plus c itself (which the op saves) once per forward.

Op `tensor`: c itself, one tensor for the whole batch (broadcast over it), made once per forward,
for an op that takes it as an operand (BEiT's relative position bias as scaled_dot_product_
attention's mask); x is read for its place only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape, numel, shape_text
from .base import Layer, register
from .merge import broadcast

SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


@register("computed")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Computed(Layer):
    """x op c (c op x with `reverse`), c of per-sample-broadcastable `shape` computed once per
    forward from parameters and buffers (`source` says from what). `expand`: c itself, made at
    the batch's size, every sample the same (a new tensor: `torch.zeros(N, H, W)` then a sine
    encoding; or made from parameters once, then expanded or repeated over the batch), x read for
    its batch size only; c is then the per-sample `shape`.
    `weight`: c is the next op's weight (shape: the weight's), x itself passes. params = `weights` (the
    parameters c is made of that no earlier row counts); `grad`: c needs a gradient (it is made
    of trainable parameters; false where they are frozen, requires_grad off). Saved: x for mul and div where c needs a gradient and for c / x always, and `saved` elements
    (parameters' dtype) once per forward: what making c saved, and c itself where the op saves it
    and nothing saved it before. No per-sample MACs: `macs_once` MACs make c, once per forward
    and backward computes gradients of `input_grad_macs_once` and `weight_grad_macs_once` of them (2
    FLOPs per MAC each). A new tensor."""

    elementwise = True

    op: Literal["add", "sub", "mul", "div", "expand", "weight", "tensor"]
    shape: tuple[int, ...] = ()
    reverse: bool = False
    weights: int = 0
    saved: int = 0
    grad: bool = True
    source: str = ""
    macs_once: int = 0
    input_grad_macs_once: int = 0
    weight_grad_macs_once: int = 0

    def validate(self) -> None:
        self.require(all(d >= 1 for d in self.shape), f"shape must be positive sizes, got {list(self.shape)}")
        self.require(self.weights >= 0 and self.saved >= 0, "weights and saved must not be negative")
        once = (self.macs_once, self.input_grad_macs_once, self.weight_grad_macs_once)
        self.require(min(once) >= 0, "macs_once and the gradients' MACs must not be negative")
        self.require(self.grad or not (self.input_grad_macs_once or self.weight_grad_macs_once),
                     "gradients of making c need c to need a gradient (grad: true)")
        self.require(self.op != "expand" or (bool(self.shape) and not self.reverse),
                     "op expand makes c per sample: it needs a shape and takes no reverse")
        self.require(self.op != "tensor" or (bool(self.shape) and not self.reverse),
                     "op tensor is c itself, made once per forward: it needs a shape and takes no reverse")
        self.require(self.op != "weight" or (bool(self.shape) and not self.reverse and self.grad),
                     "op weight makes the next op's weight from parameters: it needs a shape and grad: true, "
                     "and takes no reverse")

    def out_shape(self, x: Shape) -> Shape:
        if self.op == "expand":
            return self.shape
        if self.op == "weight":  # x passes; c is the next op's weight
            return x
        if self.op == "tensor":  # c itself, the same for every sample
            return self.shape
        self.require(len(self.shape) <= len(x), f"the computed tensor's shape {list(self.shape)} has more dims "
                     f"than the per-sample {shape_text(x)} (its batch dim would broadcast too)", x)
        out = broadcast((x, (1,) * (len(x) - len(self.shape)) + tuple(self.shape)))
        if out is None:
            self.fail(f"the computed tensor's shape {list(self.shape)} does not broadcast against {shape_text(x)}", x)
        return out

    def params(self, x: Shape) -> int:
        return self.weights

    def macs_per_forward(self) -> int:
        return self.macs_once

    def backward_per_forward(self, trains: bool) -> int:
        return 2 * (self.input_grad_macs_once + self.weight_grad_macs_once) if trains else 0

    def elements(self) -> int:
        return numel(self.shape)

    def describe(self) -> str:
        what = "x".join(map(str, self.shape)) if self.shape else "scalar"
        if self.op == "expand":
            return f"{what} per sample" + (f" ({self.source})" if self.source else "")
        if self.op == "tensor":
            return f"{what} made once" + (f" ({self.source})" if self.source else "")
        if self.op == "weight":
            return f"weight {what} made" + (f" ({self.source})" if self.source else "")
        text = f"{what} {SYMBOLS[self.op]} x" if self.reverse else f"x {SYMBOLS[self.op]} {what}"
        return text + (f" ({self.source})" if self.source else "")
