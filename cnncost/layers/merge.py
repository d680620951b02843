"""Merges: layers that join several tensors (`from: [a, b, ...]`). Blocks emit them as their
`<block>.add|mul|concat` rows; in a DAG spec they join any earlier tensors by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..shapes import Shape, numel, same_shape, same_sizes, shape_text
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


def _text(shape: Shape) -> str:
    return shape_text(shape)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class MergeLayer(Layer):
    """A new tensor from several inputs; no parameters, no MACs."""

    arity = None
    min_inputs = 2


@register("add")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Add(MergeLayer):
    """Element-wise sum of tensors of one shape (a residual join). `scale` multiplies the first
    input (Inception-ResNet's scaled residual); it changes values, not counts."""

    elementwise = True

    scale: float = 1.0

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        first = xs[0]
        if not all(same_shape(first, x) for x in xs[1:]):
            self.fail("cannot add tensors of different shapes: " + ", ".join(_text(x) for x in xs)
                      + "; add a projection shortcut", first)
        return first

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """Nothing saved: the gradient passes through unchanged (a scale by a Python float neither)."""
        from ..memory.tensors import promote
        return b.new(numel(y), promote(*(t.dtype for t in xs)))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        from .torch_modules import AddModule
        return AddModule(self.scale)


@register("mul")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Mul(MergeLayer):
    """x * g: g has x's shape, or is Cx1x1 (a channel gate: SE), broadcast over H and W."""

    elementwise = True

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"multiplies two tensors, got {len(xs)}", xs[0])
        x, g = xs
        if not (len(x) == 3 and same_shape(g, (x[0], 1, 1)) or same_shape(g, x)):
            self.fail(f"the gate must be {x[0]}x1x1 or the input's shape {_text(x)}, got {_text(g)}", x)
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
        from .torch_modules import MulModule
        return MulModule()


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ConcatMerge(MergeLayer):
    """Channel concatenation of CxHxW tensors of one spatial size (`type: concat` without
    branches, or a concat block's merge row)."""

    min_inputs = 1

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        if not all(len(x) == 3 for x in xs):
            self.fail("concat needs CxHxW inputs: " + ", ".join(_text(x) for x in xs), xs[0])
        h, w = xs[0][1], xs[0][2]
        if not all(same_sizes(x[1], h) and same_sizes(x[2], w) for x in xs[1:]):
            self.fail("cannot concat tensors of different spatial sizes: "
                      + ", ".join(_text(x[1:]) for x in xs), xs[0])
        return (sum(x[0] for x in xs), h, w)

    def keeps_channels_last(self, xs: list[Tensor], x: Shape) -> bool:
        return all(x.channels_last for x in xs)  # torch.cat: the inputs' layout when they share one, else NCHW

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """A copy of all inputs; its backward only slices, so nothing is saved."""
        from ..memory.tensors import promote
        return b.new(numel(y), promote(*(t.dtype for t in xs)))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        from .torch_modules import ConcatModule
        return ConcatModule()


ConcatMerge.type_name = "concat"  # the row type; YAML `type: concat` is the Concat block
