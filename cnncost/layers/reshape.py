"""Layers that move elements without arithmetic: channel chunks and shuffles, pixel (un)shuffle,
padding, centre crops and upsampling. None has params or MACs; chunk and crop are views (no new
tensor), the others make one new tensor and, except reflect padding, save nothing for backward
(measured, docs/memory.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape, at_least, holds, pair, scale_floor, shape_text
from .base import Layer, register
from .conv import IntOrPair
from .strides import Layout
from .tensor import dim_in


def _text(shape: Shape) -> str:
    return shape_text(shape)


def chunk_sizes(channels: int, chunks: int) -> list[int]:
    """`torch.chunk`'s split of `channels`: pieces of ceil(channels / chunks), the last smaller,
    and fewer than `chunks` pieces when they run out (5 in 4 chunks: 2, 2, 1)."""
    size = -(-channels // chunks)
    return [min(size, channels - start) for start in range(0, channels, size)]


MAX_FACTOR = 1 << 16  # pixel (un)shuffle and upsample factors: far beyond any real network


@register("chunk")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Chunk(Layer):
    """Piece `index` of the input split into `chunks` along per-sample `dim` (`x.chunk(chunks,
    dim + 1)[index]`; dim 0, the channels: ShuffleNetV2's channel split): a view of the input,
    no new tensor. With the size divisible by chunks each piece has size / chunks; otherwise
    torch.chunk's sizes (`chunk_sizes`).

    A layer that saves the chunk keeps its whole input storage alive, and that is what autograd's
    accounting counts. PyTorch refuses in-place ops on a chunk (a multi-output view): follow it with
    out-of-place layers."""

    chunks: int
    index: int = 0
    dim: int = 0

    def validate(self) -> None:
        self.require_positive(chunks=self.chunks)
        self.require(0 <= self.index < self.chunks, f"index must be in 0..{self.chunks - 1}, got {self.index}")

    def creates_tensor(self) -> bool:
        return False

    def out_shape(self, x: Shape) -> Shape:
        d = dim_in(self, self.dim, x)
        sizes = chunk_sizes(x[d], self.chunks)
        if self.index >= len(sizes):
            what = "channels" if d == 0 else f"positions along dim {self.dim}"
            self.fail(f"{x[d]} {what} make only {len(sizes)} chunks of {sizes[0]} (torch.chunk), so there "
                      f"is no chunk {self.index}", x)
        return (*x[:d], sizes[self.index], *x[d + 1:])

    def first(self, x: Shape) -> int:
        """The offset of the chunk along its dim."""
        d = dim_in(self, self.dim, x)
        return sum(chunk_sizes(x[d], self.chunks)[:self.index])

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        return layout  # a slice along one dim: the strides stay

    def describe(self) -> str:
        return f"{self.index + 1} of {self.chunks}" + (f" dim {self.dim}" if self.dim else "")


@register("channel_shuffle")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ChannelShuffle(Layer):
    """ShuffleNet's channel shuffle, as torchvision's `channel_shuffle`: view as (groups, C/groups),
    transpose, copy contiguous. A new tensor; nothing saved."""

    groups: int

    def validate(self) -> None:
        self.require_positive(groups=self.groups)

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        if x[0] % self.groups:
            self.fail(f"channels {x[0]} not divisible by groups={self.groups}", x)
        return x

    def describe(self) -> str:
        return f"g{self.groups}"


@register("pixel_shuffle")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class PixelShuffle(Layer):
    """C x H x W -> C/r^2 x rH x rW (`nn.PixelShuffle(r)`, sub-pixel upsampling). A new tensor."""

    factor: int

    def validate(self) -> None:
        self.require_positive(factor=self.factor)
        self.require(self.factor <= MAX_FACTOR, f"factor must be at most {MAX_FACTOR:,}")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        r = self.factor
        if x[0] % (r * r):
            self.fail(f"channels {x[0]} not divisible by {r}^2 = {r * r}", x)
        return (x[0] // (r * r), x[1] * r, x[2] * r)

    def describe(self) -> str:
        return f"x{self.factor}"


@register("pixel_unshuffle")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class PixelUnshuffle(Layer):
    """C x H x W -> C·r^2 x H/r x W/r (`nn.PixelUnshuffle(r)`). A new tensor."""

    factor: int

    def validate(self) -> None:
        self.require_positive(factor=self.factor)
        self.require(self.factor <= MAX_FACTOR, f"factor must be at most {MAX_FACTOR:,}")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        r = self.factor
        if not holds(x[1] % r == 0, x[2] % r == 0):
            self.fail(f"{_text(x[1:])} not divisible by {r}", x)
        return (x[0] * r * r, x[1] // r, x[2] // r)

    def describe(self) -> str:
        return f"/{self.factor}"


@register("pad")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Pad(Layer):
    """Spatial padding: `padding` is one size for all four sides, [h, w] (top and bottom h, left
    and right w, as a conv's padding), or [left, right, top, bottom] (as `F.pad` and
    `nn.ZeroPad2d`). `mode`: zeros (`nn.ZeroPad2d`) or reflect (`nn.ReflectionPad2d`: each pad
    must be smaller than the side it mirrors)."""

    padding: int | tuple[int, int] | tuple[int, int, int, int]
    mode: Literal["zeros", "reflect"] = "zeros"

    def sides(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom)."""
        if isinstance(self.padding, int):
            return (self.padding,) * 4
        if len(self.padding) == 2:
            h, w = self.padding
            return (w, w, h, h)
        return self.padding  # type: ignore[return-value]

    def validate(self) -> None:
        self.require(min(self.sides()) >= 0, f"padding must be >= 0, got {self.padding!r}")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        left, right, top, bottom = self.sides()
        if self.mode == "reflect":
            if not holds(max(left, right) < x[2], max(top, bottom) < x[1]):
                self.fail(f"reflect padding {self.padding!r} must be smaller than the {_text(x[1:])} it mirrors", x)
        return (x[0], x[1] + top + bottom, x[2] + left + right)

    def describe(self) -> str:
        left, right, top, bottom = self.sides()
        text = str(left) if len({left, right, top, bottom}) == 1 else f"l{left} r{right} t{top} b{bottom}"
        return f"{self.mode} {text}"


@register("crop")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class CenterCrop(Layer):
    """The centre `size` ([h, w] or one side) of a CxHxW map; or, without `size` and with two
    inputs (`from: [x, like]`), x cropped to like's H x W (U-Net's crop-and-concat). A view (a
    slice of x), no new tensor; nothing saved.

    Offsets as torchvision's `center_crop`: top = round((H - h) / 2), left = round((W - w) / 2)
    with Python's round, halves to even (a surplus of 1 pixel crops at offset 0, of 3 at offset
    2). A layer that saves the crop keeps its whole input storage alive."""

    arity = None
    min_inputs = 1

    size: IntOrPair | None = None

    def validate(self) -> None:
        if self.size is not None:
            self.require_positive(size=self.size)
        self.require(self.size is not None or (self.inputs is not None and len(self.inputs) == 2),
                     "needs size, or two inputs: from: [x, like] crops x to like's HxW")
        self.require(self.size is None or self.inputs is None or len(self.inputs) == 1,
                     "with size, a crop reads one tensor; leave out size to crop to a second input's HxW")

    def creates_tensor(self) -> bool:
        return False

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        x = xs[0]
        self.expect_map(x)
        if self.size is not None:
            self.require(len(xs) == 1, f"with size, a crop reads one tensor, got {len(xs)}", x)
            h, w = pair(self.size)
        else:
            self.require(len(xs) == 2, "needs size, or two inputs: from: [x, like] crops x to like's "
                         f"HxW (got {len(xs)} input{'s' if len(xs) != 1 else ''})", x)
            like = xs[1]
            if len(like) != 3:
                self.fail(f"crops to the HxW of a CxHxW map; the second input is {_text(like)}", x)
            h, w = like[1:]
        if not holds(h <= x[1], w <= x[2]):
            self.fail(f"cannot crop {_text(x[1:])} to a larger {_text((h, w))}", x)
        return (x[0], h, w)

    def describe(self) -> str:
        if self.size is None:
            return "to 2nd input"
        h, w = pair(self.size)
        return f"-> {h}x{w}"


@register("upsample")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Upsample(Layer):
    """Resize H x W (`nn.Upsample` / `F.interpolate`) by `scale_factor` (one or [h, w]; H_out =
    floor(H x factor), PyTorch's rule) or to `size` (one or [h, w]); `mode` nearest or bilinear
    (`align_corners` for bilinear only). A new tensor; nothing saved (the backward needs only the
    sizes). No MACs counted (the interpolation weights are not multiply-accumulates of a layer's
    parameters; FlopCounterMode counts none)."""

    scale_factor: float | tuple[float, float] | None = None
    size: IntOrPair | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool = False

    def validate(self) -> None:
        self.require((self.scale_factor is None) != (self.size is None),
                     "needs exactly one of scale_factor and size")
        if self.size is not None:
            self.require_positive(size=self.size)
        if self.scale_factor is not None:
            factors = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,)
            self.require(all(0 < f <= MAX_FACTOR for f in factors),
                         f"scale_factor must be positive and at most {MAX_FACTOR:,}")
        self.require(self.mode == "bilinear" or not self.align_corners,
                     "align_corners applies to bilinear only (PyTorch refuses it for nearest)")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        if self.size is not None:
            h, w = pair(self.size)
        else:
            fh, fw = pair(self.scale_factor)  # type: ignore[arg-type]
            h, w = scale_floor(x[1], fh), scale_floor(x[2], fw)
        if not at_least(1, h, w):
            self.fail(f"scale_factor {self.scale_factor!r} leaves no output ({_text((h, w))})", x)
        return (x[0], h, w)

    def describe(self) -> str:
        if self.size is not None:
            h, w = pair(self.size)
            what = f"-> {h}x{w}"
        else:
            fh, fw = pair(self.scale_factor)  # type: ignore[arg-type]
            what = f"x{fh:g}" if fh == fw else f"x{fh:g}x{fw:g}"
        return " ".join(p for p in (what, self.mode, "align_corners" if self.align_corners else "") if p)
