"""Normalisation layers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..shapes import Shape
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


@register("batchnorm")
@dataclass(frozen=True, kw_only=True)
class BatchNorm(Layer):
    """Batch norm over channels. params = 2C (gamma, beta) when affine; running stats are buffers."""

    tabulated = False
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = True

    def out_shape(self, x: Shape) -> Shape:
        return x

    def params(self, x: Shape) -> int:
        return 2 * x[0] if self.affine else 0

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """Input, plus the batch mean and inverse std per channel, always fp32."""
        b.save(x, b.new(0, "fp32", fixed=2 * xs[0]))
        return b.like(x, y)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        kind = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
        return kind(x[0], eps=self.eps, momentum=self.momentum, affine=self.affine)


@register("lrn")
@dataclass(frozen=True, kw_only=True)
class LRN(Layer):
    """Local response normalisation across `size` neighbouring channels (AlexNet, GoogLeNet)."""

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
