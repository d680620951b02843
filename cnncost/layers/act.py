"""Element-wise activations (and softmax and identity, which an `se` block may also use). Those
PyTorch can run in place take `inplace`: relu, relu6, leaky_relu, silu and hardswish default to
true, as torchvision builds them; hardsigmoid, hardtanh and mish default to false (PyTorch's
default, and how torchvision builds MobileNetV3's hardsigmoid gate). An in-place activation writes
into its input and adds no tensor.

What autograd saves for each is its memory rule (`cnncost.memory.rules`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape
from .base import Layer, register


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Activation(Layer):
    """Any element-wise activation (the `activation` of an `se` block must be one)."""

    elementwise = True

    tabulated = False

    def out_shape(self, x: Shape) -> Shape:
        return x


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class InplaceActivation(Activation):
    inplace: bool = True

    def creates_tensor(self) -> bool:
        return not self.inplace

    def describe(self) -> str:
        return "in-place" if self.inplace else ""


def _number(value: float) -> str:
    """A bound for display; an int too large for a float is shown by its size, not converted."""
    try:
        return f"{float(value):g}"
    except OverflowError:
        return f"an integer of {len(str(abs(value)))} digits" if abs(value) < 10**4000 else "a huge integer"


@register("relu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ReLU(InplaceActivation):
    """max(0, x)."""


@register("relu6")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ReLU6(InplaceActivation):
    """min(max(0, x), 6) (MobileNet v2)."""


@register("leaky_relu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LeakyReLU(InplaceActivation):
    """x if x > 0 else negative_slope * x."""

    negative_slope: float = 0.01


@register("silu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class SiLU(InplaceActivation):
    """x * sigmoid(x), a.k.a. swish (EfficientNet)."""


@register("hardswish")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Hardswish(InplaceActivation):
    """x * relu6(x + 3) / 6."""


@register("sigmoid")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Sigmoid(Activation):
    """1 / (1 + exp(-x)); always a new tensor."""


@register("tanh")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Tanh(Activation):
    """tanh(x); always a new tensor."""


@register("gelu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GELU(Activation):
    """x * Phi(x); always a new tensor."""


@register("hardsigmoid")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Hardsigmoid(InplaceActivation):
    """relu6(x + 3) / 6 (MobileNetV3's SE gate: `se` with `gate: hardsigmoid`)."""

    inplace: bool = False


@register("hardtanh")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Hardtanh(InplaceActivation):
    """x clamped to [min_val, max_val] (relu6 is hardtanh(0, 6))."""

    min_val: float = -1.0
    max_val: float = 1.0
    inplace: bool = False

    def validate(self) -> None:
        self.require(self.max_val > self.min_val,
                     f"max_val must be greater than min_val, got {_number(self.min_val)} and {_number(self.max_val)}")

    def describe(self) -> str:
        return " ".join(part for part in (f"[{_number(self.min_val)}, {_number(self.max_val)}]", super().describe())
                        if part)


@register("mish")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Mish(InplaceActivation):
    """x * tanh(softplus(x))."""

    inplace: bool = False


@register("softmax")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Softmax(Activation):
    """exp(x) / sum over channels of exp(x), at each position (`nn.Softmax(dim=1)`); a new tensor."""

    def describe(self) -> str:
        return "over channels"


@register("identity")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Identity(Activation):
    """x itself: no tensor, nothing saved (a placeholder, or an `se` without activation)."""

    def creates_tensor(self) -> bool:
        return False
