"""Element-wise math functions of one tensor: `torch.sqrt`, `torch.rsqrt`, `torch.exp`,
`torch.log`, `torch.reciprocal`, `torch.abs`, `torch.neg` (a norm written out, as timm's
RmsNorm2d's `x * torch.rsqrt(mean(x ** 2) + eps)`). No params, no MACs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape
from .base import Layer, register

# What autograd saves for each (measured, torch 2.13 CPU): the output (sqrt, rsqrt, exp,
# reciprocal), the input (log, abs), or nothing (neg).
SAVES = {"sqrt": "output", "rsqrt": "output", "exp": "output", "reciprocal": "output", "log": "input",
         "abs": "input", "neg": None}


@register("unary")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Unary(Layer):
    """`op`(x) element-wise: sqrt, rsqrt, exp, log, reciprocal, abs or neg. A new tensor; saves
    its output (sqrt, rsqrt, exp, reciprocal), its input (log, abs) or nothing (neg)."""

    elementwise = True

    op: Literal["sqrt", "rsqrt", "exp", "log", "reciprocal", "abs", "neg"]

    def validate(self) -> None:
        self.require(self.op in SAVES, f"op must be one of {', '.join(SAVES)}, got {self.op!r}")

    def out_shape(self, x: Shape) -> Shape:
        return x

    def describe(self) -> str:
        return self.op
