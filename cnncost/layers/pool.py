"""Pooling: windowed max/avg, adaptive average and max, global average."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, at_least, pair, window
from .base import Layer, register
from .conv import IntOrPair, describe_window


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class _WindowPool(Layer):
    """A max or average pool; stride defaults to the kernel, as in PyTorch. No params, no MACs."""

    kernel: IntOrPair
    stride: IntOrPair | None = None
    padding: IntOrPair = 0
    ceil_mode: bool = False

    def validate(self) -> None:
        self.require_positive(kernel=self.kernel, stride=self.effective_stride)
        kernel, padding = pair(self.kernel), pair(self.padding)
        self.require(all(0 <= p <= k // 2 for p, k in zip(padding, kernel)),
                     f"padding {self.padding!r} must be between 0 and half the kernel (PyTorch's rule)")

    @property
    def effective_stride(self) -> IntOrPair:
        return self.kernel if self.stride is None else self.stride

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        kernel, stride, padding = pair(self.kernel), pair(self.effective_stride), pair(self.padding)
        h = window(x[1], kernel[0], stride[0], padding[0], padding[0], 1, self.ceil_mode)
        w = window(x[2], kernel[1], stride[1], padding[1], padding[1], 1, self.ceil_mode)
        if not at_least(1, h, w):
            self.fail(f"kernel {kernel[0]}x{kernel[1]} is larger than its padded input", x)
        return (x[0], h, w)

    def describe(self) -> str:
        return describe_window(self.kernel, self.effective_stride, self.padding,
                               extra="ceil" if self.ceil_mode else "")


@register("maxpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class MaxPool(_WindowPool):
    """Max pooling (`nn.MaxPool2d`)."""


@register("avgpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class AvgPool(_WindowPool):
    """Average pooling (`nn.AvgPool2d`); `count_include_pad` changes values, not counts."""

    count_include_pad: bool = True


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class _AdaptivePool(Layer):
    """Pooling to a fixed output size, whatever the input's; no params, no MACs."""

    output: IntOrPair

    def validate(self) -> None:
        self.require_positive(output=self.output)

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        return (x[0], *pair(self.output))

    def describe(self) -> str:
        oh, ow = pair(self.output)
        return f"-> {oh}x{ow}"


@register("adaptive_avgpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class AdaptiveAvgPool(_AdaptivePool):
    """Adaptive average pooling to a fixed output size (`nn.AdaptiveAvgPool2d`)."""


@register("adaptive_maxpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class AdaptiveMaxPool(_AdaptivePool):
    """Adaptive max pooling to a fixed output size (`nn.AdaptiveMaxPool2d`)."""


@register("global_avgpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GlobalAvgPool(Layer):
    """Average over all of H and W: CxHxW -> Cx1x1 (`nn.AdaptiveAvgPool2d(1)`)."""

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        return (x[0], 1, 1)

    def describe(self) -> str:
        return "global"
