"""Normalisation layers: batch, layer, group and instance norm, and LRN.

Every norm saves its input and a mean and an inverse std per normalised group; only the number of
groups and the statistics' dtype differ (`stat_dtype`). Group and instance norm save a contiguous
copy of a view (a chunk or crop) instead of the view."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..shapes import Shape, numel
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


def stat_dtype(x: Tensor, b: StepBuilder, weighted: bool) -> str:
    """The dtype of a norm's saved mean and inverse std. PyTorch's norms keep them in fp32 for a
    bf16/fp16 input only when an fp32 tensor takes part ("mixed type": an affine weight, BN's
    running statistics); otherwise in the input's dtype. Measured for batch, layer, group and
    instance norm, torch 2.13 CPU."""
    if not weighted:
        return x.dtype
    param = b.precision.param_dtype
    if x.dtype == param:
        return param
    from ..memory.tensors import promote
    return promote(x.dtype, param)


def fp32_on_cuda(x: Tensor, b: StepBuilder) -> Tensor:
    """CUDA's autocast runs layer_norm and group_norm in fp32 (its fp32 op list): a low input is
    cast to a new fp32 copy, which is what the op saves. CPU's autocast leaves them alone."""
    if b.precision.autocast and b.precision.device == "cuda":
        return b.cast(x, "fp32")
    return x


@register("batchnorm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class BatchNorm(Layer):
    """Batch norm over channels. params = 2C (gamma, beta) when affine; running stats are buffers."""

    elementwise = True

    tabulated = False
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True

    def out_shape(self, x: Shape) -> Shape:
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] if self.affine else 0

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """Input, plus the batch mean and inverse std per channel: fp32 under autocast (the
        running statistics are fp32), else the input's dtype (fp64 in fp64)."""
        b.save(x, b.new(0, stat_dtype(x, b, weighted=True), fixed=2 * xs[0]))
        return b.like(x)  # y is x's shape

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        kind = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
        return kind(x[0], eps=self.eps, momentum=self.momentum, affine=self.affine)


@register("lrn")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LRN(Layer):
    """Local response normalisation across `size` neighbouring channels (AlexNet, GoogLeNet)."""

    elementwise = True

    tabulated = False
    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0

    def validate(self) -> None:
        self.require_positive(size=self.size)

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        return x

    def describe(self) -> str:
        return f"size {self.size}"

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """PyTorch's composite `local_response_norm`: x / (k + alpha * avg_pool3d(pad(x^2)))^beta saves
        the input, the channel-padded square (C + size - 1 channels), the base of the power and the
        power. Under autocast the power runs in fp32 (so does the output), and on CPU avg_pool3d too."""
        from ..memory.tensors import promote
        c, h, w = xs
        wide = promote(x.dtype, "fp32") if b.precision.autocast else x.dtype
        padded_dtype = wide if b.precision.device == "cpu" else x.dtype
        padded = b.new((c + self.size - 1) * h * w, padded_dtype)
        base, power = b.like(x, dtype=wide), b.like(x, dtype=wide)
        b.save(x, padded, base, power)
        return b.like(x, dtype=wide)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.LocalResponseNorm(self.size, self.alpha, self.beta, self.k)


@register("layer_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LayerNorm(Layer):
    """Layer norm. `over: channels` normalises the C values at each position of a CxHxW map
    (ConvNeXt's LayerNorm2d: permute to NHWC, `F.layer_norm` over C, permute back); `over: chw`
    normalises each sample's whole C x H x W (`nn.LayerNorm([C, H, W])`, any shape).
    params = 2C (channels) or 2·C·H·W (chw) with `elementwise_affine`, else 0."""

    tabulated = False
    over: Literal["channels", "chw"] = "channels"
    eps: float = 1e-5
    elementwise_affine: bool = True

    def out_shape(self, x: Shape) -> Shape:
        if self.over == "channels":
            self.expect_map(x)
        return x

    def normalized(self, x: Shape) -> Shape:
        return x[:1] if self.over == "channels" else x

    def params(self, x: Shape) -> int:
        return 2 * numel(self.normalized(x)) if self.elementwise_affine else 0

    def describe(self) -> str:
        return f"over {self.over}"

    def keeps_channels_last(self, xs: list[Tensor], x: Shape) -> bool:
        # LayerNorm2d permutes to NHWC, normalises, permutes back: its output is channels last;
        # nn.LayerNorm over C, H, W writes NCHW.
        return self.over == "channels"

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """Input (for `channels` the NHWC view of it: the same storage), and a mean and an rstd
        per normalised group: H·W per sample (channels) or 1 (chw); fp32 with an affine weight
        under autocast, else the input's dtype. Output new, in the input's dtype (CUDA autocast:
        fp32, see `fp32_on_cuda`)."""
        x = fp32_on_cuda(x, b)
        groups = xs[1] * xs[2] if self.over == "channels" else 1
        b.save(x, b.new(2 * groups, stat_dtype(x, b, self.elementwise_affine)))
        return b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        if self.over == "channels":
            from .torch_modules import LayerNorm2d
            return LayerNorm2d(x[0], eps=self.eps, elementwise_affine=self.elementwise_affine)
        return nn.LayerNorm(list(x), eps=self.eps, elementwise_affine=self.elementwise_affine)


@register("group_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GroupNorm(Layer):
    """Group norm (`nn.GroupNorm`): the channels in `groups` groups, each normalised over its
    channels and all positions. params = 2C with `affine`."""

    tabulated = False
    groups: int
    eps: float = 1e-5
    affine: bool = True

    def validate(self) -> None:
        self.require_positive(groups=self.groups)

    def out_shape(self, x: Shape) -> Shape:
        if x[0] % self.groups:
            self.fail(f"channels {x[0]} not divisible by groups={self.groups}", x)
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] if self.affine else 0

    def describe(self) -> str:
        return f"g{self.groups}"

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """Input (a contiguous copy of a view), and a mean and an rstd per group and sample, fp32
        with an affine weight under autocast, else the input's dtype. Output new."""
        if not x.contiguous:  # a view is copied; a channels-last map is used as it is
            x = b.contiguous(x, xs)
        x = fp32_on_cuda(x, b)
        b.save(x, b.new(2 * self.groups, stat_dtype(x, b, self.affine)))
        return b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.GroupNorm(self.groups, x[0], eps=self.eps, affine=self.affine)


@register("instance_norm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class InstanceNorm(Layer):
    """Instance norm (`nn.InstanceNorm2d`): each channel of each sample normalised over its H x W.
    params = 2C with `affine`; `track_running_stats` adds buffers, not params."""

    tabulated = False
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] if self.affine else 0

    def describe(self) -> str:
        return " ".join(part for part in ("affine" if self.affine else "",
                                          "running stats" if self.track_running_stats else "") if part)

    def keeps_channels_last(self, xs: list[Tensor], x: Shape) -> bool:
        return False  # batch_norm on the (1, N*C, H, W) contiguous reshape: NCHW

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """PyTorch runs batch_norm on the (1, N·C, H, W) reshape of the input (a copy of a view),
        which saves it with a mean and an inverse std per channel and sample, plus per-sample
        repeats of the weight (affine) and of both running statistics (track_running_stats):
        (2 + affine + 2·track) x C per sample, fp32 with affine under autocast, else the input's
        dtype (the running statistics are cast to it)."""
        x = b.contiguous(x, xs)
        count = 2 + (1 if self.affine else 0) + (2 if self.track_running_stats else 0)
        b.save(x, b.new(count * xs[0], stat_dtype(x, b, self.affine)))
        return b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.InstanceNorm2d(x[0], eps=self.eps, momentum=self.momentum, affine=self.affine,
                                 track_running_stats=self.track_running_stats)
