"""Per-channel scaling and stochastic depth: the two extra steps of a ConvNeXt (or EfficientNet)
residual branch, as torchvision builds them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape
from .base import Layer, register


@register("layer_scale")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LayerScale(Layer):
    """x times a learnable scale along one dim, initialised to `init`: per channel (`dim: 0`,
    ConvNeXt's layer scale as torchvision's CNBlock: a (C, 1, 1) parameter times x; (C, 1, ..., 1)
    on a map of any rank) or along any other dim (`dim: -1`: the features of a token sequence,
    timm's LayerScale). params = x[dim]; no MACs counted (an element-wise product, as a norm's
    affine is not counted)."""

    tabulated = False
    init: float = 1e-6
    dim: int = 0

    def scaled_dim(self, x: Shape) -> int:
        """`dim` counted from the start of the per-sample shape; out of range fails."""
        if not -len(x) <= self.dim < len(x):
            self.fail(f"dim {self.dim} is out of range for a shape of rank {len(x)}", x)
        return self.dim % len(x)

    def out_shape(self, x: Shape) -> Shape:
        self.scaled_dim(x)
        return x

    def params(self, x: Shape) -> int:
        return x[self.scaled_dim(x)]

    def describe(self) -> str:
        return f"init {self.init:g}" + (f" dim {self.dim}" if self.dim else "")


@register("stochastic_depth")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class StochasticDepth(Layer):
    """Drop path (`torchvision.ops.StochasticDepth`): while training, zero the whole branch with
    probability p, per sample (`mode: row`) or for the whole batch (`batch`), and scale the kept
    ones by 1 / (1 - p). No params, no MACs."""

    tabulated = False
    p: float
    mode: Literal["row", "batch"] = "row"

    def validate(self) -> None:
        self.require(0 <= self.p <= 1, f"p must be in [0, 1], got {self.p}")

    def creates_tensor(self) -> bool:
        return self.p != 0

    def out_shape(self, x: Shape) -> Shape:
        return x

    def describe(self) -> str:
        return f"p={self.p:g} {self.mode}"
