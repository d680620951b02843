"""Merges: layers that join several tensors (`from: [a, b, ...]`). Blocks emit them as their
`<block>.add|mul|concat` rows; in a DAG spec they join any earlier tensors by name."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, same_shape, same_sizes, shape_text
from .base import Layer, register


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


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ConcatMerge(MergeLayer):
    """Channel concatenation of maps of one rank and spatial size (C x H x W, and C x L or
    C x D x H x W alike) (`type: concat` without branches, or a concat block's merge row)."""

    min_inputs = 1

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        if not all(len(x) == len(xs[0]) and 2 <= len(x) <= 4 for x in xs):
            self.fail("concat needs CxHxW inputs (or C x L, C x D x H x W maps, all of one rank): "
                      + ", ".join(_text(x) for x in xs), xs[0])
        spatial = xs[0][1:]
        if not all(same_sizes(a, b) for x in xs[1:] for a, b in zip(x[1:], spatial)):
            self.fail("cannot concat tensors of different spatial sizes: "
                      + ", ".join(_text(x[1:]) for x in xs), xs[0])
        return (sum(x[0] for x in xs), *spatial)


ConcatMerge.type_name = "concat"  # the row type; YAML `type: concat` is the Concat block
