"""Normalisation layers: batch, layer, group and instance norm, and LRN. What autograd saves for
them (the input, and a mean and an inverse std per normalised group) is in `cnncost.memory.rules`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape, numel
from .base import Layer, register
from .conv import map_rank, maps


@register("batchnorm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class BatchNorm(Layer):
    """Batch norm over channels (dim 0) of a vector or of a map with 1, 2 or 3 spatial dims
    (`nn.BatchNorm1d/2d/3d`). params = 2C (gamma, beta) when affine; running stats are buffers
    (none with `track_running_stats: false`: the statistics of each batch, in training and eval).
    `folded`: the batch is folded into the input's first dim, (k, C, ...) per sample: the
    statistics run over the N*k maps (see `conv.maps`)."""

    elementwise = True

    tabulated = False
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True
    track_running_stats: bool = True
    folded: bool = False

    def out_shape(self, x: Shape) -> Shape:
        m = maps(self, x)
        if len(m) > 1:
            map_rank(self, m)
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[self.folded] if self.affine else 0

    def describe(self) -> str:
        return " ".join(part for part in ("" if self.track_running_stats else "no running stats",
                                          "folded" if self.folded else "") if part)


@register("lrn")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LRN(Layer):
    """Local response normalisation across `size` neighbouring channels (AlexNet, GoogLeNet), of a
    map with 1, 2 or 3 spatial dims (`nn.LocalResponseNorm`)."""

    elementwise = True

    tabulated = False
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def validate(self) -> None:
        self.require_positive(size=self.size)

    def out_shape(self, x: Shape) -> Shape:
        map_rank(self, x)
        return x

    def describe(self) -> str:
        return f"size {self.size}"


@register("layer_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LayerNorm(Layer):
    """Layer norm. `over: channels` normalises the C values at each position of a CxHxW map
    (ConvNeXt's LayerNorm2d: permute to NHWC, `F.layer_norm` over C, permute back); `over: chw`
    normalises each sample's whole C x H x W (`nn.LayerNorm([C, H, W])`, any shape); `over: last`
    normalises the last `dims` dims of any shape (`nn.LayerNorm(x.shape[-dims:])`: tokens).
    params = 2 x the normalised shape's elements with `elementwise_affine` (1 x with `bias: false`,
    as `nn.LayerNorm(bias=False)`), else 0."""

    tabulated = False
    over: Literal["channels", "chw", "last"] = "channels"
    dims: int = 1
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(dims=self.dims)
        self.require(self.dims == 1 or self.over == "last", "dims applies to over: last only")
        self.require(self.bias or self.elementwise_affine, "bias: false applies with elementwise_affine only")

    def out_shape(self, x: Shape) -> Shape:
        if self.over == "channels":
            self.expect_map(x)
        if self.over == "last":
            self.require(self.dims <= len(x), f"dims {self.dims} exceeds the rank of {'x'.join(map(str, x))}", x)
        return x

    def normalized(self, x: Shape) -> Shape:
        if self.over == "last":
            return x[len(x) - self.dims:]
        return x[:1] if self.over == "channels" else x

    def groups(self, x: Shape) -> int:
        """Normalised groups per sample (a mean and an rstd each)."""
        if self.over == "channels":
            return numel(x[1:])
        return numel(x[:len(x) - self.dims]) if self.over == "last" else 1

    def params(self, x: Shape) -> int:
        return (1 + self.bias) * numel(self.normalized(x)) if self.elementwise_affine else 0

    def describe(self) -> str:
        no_bias = "" if self.bias else " no bias"
        if self.over == "last":
            return ("over the last dim" if self.dims == 1 else f"over the last {self.dims} dims") + no_bias
        return f"over {self.over}" + no_bias


@register("group_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GroupNorm(Layer):
    """Group norm (`nn.GroupNorm`): the channels (dim 0) in `groups` groups, each normalised over
    its channels and all positions, whatever the rank (a vector, a map with 1, 2 or 3 spatial dims).
    params = 2C with `affine` (C with `bias: false`: a weight only, as timm's GroupNorm1NoBias)."""

    tabulated = False
    groups: int
    eps: float = 1e-5
    affine: bool = True
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(groups=self.groups)
        self.require(self.bias or self.affine, "bias: false applies with affine only")

    def out_shape(self, x: Shape) -> Shape:
        if x[0] % self.groups:
            self.fail(f"channels {x[0]} not divisible by groups={self.groups}", x)
        return x

    def params(self, x: Shape) -> int:
        return (1 + self.bias) * x[0] if self.affine else 0

    def describe(self) -> str:
        return f"g{self.groups}" + ("" if self.bias else " no bias")


@register("instance_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class InstanceNorm(Layer):
    """Instance norm (`nn.InstanceNorm1d/2d/3d`): each channel of each sample normalised over its
    positions, in a map with 1, 2 or 3 spatial dims.
    params = 2C with `affine`; `track_running_stats` adds buffers, not params.
    `folded`: the batch is folded into the input's first dim, (k, C, ...) per sample (an imported
    model's (N*k, C, H, W): RAFT's encoder on both images): each of the k maps normalised alike."""

    tabulated = False
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False
    folded: bool = False

    def out_shape(self, x: Shape) -> Shape:
        if self.folded:
            self.require(len(x) >= 3, f"folded: needs (maps, C, ...), got a {len(x)}-D shape", x)
        map_rank(self, x[1:] if self.folded else x)
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[self.folded] if self.affine else 0

    def describe(self) -> str:
        return " ".join(part for part in ("affine" if self.affine else "",
                                          "running stats" if self.track_running_stats else "",
                                          "folded" if self.folded else "") if part)
