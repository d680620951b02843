"""Element-wise activations (and softmax and identity, which an `se` block may also use). Those
PyTorch can run in place take `inplace`: relu, relu6, leaky_relu, silu and hardswish default to
true, as torchvision builds them; hardsigmoid, hardtanh and mish default to false (PyTorch's
default, and how torchvision builds MobileNetV3's hardsigmoid gate). An in-place activation writes
into its input and adds no tensor.

What autograd saves for each is its memory rule (`cnncost.memory.rules`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, same_sizes, shape_text
from .base import Layer, register


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
class ReLU(InplaceActivation):
    """max(0, x)."""


@register("relu6")
class ReLU6(InplaceActivation):
    """min(max(0, x), 6) (MobileNet v2)."""


@register("leaky_relu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LeakyReLU(InplaceActivation):
    """x if x > 0 else negative_slope * x."""

    negative_slope: float = 0.01


@register("silu")
class SiLU(InplaceActivation):
    """x * sigmoid(x), a.k.a. swish (EfficientNet)."""


@register("hardswish")
class Hardswish(InplaceActivation):
    """x * relu6(x + 3) / 6."""


@register("sigmoid")
class Sigmoid(Activation):
    """1 / (1 + exp(-x)); always a new tensor."""


@register("tanh")
class Tanh(Activation):
    """tanh(x); always a new tensor."""


@register("gelu")
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


def normalised_dim(layer: Layer, dim: int, x: Shape) -> int:
    """A per-sample dim (negative counts from the end) as an index into `x`; out of range refused."""
    layer.require(-len(x) <= dim < len(x), f"dim {dim} is out of range for shape {shape_text(x)}", x)
    return dim % len(x)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class DimActivation(Activation):
    """An activation along one per-sample dim (softmax and its kin): dim 0 is the first dim after
    the batch (a map's channels), negative dims count from the end."""

    dim: int = 0

    def out_shape(self, x: Shape) -> Shape:
        normalised_dim(self, self.dim, x)
        return x

    def describe(self) -> str:
        return "over channels" if self.dim == 0 else f"dim {self.dim}"


class SoftmaxLike(DimActivation):
    """softmax and its kin: PyTorch's kernel makes its input contiguous first, so the new tensor is
    contiguous whatever its input's strides (measured, torch 2.13 and 2.14.1 CPU), not in their
    order as an element-wise op writes it."""

    def new_layout(self, xs: tuple[Shape, ...], layouts: list, y: Shape) -> None:
        return None


@register("softmax")
class Softmax(SoftmaxLike):
    """exp(x) / sum of exp(x) along `dim` (default 0: over channels at each position,
    `nn.Softmax(dim=1)`); a new tensor."""


@register("identity")
class Identity(Activation):
    """x itself: no tensor, nothing saved (a placeholder, or an `se` without activation)."""

    def creates_tensor(self) -> bool:
        return False


# --- the rest of torch.nn's activations (defaults as torch.nn's; in place where torch.nn offers it) ---

@register("elu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ELU(InplaceActivation):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    alpha: float = 1.0
    inplace: bool = False


@register("selu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class SELU(InplaceActivation):
    """scale * elu(x, alpha) with SELU's fixed constants."""

    inplace: bool = False


@register("celu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class CELU(InplaceActivation):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    alpha: float = 1.0
    inplace: bool = False

    def validate(self) -> None:
        self.require(self.alpha != 0, "alpha must not be 0")


@register("glu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GLU(DimActivation):
    """a * sigmoid(b), a and b the two halves of x along `dim` (default -1, as nn.GLU): that dim halves."""

    dim: int = -1

    def out_shape(self, x: Shape) -> Shape:
        d = normalised_dim(self, self.dim, x)
        self.require(x[d] % 2 == 0, f"dim {self.dim} has odd size {x[d]}: GLU halves it", x)
        return x[:d] + (x[d] // 2,) + x[d + 1:]


@register("softplus")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Softplus(Activation):
    """log(1 + exp(beta x)) / beta (x itself above `threshold`)."""

    beta: float = 1.0
    threshold: float = 20.0


@register("softsign")
class Softsign(Activation):
    """x / (1 + |x|)."""


@register("softshrink")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Softshrink(Activation):
    """x - lambd, x + lambd or 0 as x is above lambd, below -lambd or between."""

    lambd: float = 0.5

    def validate(self) -> None:
        self.require(self.lambd >= 0, f"lambd must be >= 0, got {self.lambd}")


@register("hardshrink")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Hardshrink(Activation):
    """x where |x| > lambd, else 0."""

    lambd: float = 0.5


@register("tanhshrink")
class Tanhshrink(Activation):
    """x - tanh(x)."""


@register("threshold")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Threshold(InplaceActivation):
    """x where x > threshold, else value."""

    threshold: float
    value: float
    inplace: bool = False


@register("log_sigmoid")
class LogSigmoid(Activation):
    """log(1 / (1 + exp(-x)))."""


@register("prelu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class PReLU(Activation):
    """x if x > 0 else a * x, a learnable: one slope (`num_parameters: 1`) or one per channel
    (dim 0 per sample, as nn.PReLU(C) reads dim 1 of the batch). params = num_parameters."""

    num_parameters: int = 1
    init: float = 0.25

    def validate(self) -> None:
        self.require_positive(num_parameters=self.num_parameters)

    def out_shape(self, x: Shape) -> Shape:
        self.require(self.num_parameters == 1 or same_sizes(self.num_parameters, x[0]),
                     f"num_parameters {self.num_parameters} must be 1 or the channels ({x[0]})", x)
        return x

    def params(self, x: Shape) -> int:
        return self.num_parameters


@register("rrelu")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class RReLU(InplaceActivation):
    """x if x > 0 else a * x, a drawn uniformly from [lower, upper] while training."""

    lower: float = 1.0 / 8
    upper: float = 1.0 / 3
    inplace: bool = False

    def validate(self) -> None:
        self.require(self.lower <= self.upper, f"lower must be <= upper, got {self.lower} and {self.upper}")


@register("softmin")
class Softmin(SoftmaxLike):
    """softmax(-x) along `dim`."""


@register("log_softmax")
class LogSoftmax(SoftmaxLike):
    """log(softmax(x)) along `dim`."""
