"""Fully connected layers and the shape-only ops around them."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, numel
from .base import Layer, register


@register("flatten")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Flatten(Layer):
    """CxHxW -> (C*H*W,): a view, no new tensor."""

    def creates_tensor(self) -> bool:
        return False

    def out_shape(self, x: Shape) -> Shape:
        return (numel(x),)


@register("dropout")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Dropout(Layer):
    """Zeroes elements with probability p while training: a new tensor unless in place."""

    elementwise = True

    tabulated = False
    p: float = 0.5
    inplace: bool = False

    def validate(self) -> None:
        self.require(0 <= self.p <= 1, f"p must be in [0, 1], got {self.p}")

    def creates_tensor(self) -> bool:
        return not self.inplace and self.p != 0

    def out_shape(self, x: Shape) -> Shape:
        return x

    def describe(self) -> str:
        return f"p={self.p:g}"


@register("linear")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Linear(Layer):
    """Fully connected layer on the last dim (`nn.Linear`): a flat vector, or tokens (..., L, D)
    -> (..., L, out). params = in*out (+out); MACs = in*out per position (every leading element)."""

    matmul_like = True

    out: int
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(out=self.out)

    def out_shape(self, x: Shape) -> Shape:
        return x[:-1] + (self.out,)

    def params(self, x: Shape) -> int:
        return x[-1] * self.out + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        return numel(x) * self.out
