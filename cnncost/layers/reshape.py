"""Layers that move elements without arithmetic: channel chunks and shuffles, pixel (un)shuffle,
padding, centre crops and upsampling, on maps with 1, 2 or 3 spatial dims where PyTorch has the op
(pixel (un)shuffle: C x H x W only; padding: any dim, the channels included). None has params or
MACs; chunk and crop are views (no new tensor), the others make one new tensor and, except reflect
and replicate padding, save nothing for backward (measured, docs/memory.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape, at_least, holds, scale_floor, shape_text, sizes_text, spatial
from .base import Layer, register
from .conv import MAP_KINDS, Sizes, describe_rank, field_rank, map_rank, sizes
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
    transpose, copy contiguous; on a map with 1, 2 or 3 spatial dims. A new tensor; nothing saved."""

    groups: int

    def validate(self) -> None:
        self.require_positive(groups=self.groups)

    def out_shape(self, x: Shape) -> Shape:
        map_rank(self, x)
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
    """Padding of any dims. `padding`: one size for both sides of every spatial dim of a map; a list
    with one size per spatial dim ([h, w] on a C x H x W map, [d, h, w] on C x D x H x W: both sides,
    as a conv's padding); or `F.pad`'s list of (before, after) pairs from the last dim backwards,
    which may reach the channels ([left, right, top, bottom] as `nn.ZeroPad2d`; [0, 0, 0, 0, 4, 4]
    pads 4 zero channels on each side of a C x H x W map: ResNet's option-A shortcut). `mode`:
    zeros, constant (`value`: timm's 'same' max pool pads with -inf), reflect (each pad smaller than
    the dim it mirrors) or replicate; these two pad the last 1, 2 or 3 dims of a tensor with that
    many or one more dims per sample (PyTorch's rule)."""

    padding: int | tuple[int, ...]
    mode: Literal["zeros", "constant", "reflect", "replicate"] = "zeros"
    value: float = 0.0  # mode constant's fill

    def validate(self) -> None:
        values = spatial(self.padding, 1)
        self.require(len(values) > 0 and min(values) >= 0, f"padding must be >= 0, got {self.padding!r}")
        self.require(self.mode == "constant" or self.value == 0, f"value {self.value!r} needs mode constant")

    def pads(self, x: Shape) -> tuple[tuple[int, int], ...]:
        """(before, after) for every dim of x (the channels first)."""
        rank, padding = len(x), self.padding
        if isinstance(padding, int):
            if rank < 2:
                self.fail("one padding size pads every spatial dim, and a vector has none: give [before, after]", x)
            return ((0, 0),) + ((padding, padding),) * (rank - 1)
        if rank - 1 in MAP_KINDS and len(padding) == rank - 1:
            return ((0, 0),) + tuple((p, p) for p in padding)
        if len(padding) % 2 or len(padding) // 2 > rank:
            self.fail(f"padding {list(padding)} fits neither form: one size per spatial dim, or (before, after) "
                      f"pairs from the last dim backwards (F.pad's order) for at most the {rank} dims", x)
        pairs = [(padding[i], padding[i + 1]) for i in range(0, len(padding), 2)]
        return ((0, 0),) * (rank - len(pairs)) + tuple(reversed(pairs))

    def padded_dims(self, x: Shape) -> int:
        """How many trailing dims the padding covers (F.pad's len(pad) // 2)."""
        if isinstance(self.padding, int) or (len(x) - 1 in MAP_KINDS and len(self.padding) == len(x) - 1):
            return len(x) - 1
        return len(self.padding) // 2

    def torch_pad(self, x: Shape) -> tuple[int, ...]:
        """The padding in F.pad's order: (before, after) of the last dim, then the one before..."""
        pads = self.pads(x)
        return tuple(v for before_after in reversed(pads[len(x) - self.padded_dims(x):]) for v in before_after)

    def out_shape(self, x: Shape) -> Shape:
        pads = self.pads(x)
        if self.mode not in ("zeros", "constant"):
            k = self.padded_dims(x)
            if not (1 <= k <= 3 and len(x) in (k, k + 1)):
                self.fail(f"{self.mode} padding pads the last 1, 2 or 3 dims of a tensor with that many or one more "
                          f"dims per sample (PyTorch's rule); this pads {k} of {len(x)}", x)
        if self.mode == "reflect":
            if not holds(*(max(p) < size for p, size in zip(pads, x) if max(p))):
                mirrored = x[1:] if pads[0] == (0, 0) else x
                self.fail(f"reflect padding {self.padding!r} must be smaller than the {_text(mirrored)} it mirrors", x)
        return tuple(size + before + after for size, (before, after) in zip(x, pads))

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        padding = self.padding
        mode = f"constant {self.value:g}" if self.mode == "constant" else self.mode
        if isinstance(padding, int):
            return f"{mode} {padding}"
        if len(x) == 3 and len(padding) in (2, 4):  # [h, w] or [left, right, top, bottom]
            left, right, top, bottom = (padding[1], padding[1], padding[0], padding[0]) if len(padding) == 2 else padding
            text = str(left) if len({left, right, top, bottom}) == 1 else f"l{left} r{right} t{top} b{bottom}"
            return f"{mode} {text}"
        return f"{mode} {list(padding)}"


@register("crop")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class CenterCrop(Layer):
    """The centre `size` (one size per spatial dim, or one for all) of a map with 1, 2 or 3 spatial
    dims; or, without `size` and with two inputs (`from: [x, like]`), x cropped to like's spatial
    sizes (U-Net's crop-and-concat). A view (a slice of x), no new tensor; nothing saved.

    Offsets as torchvision's `center_crop`, per dim: round((size - crop) / 2) with Python's round,
    halves to even (a surplus of 1 pixel crops at offset 0, of 3 at offset 2). A layer that saves
    the crop keeps its whole input storage alive."""

    arity = None
    min_inputs = 1

    size: Sizes | None = None

    def validate(self) -> None:
        if self.size is not None:
            self.require_positive(size=self.size)
            field_rank(self, size=self.size)
        self.require(self.size is not None or (self.inputs is not None and len(self.inputs) == 2),
                     "needs size, or two inputs: from: [x, like] crops x to like's HxW")
        self.require(self.size is None or self.inputs is None or len(self.inputs) == 1,
                     "with size, a crop reads one tensor; leave out size to crop to a second input's HxW")

    def creates_tensor(self) -> bool:
        return False

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        x = xs[0]
        rank = map_rank(self, x)
        if self.size is not None:
            self.require(len(xs) == 1, f"with size, a crop reads one tensor, got {len(xs)}", x)
            crop = sizes(self, "size", self.size, rank, x)
        else:
            self.require(len(xs) == 2, "needs size, or two inputs: from: [x, like] crops x to like's "
                         f"HxW (got {len(xs)} input{'s' if len(xs) != 1 else ''})", x)
            like = xs[1]
            if len(like) != len(x):
                self.fail(f"crops to the spatial sizes of a map of its rank; the second input is {_text(like)}", x)
            crop = like[1:]
        if not holds(*(c <= size for c, size in zip(crop, x[1:]))):
            self.fail(f"cannot crop {_text(x[1:])} to a larger {_text(crop)}", x)
        return (x[0], *crop)

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        if self.size is None:
            return "to 2nd input"
        return f"-> {sizes_text(spatial(self.size, describe_rank(x)))}"


# the interpolation modes by spatial rank, as PyTorch names them ('nearest' for every rank)
LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


@register("upsample")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Upsample(Layer):
    """Resize the spatial dims of a map with 1, 2 or 3 (`nn.Upsample` / `F.interpolate`) by
    `scale_factor` (one or one per dim; size_out = floor(size x factor), PyTorch's rule) or to
    `size` (one or one per dim); `mode` nearest, or the linear mode of the map's rank (linear,
    bilinear, trilinear), or bicubic (2 spatial dims, as PyTorch; `align_corners` for all but
    nearest). A new tensor; nothing saved (the backward
    needs only the sizes). No MACs counted (the interpolation weights are not multiply-accumulates
    of a layer's parameters; FlopCounterMode counts none)."""

    scale_factor: float | tuple[float, ...] | None = None
    size: Sizes | None = None
    mode: Literal["nearest", "linear", "bilinear", "trilinear", "bicubic"] = "nearest"
    align_corners: bool = False

    def validate(self) -> None:
        self.require((self.scale_factor is None) != (self.size is None),
                     "needs exactly one of scale_factor and size")
        if self.size is not None:
            self.require_positive(size=self.size)
            field_rank(self, size=self.size)
        if self.scale_factor is not None:
            factors = self.scale_factor if isinstance(self.scale_factor, tuple) else (self.scale_factor,)
            self.require(all(0 < f <= MAX_FACTOR for f in factors),
                         f"scale_factor must be positive and at most {MAX_FACTOR:,}")
            field_rank(self, scale_factor=self.scale_factor)
        self.require(self.mode != "nearest" or not self.align_corners,
                     "align_corners applies to the linear modes only (linear, bilinear, trilinear) and bicubic "
                     "(PyTorch refuses it for nearest)")

    def out_shape(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        if self.mode == "bicubic" and rank != 2:
            self.fail(f"mode 'bicubic' needs a map with 2 spatial dims (as PyTorch); this one has {rank}", x)
        if self.mode not in ("nearest", "bicubic") and self.mode != LINEAR_MODES[rank]:
            self.fail(f"mode '{self.mode}' needs a map with {list(LINEAR_MODES.values()).index(self.mode) + 1} "
                      f"spatial dim(s); a map with {rank} takes '{LINEAR_MODES[rank]}' (as PyTorch)", x)
        if self.size is not None:
            out = sizes(self, "size", self.size, rank, x)
        else:
            factors = sizes(self, "scale_factor", self.scale_factor, rank, x)  # type: ignore[arg-type]
            out = tuple(scale_floor(x[1 + i], factors[i]) for i in range(rank))
        if not at_least(1, *out):
            self.fail(f"scale_factor {self.scale_factor!r} leaves no output ({_text(out)})", x)
        return (x[0], *out)

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        rank = describe_rank(x)
        if self.size is not None:
            what = f"-> {sizes_text(spatial(self.size, rank))}"
        else:
            factors = spatial(self.scale_factor, rank)  # type: ignore[arg-type]
            what = f"x{factors[0]:g}" if len(set(factors)) == 1 else "x" + "x".join(f"{f:g}" for f in factors)
        return " ".join(p for p in (what, self.mode, "align_corners" if self.align_corners else "") if p)
