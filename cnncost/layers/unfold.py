"""im2col and col2im: `nn.Unfold` / `F.unfold` lays the sliding windows of a C x H x W map out
as columns, `nn.Fold` / `F.fold` sums columns back into a map (TNT's inner patches, VOLO's
outlook attention). Copies with no MACs; neither saves anything for backward (each one's
gradient is the other, which needs only the sizes; measured, torch 2.13 CPU), but each output
lives in a storage the size of its input where that is larger (memory.rules._im2col)."""
from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..shapes import Shape, at_least, shape_text, sizes_text, spatial, window
from .base import Layer, register
from .conv import Sizes, describe_window, field_rank, sizes


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class _Windows(Layer):
    """The window fields both share, 2-D as PyTorch's (im2col and col2im take 4-D batches only)."""

    kernel: Sizes
    stride: Sizes = 1
    padding: Sizes = 0
    dilation: Sizes = 1

    def validate(self) -> None:
        self.require_positive(kernel=self.kernel, stride=self.stride, dilation=self.dilation)
        self.require(min(spatial(self.padding, 1)) >= 0, f"padding must be >= 0, got {self.padding!r}")
        rank = field_rank(self, kernel=self.kernel, stride=self.stride, padding=self.padding, dilation=self.dilation)
        self.require(rank in (None, 2), "takes one value or two (H, W) per window field (2-D, as PyTorch)")

    def windows(self, hw: tuple[int, int], x: Shape) -> tuple[int, int]:
        """Windows along H and W over a map of spatial size `hw`."""
        k, s = sizes(self, "kernel", self.kernel, 2, x), sizes(self, "stride", self.stride, 2, x)
        p, d = sizes(self, "padding", self.padding, 2, x), sizes(self, "dilation", self.dilation, 2, x)
        out = tuple(window(hw[i], k[i], s[i], p[i], p[i], d[i]) for i in range(2))
        if not at_least(1, *out):
            self.fail(f"kernel {sizes_text(k)} (dilation {self.dilation}) is larger than its padded input "
                      f"{sizes_text(hw)}", x)
        return out

    def area(self) -> int:
        return prod(spatial(self.kernel, 2))

    def describe(self) -> str:
        return describe_window(self.kernel, self.stride, self.padding, self.dilation)


@register("unfold")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Unfold(_Windows):
    """`nn.Unfold(kernel, dilation, padding, stride)` on a C x H x W map: (C·kh·kw, L), one column
    per window, L the windows along H times along W. A new tensor; nothing saved."""

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) == 3, f"unfolds a C x H x W map (as PyTorch); got {shape_text(x)}", x)
        h, w = self.windows((x[1], x[2]), x)
        return (x[0] * self.area(), h * w)


@register("fold")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Fold(_Windows):
    """`nn.Fold(output_size, kernel, dilation, padding, stride)`: (C·kh·kw, L) columns summed into
    a C x H x W map of `output_size` (H, W), L the windows that map holds. A new tensor; nothing
    saved."""

    output_size: Sizes

    def validate(self) -> None:
        super().validate()
        self.require_positive(output_size=self.output_size)
        field_rank(self, output_size=self.output_size, kernel=self.kernel)

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) == 2, f"folds (C·kh·kw, L) columns (as PyTorch); got {shape_text(x)}", x)
        hw = sizes(self, "output_size", self.output_size, 2, x)
        area = self.area()
        if x[0] % area:
            self.fail(f"{x[0]} rows are not a whole number of {area}-element windows", x)
        h, w = self.windows((hw[0], hw[1]), x)
        if x[1] != h * w:
            self.fail(f"{x[1]} columns, but a {sizes_text(hw)} map holds {h * w} windows", x)
        return (x[0] // area, *hw)

    def describe(self) -> str:
        return f"to {sizes_text(spatial(self.output_size, 2))} " + super().describe()
