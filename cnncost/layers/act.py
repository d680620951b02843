"""Element-wise activations. Those PyTorch can run in place take `inplace` (default true, as
torchvision builds them): an in-place activation writes into its input and adds no tensor.

What autograd saves differs by op (measured, docs/memory.md): relu and leaky_relu their output
(in place: the input's storage), relu6, silu and hardswish their input (in place: a copy of it,
taken before it is overwritten), sigmoid and tanh their new output, gelu its input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..shapes import Shape
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


@dataclass(frozen=True, kw_only=True)
class Activation(Layer):
    """Any element-wise activation (the `activation` of an `se` block must be one)."""

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


def save_output(layer: InplaceActivation, x: Tensor, b: StepBuilder) -> Tensor:
    """Output; in place that is the input's storage, shared with whoever saves it next."""
    out = x if layer.inplace else b.like(x)
    b.save(out)
    return out


def save_input(layer: InplaceActivation, x: Tensor, b: StepBuilder) -> Tensor:
    """Input. In place, autograd saves a copy of the input before overwriting it."""
    if layer.inplace:
        b.save(b.like(x))
        return x
    b.save(x)
    return b.like(x)


def save_new_output(x: Tensor, b: StepBuilder) -> Tensor:
    out = b.like(x)
    b.save(out)
    return out


@register("relu")
@dataclass(frozen=True, kw_only=True)
class ReLU(InplaceActivation):
    """max(0, x)."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_output(self, x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.ReLU(inplace=self.inplace)


@register("relu6")
@dataclass(frozen=True, kw_only=True)
class ReLU6(InplaceActivation):
    """min(max(0, x), 6) (MobileNet v2)."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_input(self, x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.ReLU6(inplace=self.inplace)


@register("leaky_relu")
@dataclass(frozen=True, kw_only=True)
class LeakyReLU(InplaceActivation):
    """x if x > 0 else negative_slope * x."""

    negative_slope: float = 0.01

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_output(self, x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.LeakyReLU(self.negative_slope, inplace=self.inplace)


@register("silu")
@dataclass(frozen=True, kw_only=True)
class SiLU(InplaceActivation):
    """x * sigmoid(x), a.k.a. swish (EfficientNet)."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_input(self, x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.SiLU(inplace=self.inplace)


@register("hardswish")
@dataclass(frozen=True, kw_only=True)
class Hardswish(InplaceActivation):
    """x * relu6(x + 3) / 6."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_input(self, x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Hardswish(inplace=self.inplace)


@register("sigmoid")
@dataclass(frozen=True, kw_only=True)
class Sigmoid(Activation):
    """1 / (1 + exp(-x)); always a new tensor."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_new_output(x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Sigmoid()


@register("tanh")
@dataclass(frozen=True, kw_only=True)
class Tanh(Activation):
    """tanh(x); always a new tensor."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_new_output(x, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Tanh()


@register("gelu")
@dataclass(frozen=True, kw_only=True)
class GELU(Activation):
    """x * Phi(x); always a new tensor."""

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        b.save(x)
        return b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.GELU()
