"""Fully connected layers and the shape-only ops around them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..shapes import Shape, numel
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


@register("flatten")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Flatten(Layer):
    """CxHxW -> (C*H*W,): a view, no new tensor."""

    def creates_tensor(self) -> bool:
        return False

    def out_shape(self, x: Shape) -> Shape:
        return (numel(x),)

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """A view of its input: same storage, nothing saved (where PyTorch cannot view it flat, a
        crop or a channels-last map, it copies: `StepBuilder.reshape`)."""
        return b.reshape(x, y, xs)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Flatten()


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

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """A mask: bool from CUDA's fused kernel (out of place, 0 < p < 1); elsewhere (CPU, in
        place) a scaled noise tensor in the input's dtype. p = 1 multiplies by a 0-d zero: that
        scalar is saved (one element, on both devices: the fused kernel needs p < 1). p = 0
        returns the input itself."""
        if self.p == 0:
            return x
        if self.p == 1:
            b.save(b.new(0, x.dtype, fixed=1))
        else:
            fused = b.precision.device == "cuda" and not self.inplace
            b.save(b.like(x, dtype="bool" if fused else None))
        return x if self.inplace else b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Dropout(self.p, inplace=self.inplace)


@register("linear")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Linear(Layer):
    """Fully connected layer on a flat vector. params = in*out (+out); MACs = in*out."""

    matmul_like = True

    out: int
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(out=self.out)

    def out_shape(self, x: Shape) -> Shape:
        if len(x) != 1:
            self.fail("needs a flat vector; put a flatten layer before it", x)
        return (self.out,)

    def params(self, x: Shape) -> int:
        return x[0] * self.out + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        return x[0] * self.out

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        from .conv import save_matmul
        return save_matmul(self, x, xs, y, b, addmm=True)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Linear(x[0], self.out, bias=self.bias)
