"""Convolution and transposed convolution over maps with 1, 2 or 3 spatial dims (C x L, C x H x W,
C x D x H x W): the spatial rank is the input's rank - 1, as PyTorch's Conv1d/2d/3d. Window fields
(kernel, stride, padding, dilation...) are one int for every spatial dim or a list with one per dim.
The helpers here (`map_rank`, `sizes`, `describe_window`) serve every windowed layer."""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, Callable, Literal

from ..shapes import Shape, at_least, numel, same_padding, shape_text, sizes_text, spatial, window
from .base import Layer, register

Sizes = int | tuple[int, ...]  # one size for every spatial dim, or one per dim
MAP_KINDS = {1: "C x L", 2: "C x H x W", 3: "C x D x H x W"}


def map_rank(layer: Layer, x: Shape) -> int:
    """The spatial rank (1, 2 or 3) of a channels-first map; any other shape fails, naming the layer."""
    rank = len(x) - 1
    if rank not in MAP_KINDS:
        layer.fail(f"needs a map with 1, 2 or 3 spatial dims ({', '.join(MAP_KINDS.values())}); "
                   f"got {'a flat vector' if rank == 0 else f'a {len(x)}-D shape'}", x)
    return rank


def sizes(layer: Layer, field: str, value: Sizes, rank: int, x: Shape | None = None) -> tuple[int, ...]:
    """`value` as one size per spatial dim; a list of the wrong length fails, naming the layer."""
    if isinstance(value, tuple) and len(value) != rank:
        layer.fail(f"{field} {list(value)} has {len(value)} value{'s' if len(value) != 1 else ''}; a map with "
                   f"{rank} spatial dim{'s' if rank != 1 else ''} takes one value or {rank} (one per dim)", x)
    return spatial(value, rank)


def field_rank(layer: Layer, **values: Any) -> int | None:
    """The spatial rank the list-valued fields imply (None: all ints); lists of different lengths
    fail, naming the layer (caught when the layer is made, before any shape is known)."""
    lengths = {name: len(v) for name, v in values.items() if isinstance(v, tuple)}
    if len(set(lengths.values())) > 1:
        layer.fail("fields " + ", ".join(f"{name} ({n} values)" for name, n in lengths.items())
                   + " must have one value per spatial dim, the same number each")
    if any(n not in MAP_KINDS for n in lengths.values()):
        layer.fail("window fields take one value or one per spatial dim (1, 2 or 3); got "
                   + ", ".join(f"{name} with {n}" for name, n in lengths.items()))
    return next(iter(lengths.values()), None)


def describe_window(kernel: Sizes, stride: Sizes, padding: Sizes | str, dilation: Sizes = 1,
                    extra: str = "", rank: int = 2) -> str:
    """"3x3/2 p1" style text: the kernel one size per spatial dim; stride, padding and dilation
    one number where every dim agrees."""
    def text(v: Sizes | str) -> str:
        if isinstance(v, str):
            return v
        values = spatial(v, rank)
        return str(values[0]) if len(set(values)) == 1 else sizes_text(values)
    parts = [f"{sizes_text(spatial(kernel, rank))}/{text(stride)}"]
    if padding != "valid" and (isinstance(padding, str) or any(spatial(padding, rank))):
        parts.append(f"p{text(padding)}")
    if any(d != 1 for d in spatial(dilation, rank)):
        parts.append(f"d{text(dilation)}")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def maps(layer: Layer, x: Shape) -> Shape:
    """The map a windowed layer or a batch norm reads per sample: x, or, where the layer is
    `folded` (the batch folded into the first dim as its outermost factor: torch's (N*k, C, ...)
    as (k, C, ...) per sample, k maps each), x without that first dim."""
    if not getattr(layer, "folded", False):
        return x
    if len(x) < 2:
        layer.fail(f"folded: needs (maps, C, ...), got {shape_text(x)}", x)
    return x[1:]


def on_maps(layer: Layer, x: Shape, out: Callable[[Shape], Shape]) -> Shape:
    """`out` of the map x, or, for a `folded` layer, of each of its maps (`maps`), their count kept first."""
    if not getattr(layer, "folded", False):
        return out(x)
    return (x[0], *out(maps(layer, x)))


def describe_rank(x: Shape) -> int:
    """The spatial rank a description uses: the map's, 2 for anything else."""
    return len(x) - 1 if len(x) - 1 in MAP_KINDS else 2


def padding_pairs(padding: Sizes | str, kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(before, after) per spatial dim for int, list, 'valid' or 'same' padding."""
    if padding == "same":
        return tuple(same_padding(k, d) for k, d in zip(kernel, dilation))
    if padding == "valid":
        return ((0, 0),) * len(kernel)
    return tuple((p, p) for p in spatial(padding, len(kernel)))  # type: ignore[arg-type]


@register("conv")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Conv(Layer):
    """Convolution over 1, 2 or 3 spatial dims (PyTorch `nn.Conv1d`/`Conv2d`/`Conv3d`, from the input's rank).

    params = out * (in/groups) * prod(kernel)  (+ out with bias)
    MACs   = |output| * (in/groups) * prod(kernel)      (bias adds are not counted)

    `folded`: the batch is folded into the input's first dim (an imported model's (N*k, C, H, W)
    windows or heads, per sample (k, C, H, W)): the conv runs on each of the k maps, its
    weights counted once (see `maps`).
    """

    matmul_like = True

    out: int
    kernel: Sizes
    stride: Sizes = 1
    padding: Sizes | Literal["same", "valid"] = 0
    dilation: Sizes = 1
    groups: int = 1
    bias: bool = True
    folded: bool = False

    def validate(self) -> None:
        self.require_positive(out=self.out, kernel=self.kernel, stride=self.stride,
                              dilation=self.dilation, groups=self.groups)
        padding = None if isinstance(self.padding, str) else self.padding
        field_rank(self, kernel=self.kernel, stride=self.stride, padding=padding, dilation=self.dilation)
        if padding is not None:
            self.require(min(spatial(padding, 1)) >= 0, f"padding must be >= 0, got {self.padding!r}")
        self.require(self.padding != "same" or set(spatial(self.stride, 1)) == {1},
                     "padding 'same' needs stride 1 (as in PyTorch)")
        self.require(self.out % self.groups == 0,
                     f"out channels {self.out} not divisible by groups={self.groups}")

    def out_shape(self, x: Shape) -> Shape:
        return on_maps(self, x, self.map_out)

    def map_out(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        if x[0] % self.groups:
            self.fail(f"in channels {x[0]} not divisible by groups={self.groups}", x)
        kernel, stride = sizes(self, "kernel", self.kernel, rank, x), sizes(self, "stride", self.stride, rank, x)
        dilation = sizes(self, "dilation", self.dilation, rank, x)
        if not isinstance(self.padding, str):
            sizes(self, "padding", self.padding, rank, x)
        pads = padding_pairs(self.padding, kernel, dilation)
        out = tuple(window(x[1 + i], kernel[i], stride[i], *pads[i], dilation[i]) for i in range(rank))
        if not at_least(1, *out):
            self.fail(f"kernel {sizes_text(kernel)} (dilation {self.dilation}) is larger than its padded input", x)
        return (self.out, *out)

    def params(self, x: Shape) -> int:
        x = maps(self, x)
        return self.out * (x[0] // self.groups) * prod(spatial(self.kernel, len(x) - 1)) + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        x = maps(self, x)  # y holds the k maps of a folded conv
        # the int factors first: one array product in a sweep
        return numel(y) * ((x[0] // self.groups) * prod(spatial(self.kernel, len(x) - 1)))

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        return describe_window(self.kernel, self.stride, self.padding, self.dilation,
                               " ".join(p for p in (f"g{self.groups}" if self.groups != 1 else "",
                                                    "folded" if self.folded else "") if p),
                               describe_rank(maps(self, x)))

    def same_extra(self, rank: int = 2) -> tuple[int, ...]:
        """Per spatial dim, the extra zero padding PyTorch adds for padding='same' when the total
        padding, dilation x (kernel - 1), is odd (an even kernel): it pads the input once more at
        the end of that dim, with F.pad, before the symmetric padding of the convolution itself."""
        if self.padding != "same":
            return (0,) * rank
        kernel, dilation = spatial(self.kernel, rank), spatial(self.dilation, rank)
        return tuple(d * (k - 1) % 2 for k, d in zip(kernel, dilation))


@register("conv_transpose")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ConvTranspose(Layer):
    """Transposed convolution over 1, 2 or 3 spatial dims (PyTorch `nn.ConvTranspose1d/2d/3d`,
    U-Net's up-convolution).

    size_out = (size - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1, per dim
    params = in * (out/groups) * prod(kernel)  (+ out with bias)
    MACs   = |input| * (out/groups) * prod(kernel)   (bias adds are not counted)

    Each input element is multiplied by the (out/groups) x prod(kernel) weights of its group and
    added into the output: that is what a transposed convolution computes, and what
    FlopCounterMode counts (2 FLOPs per MAC, on the input's spatial size). It is not |output| *
    (in/groups) * prod(kernel): the output positions that the stride skips over get fewer terms.
    """

    matmul_like = True

    out: int
    kernel: Sizes
    stride: Sizes = 1
    padding: Sizes = 0
    output_padding: Sizes = 0
    dilation: Sizes = 1
    groups: int = 1
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(out=self.out, kernel=self.kernel, stride=self.stride,
                              dilation=self.dilation, groups=self.groups)
        rank = field_rank(self, kernel=self.kernel, stride=self.stride, padding=self.padding,
                          output_padding=self.output_padding, dilation=self.dilation) or 1
        self.require(min(spatial(self.padding, 1)) >= 0, f"padding must be >= 0, got {self.padding!r}")
        self.require(min(spatial(self.output_padding, 1)) >= 0,
                     f"output_padding must be >= 0, got {self.output_padding!r}")
        for extra, stride, dilation in zip(spatial(self.output_padding, rank), spatial(self.stride, rank),
                                           spatial(self.dilation, rank)):
            self.require(extra < stride or extra < dilation,
                         f"output_padding {self.output_padding!r} must be smaller than the stride or the "
                         "dilation (PyTorch's rule)")
        self.require(self.out % self.groups == 0,
                     f"out channels {self.out} not divisible by groups={self.groups}")

    def out_shape(self, x: Shape) -> Shape:
        rank = map_rank(self, x)
        if x[0] % self.groups:
            self.fail(f"in channels {x[0]} not divisible by groups={self.groups}", x)
        kernel, stride = sizes(self, "kernel", self.kernel, rank, x), sizes(self, "stride", self.stride, rank, x)
        padding, dilation = sizes(self, "padding", self.padding, rank, x), sizes(self, "dilation", self.dilation, rank, x)
        extra = sizes(self, "output_padding", self.output_padding, rank, x)
        out = [(x[1 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + extra[i] + 1
               for i in range(rank)]
        if not at_least(1, *out):
            self.fail(f"padding {self.padding!r} leaves no output ({shape_text(tuple(out))})", x)
        return (self.out, *out)

    def params(self, x: Shape) -> int:
        return x[0] * (self.out // self.groups) * prod(spatial(self.kernel, len(x) - 1)) + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        return numel(x) * ((self.out // self.groups) * prod(spatial(self.kernel, len(x) - 1)))

    def describe(self) -> str:
        return self.describe_at((0, 0, 0))

    def describe_at(self, x: Shape) -> str:
        rank = describe_rank(x)
        extra = spatial(self.output_padding, rank)
        parts = [f"g{self.groups}" if self.groups != 1 else "",
                 "" if not any(extra) else f"op{extra[0] if len(set(extra)) == 1 else sizes_text(extra)}"]
        return describe_window(self.kernel, self.stride, self.padding, self.dilation,
                               " ".join(p for p in parts if p), rank)
