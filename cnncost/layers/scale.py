"""Per-channel scaling and stochastic depth: the two extra steps of a ConvNeXt (or EfficientNet)
residual branch, as torchvision builds them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..shapes import Shape
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


@register("layer_scale")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LayerScale(Layer):
    """x times a learnable per-channel scale, initialised to `init` (ConvNeXt's layer scale, as
    torchvision's CNBlock: a (C, 1, 1) parameter times x). params = C; no MACs counted (an
    element-wise product, as a norm's affine is not counted)."""

    tabulated = False
    init: float = 1e-6

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        return x

    def params(self, x: Shape) -> int:
        return x[0]

    def describe(self) -> str:
        return f"init {self.init:g}"

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """Its input (for the parameter's gradient; the parameter, saved for the input's, is not an
        activation). The product follows type promotion, not autocast: a bf16 x times the fp32
        parameter is a new fp32 tensor, so under autocast the residual stream after it is fp32."""
        from ..memory.tensors import promote
        b.save(x)
        return b.like(x, dtype=promote(x.dtype, b.precision.param_dtype))

    def torch_module(self, x: Shape) -> Any:
        from .torch_modules import LayerScale as LayerScaleModule
        return LayerScaleModule(x[0], self.init)


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

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        """`input * noise`: the noise is saved (one element per sample for row, one in all for
        batch, in the input's dtype), the input is not (the noise needs no gradient). p = 0
        returns the input itself."""
        if self.p == 0:
            return x
        b.save(b.new(1, x.dtype) if self.mode == "row" else b.new(0, x.dtype, fixed=1))
        return b.like(x)

    def torch_module(self, x: Shape) -> Any:
        from .torch_modules import StochasticDepth as StochasticDepthModule
        return StochasticDepthModule(self.p, self.mode)
