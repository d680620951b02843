"""Merges: layers that join several tensors (`from: [a, b, ...]`). Blocks emit them as their
`<block>.add|mul|concat` rows; in a DAG spec they join any earlier tensors by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..shapes import Shape, same_shape, same_sizes, shape_text
from .base import Layer, register
from .strides import Layout, cat_layout, stack_layout
from .tensor import dim_in


def _text(shape: Shape) -> str:
    return shape_text(shape)


class MergeLayer(Layer):
    """A new tensor from several inputs; no parameters, no MACs."""

    arity = None
    min_inputs = 2


def broadcast(shapes: tuple[Shape, ...]) -> Shape | None:
    """PyTorch's broadcast of per-sample shapes of one rank (a dim of size 1 stretches), or None
    where two sizes differ and neither is 1, or where the ranks differ: batched tensors of two
    ranks align the batch of one with a per-sample dim of the other. Sizes may be a sweep's
    arrays."""
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        return None
    out = []
    for i in range(rank):
        size: object = 1
        for shape in shapes:
            j = i - (rank - len(shape))
            if j < 0 or _one(shape[j]):
                continue
            if _one(size):
                size = shape[j]
            elif not same_sizes(size, shape[j]):
                return None
        out.append(size)
    return tuple(out)  # type: ignore[arg-type]


def _one(size: object) -> bool:
    return type(size) is int and size == 1


@register("add")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Add(MergeLayer):
    """Element-wise sum (a residual join), broadcast as PyTorch does (a Cx1x1 tensor added to a
    CxHxW map: a per-channel bias). `scale` multiplies the first input (Inception-ResNet's
    scaled residual); it changes values, not counts."""

    elementwise = True

    scale: float = 1.0

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        first = xs[0]
        if all(same_shape(first, x) for x in xs[1:]):
            return first
        out = broadcast(xs)
        if out is None:
            self.fail("cannot add tensors of different shapes: " + ", ".join(_text(x) for x in xs)
                      + "; add a projection shortcut", first)
        return out


@register("mul")
class Mul(MergeLayer):
    """x * g, broadcast as PyTorch does: g has x's shape, or is Cx1x1 (a channel gate: SE), or any
    shape that broadcasts against x's."""

    elementwise = True

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"multiplies two tensors, got {len(xs)}", xs[0])
        x, g = xs
        if same_shape(g, x):
            return x
        out = broadcast(xs)
        if out is None:
            gate = f"{x[0]}x1x1 or " if len(x) == 3 else ""
            self.fail(f"the gate must be {gate}broadcast against the input's shape {_text(x)}, got {_text(g)}", x)
        return out


class Binary(MergeLayer):
    """An element-wise op of two tensors, broadcast as PyTorch does; the output is new."""

    elementwise = True
    verb: ClassVar[str] = ""

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"{self.verb} two tensors, got {len(xs)}", xs[0])
        if same_shape(xs[0], xs[1]):
            return xs[0]
        out = broadcast(xs)
        if out is None:
            self.fail(f"cannot broadcast {_text(xs[0])} and {_text(xs[1])} (per-sample shapes of one rank, each "
                      "dim equal or 1)", xs[0])
        return out


@register("sub")
class Sub(Binary):
    """a - b (`pool(x) - x`: PoolFormer's token mixer). Nothing saved."""

    verb = "subtracts"


@register("div")
class Div(Binary):
    """a / b: saves b (for both gradients) and a (for b's)."""

    verb = "divides"


@register("maximum")
class Maximum(Binary):
    """`torch.maximum(a, b)`: saves both (which one won)."""

    verb = "compares"


@register("minimum")
class Minimum(Binary):
    """`torch.minimum(a, b)`: saves both (which one won)."""

    verb = "compares"


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ConcatMerge(MergeLayer):
    """`torch.cat` along per-sample `dim` (0: the channels) of tensors of one rank that agree in
    every other dim (`type: concat` without branches, or a concat block's merge row)."""

    min_inputs = 1

    dim: int = 0

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        first = xs[0]
        if not all(len(x) == len(first) for x in xs):
            self.fail("concat needs inputs of one rank: " + ", ".join(_text(x) for x in xs), first)
        d = dim_in(self, self.dim, first)
        if not all(same_sizes(x[i], first[i]) for x in xs[1:] for i in range(len(first)) if i != d):
            if len(first) == 3 and d == 0:
                self.fail("cannot concat tensors of different spatial sizes: "
                          + ", ".join(_text(x[1:]) for x in xs), first)
            self.fail(f"cannot concat along dim {self.dim} tensors that differ in another dim: "
                      + ", ".join(_text(x) for x in xs), first)
        return (*first[:d], sum(x[d] for x in xs), *first[d + 1:])

    def new_layout(self, xs: tuple[Shape, ...], layouts: list[Layout], y: Shape) -> Layout:
        return cat_layout(y, list(zip(xs, layouts)))

    def describe(self) -> str:
        return f"dim {self.dim}" if self.dim else ""


ConcatMerge.type_name = "concat"  # the row type; YAML `type: concat` is the Concat block


@register("stack")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Stack(MergeLayer):
    """`torch.stack` along a new per-sample `dim` of tensors of one shape (the new dim has one
    entry per input). A new tensor; nothing saved."""

    min_inputs = 1

    dim: int = 0

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        first = xs[0]
        if not all(same_shape(first, x) for x in xs[1:]):
            self.fail("stack needs tensors of one shape: " + ", ".join(_text(x) for x in xs), first)
        d = dim_in(self, self.dim, first, extra=1)
        return (*first[:d], len(xs), *first[d:])

    def new_layout(self, xs: tuple[Shape, ...], layouts: list[Layout], y: Shape) -> Layout:
        return stack_layout(y, self.dim % len(y), list(zip(xs, layouts)))

    def describe(self) -> str:
        return f"dim {self.dim}"
