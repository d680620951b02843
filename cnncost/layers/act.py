"""Element-wise activations. Those PyTorch can run in place take `inplace` (default true, as
torchvision builds them): an in-place activation writes into its input and adds no tensor."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape
from .base import Layer, register


@dataclass(frozen=True, kw_only=True)
class Activation(Layer):
    tabulated = False

    def out_shape(self, x: Shape) -> Shape:
        return x


@dataclass(frozen=True, kw_only=True)
class InplaceActivation(Activation):
    inplace: bool = True

    def creates_tensor(self) -> bool:
        return not self.inplace

    def describe(self) -> str:
        return "in-place" if self.inplace else ""


@register("relu")
@dataclass(frozen=True, kw_only=True)
class ReLU(InplaceActivation):
    """max(0, x)."""


@register("relu6")
@dataclass(frozen=True, kw_only=True)
class ReLU6(InplaceActivation):
    """min(max(0, x), 6) (MobileNet v2)."""


@register("leaky_relu")
@dataclass(frozen=True, kw_only=True)
class LeakyReLU(InplaceActivation):
    """x if x > 0 else negative_slope * x."""

    negative_slope: float = 0.01


@register("silu")
@dataclass(frozen=True, kw_only=True)
class SiLU(InplaceActivation):
    """x * sigmoid(x), a.k.a. swish (EfficientNet)."""


@register("hardswish")
@dataclass(frozen=True, kw_only=True)
class Hardswish(InplaceActivation):
    """x * relu6(x + 3) / 6."""


@register("sigmoid")
@dataclass(frozen=True, kw_only=True)
class Sigmoid(Activation):
    """1 / (1 + exp(-x)); always a new tensor."""


@register("tanh")
@dataclass(frozen=True, kw_only=True)
class Tanh(Activation):
    """tanh(x); always a new tensor."""


@register("gelu")
@dataclass(frozen=True, kw_only=True)
class GELU(Activation):
    """x * Phi(x); always a new tensor."""
