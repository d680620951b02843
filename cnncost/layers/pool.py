"""Pooling over maps with 1, 2 or 3 spatial dims: windowed max/avg, adaptive average and max,
global average (PyTorch's *1d/2d/3d modules, from the input's rank)."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, at_least, holds, sizes_text, spatial, window
from .base import Layer, register
from .conv import Sizes, describe_rank, describe_window, field_rank, map_rank, maps, on_maps, sizes


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class _WindowPool(Layer):
    """A max or average pool; stride defaults to the kernel, as in PyTorch. No params, no MACs.
    `folded`: the batch is folded into the input's first dim, k maps per sample (see `conv.maps`)."""

    kernel: Sizes
    stride: Sizes | None = None
    padding: Sizes = 0
    ceil_mode: bool = False
    folded: bool = False

    def validate(self) -> None:
        self.require_positive(kernel=self.kernel, stride=self.effective_stride)
        rank = field_rank(self, kernel=self.kernel, stride=self.stride, padding=self.padding) or 1
        kernel, padding = spatial(self.kernel, rank), spatial(self.padding, rank)
        self.require(all(0 <= p <= k // 2 for p, k in zip(padding, kernel)),
                     f"padding {self.padding!r} must be between 0 and half the kernel (PyTorch's rule)")

    @property
    def effective_stride(self) -> Sizes:
        return self.kernel if self.stride is None else self.stride

    def out_shape(self, x: Shape) -> Shape:
        return on_maps(self, x, self.map_out)

    def map_out(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        kernel, padding = sizes(self, "kernel", self.kernel, rank, x), sizes(self, "padding", self.padding, rank, x)
        stride = sizes(self, "stride", self.effective_stride, rank, x)
        out = tuple(window(x[1 + i], kernel[i], stride[i], padding[i], padding[i], 1, self.ceil_mode)
                    for i in range(rank))
        if not at_least(1, *out):
            self.fail(f"kernel {sizes_text(kernel)} is larger than its padded input", x)
        return (x[0], *out)

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        extra = " ".join(p for p in ("ceil" if self.ceil_mode else "", "folded" if self.folded else "") if p)
        return describe_window(self.kernel, self.effective_stride, self.padding, extra=extra,
                               rank=describe_rank(maps(self, x)))


@register("maxpool")
class MaxPool(_WindowPool):
    """Max pooling (`nn.MaxPool1d/2d/3d`)."""


@register("avgpool")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class AvgPool(_WindowPool):
    """Average pooling (`nn.AvgPool1d/2d/3d`); `count_include_pad` changes values, not counts.
    On a C x D x H x W map every spatial size must be at least the kernel's, padding aside
    (avg_pool3d's own check; the 1-D and 2-D pools need only the padded input)."""

    count_include_pad: bool = True

    def map_out(self, x: Shape) -> Shape:
        y = super().map_out(x)
        if len(x) == 4:
            kernel = sizes(self, "kernel", self.kernel, 3, x)
            if not holds(*(size >= k for size, k in zip(x[1:], kernel))):
                self.fail(f"a 3-D average pool needs every spatial size at least its kernel {sizes_text(kernel)}, "
                          "padding aside (PyTorch's avg_pool3d)", x)
        return y


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class _AdaptivePool(Layer):
    """Pooling to a fixed output size, whatever the input's; no params, no MACs."""

    output: Sizes

    def validate(self) -> None:
        self.require_positive(output=self.output)
        field_rank(self, output=self.output)

    def out_shape(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        return (x[0], *sizes(self, "output", self.output, rank, x))

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        return f"-> {sizes_text(spatial(self.output, describe_rank(x)))}"


@register("adaptive_avgpool")
class AdaptiveAvgPool(_AdaptivePool):
    """Adaptive average pooling to a fixed output size (`nn.AdaptiveAvgPool1d/2d/3d`)."""


@register("adaptive_maxpool")
class AdaptiveMaxPool(_AdaptivePool):
    """Adaptive max pooling to a fixed output size (`nn.AdaptiveMaxPool1d/2d/3d`)."""


@register("global_avgpool")
class GlobalAvgPool(Layer):
    """Average over every spatial dim: C x ... -> C x 1 x ... x 1 (`nn.AdaptiveAvgPool1d/2d/3d(1)`)."""

    def out_shape(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        return (x[0], *(1,) * rank)

    def describe(self) -> str:
        return "global"
