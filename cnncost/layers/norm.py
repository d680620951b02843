"""Normalisation layers."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape
from .base import Layer, register


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
