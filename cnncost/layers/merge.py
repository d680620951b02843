"""Merges: layers that join several tensors (`from: [a, b, ...]`). Blocks emit them as their
`<block>.add|mul|concat` rows; in a DAG spec they join any earlier tensors by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..shapes import Shape, numel
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


def _text(shape: Shape) -> str:
    return "x".join(map(str, shape))


@dataclass(frozen=True, kw_only=True)
class MergeLayer(Layer):
    """A new tensor from several inputs; no parameters, no MACs."""

    arity = None
    min_inputs = 2


@register("add")
@dataclass(frozen=True, kw_only=True)
class Add(MergeLayer):
    """Element-wise sum of tensors of one shape (a residual join). `scale` multiplies the first
    input (Inception-ResNet's scaled residual); it changes values, not counts."""

    scale: float = 1.0

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(set(xs)) == 1, "cannot add tensors of different shapes: "
                     + ", ".join(_text(x) for x in xs) + "; add a projection shortcut", xs[0])
        return xs[0]

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """Nothing saved: the gradient passes through unchanged (a scale by a Python float neither)."""
        from ..memory.tensors import promote
        return b.new(numel(y), promote(*(t.dtype for t in xs)))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        from ..torch_backend.modules import AddModule
        return AddModule(self.scale)


@register("mul")
@dataclass(frozen=True, kw_only=True)
class Mul(MergeLayer):
    """x * g: g has x's shape, or is Cx1x1 (a channel gate: SE), broadcast over H and W."""

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"multiplies two tensors, got {len(xs)}", xs[0])
        x, g = xs
        self.require(len(x) == 3 and g in ((x[0], 1, 1), x) or g == x,
                     f"the gate must be {x[0]}x1x1 or the input's shape {_text(x)}, got {_text(g)}", x)
        return x

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """Each operand is the other's gradient factor: both saved (one storage when x * x).
        An operand that needs no gradient does not need the other one saved."""
        from ..memory.tensors import promote
        x, g = xs
        if g.requires_grad:
            b.save(x)
        if x.requires_grad:
            b.save(g)
        return b.new(numel(y), promote(x.dtype, g.dtype))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        from ..torch_backend.modules import MulModule
        return MulModule()


@dataclass(frozen=True, kw_only=True)
class ConcatMerge(MergeLayer):
    """Channel concatenation of CxHxW tensors of one spatial size (`type: concat` without
    branches, or a concat block's merge row)."""

    min_inputs = 1

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(all(len(x) == 3 for x in xs), "concat needs CxHxW inputs: "
                     + ", ".join(_text(x) for x in xs), xs[0])
        self.require(len({x[1:] for x in xs}) == 1, "cannot concat tensors of different spatial sizes: "
                     + ", ".join(f"{x[1]}x{x[2]}" for x in xs), xs[0])
        return (sum(x[0] for x in xs), *xs[0][1:])

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """A copy of all inputs; its backward only slices, so nothing is saved."""
        from ..memory.tensors import promote
        return b.new(numel(y), promote(*(t.dtype for t in xs)))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        from ..torch_backend.modules import ConcatModule
        return ConcatModule()


ConcatMerge.type_name = "concat"  # the row type; YAML `type: concat` is the Concat block
