"""Fully connected layers and the shape-only ops around them."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, numel, shape_text
from .base import Layer, register
from .strides import Layout
from .tensor import View, dim_in, reshape_layout


@register("flatten")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Flatten(View):
    """Per-sample dims `start_dim`..`end_dim` merged into one (`x.flatten(start + 1, end + 1)`;
    by default all: CxHxW -> (C*H*W,)). A view where PyTorch can make one, a copy (a new tensor)
    where the input's strides do not allow it (`layers/strides.py`)."""

    start_dim: int = 0
    end_dim: int = -1

    def dims(self, x: Shape) -> tuple[int, int]:
        first, last = dim_in(self, self.start_dim, x), dim_in(self, self.end_dim, x)
        self.require(first <= last, f"start_dim {self.start_dim} comes after end_dim {self.end_dim} "
                     f"in {shape_text(x)}", x)
        return first, last

    def out_shape(self, x: Shape) -> Shape:
        if self.start_dim == 0 and self.end_dim == -1:
            return (numel(x),)
        first, last = self.dims(x)
        return (*x[:first], numel(x[first:last + 1]), *x[last + 1:])

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout | None:
        return reshape_layout(x, y, layout)

    def describe(self) -> str:
        return "" if (self.start_dim, self.end_dim) == (0, -1) else f"dims {self.start_dim}..{self.end_dim}"


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
