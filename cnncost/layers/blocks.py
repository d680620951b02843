"""Composition: sequences, repetition, parallel branches and the merges that join them.

A merge (concat, add, mul) allocates its output, so the engine reports it as a row of its own,
named `<block>.<merge>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from ..shapes import Shape
from .base import Block, Node, register
from .act import Sigmoid
from .conv import Conv
from .pool import GlobalAvgPool

Visit = Callable[[Node, Shape], Shape]
MAX_REPEAT = 10_000  # every copy is walked; far beyond any real network's depth
Merge = Callable[[str, Shape], None]


def _chain(nodes: tuple[Node, ...], x: Shape, visit: Visit) -> Shape:
    """Visit nodes one after another; the shape after the last."""
    for node in nodes:
        x = visit(node, x)
    return x


def _as_sequence(value: object, name: str) -> Node:
    """A bare list of layers inside a block becomes a named Sequential."""
    if isinstance(value, (list, tuple)):
        return Sequential(name=name, layers=tuple(value))
    return value  # type: ignore[return-value]


@register("sequential")
@dataclass(frozen=True, kw_only=True)
class Sequential(Block):
    """Layers applied one after another; a named block."""

    grouping = True

    layers: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.layers

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        return _chain(self.layers, x, visit)


@register("repeat")
@dataclass(frozen=True, kw_only=True)
class Repeat(Block):
    """`times` copies of the same layers in sequence, named 0, 1, ... (a stage of N blocks)."""

    grouping = True

    times: int
    layers: tuple[Node, ...]

    def validate(self) -> None:
        self.require_positive(times=self.times)
        self.require(self.times <= MAX_REPEAT, f"times must be at most {MAX_REPEAT:,}, got {self.times:,}")

    def children(self) -> tuple[Node, ...]:
        return tuple(Sequential(name=str(i), layers=self.layers) for i in range(self.times))

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        return _chain(self.children(), x, visit)


@register("concat")
@dataclass(frozen=True, kw_only=True)
class Concat(Block):
    """Parallel branches on the same input, concatenated along channels (Inception).

    A branch given as a bare list of layers is named branch1, branch2, ...
    """

    branches: tuple[Node | tuple[Node, ...], ...]

    def __post_init__(self) -> None:
        branches = tuple(_as_sequence(b, f"branch{i + 1}") for i, b in enumerate(self.branches))
        object.__setattr__(self, "branches", branches)
        super().__post_init__()

    def validate(self) -> None:
        self.require(len(self.branches) >= 1, "needs at least one branch")

    def children(self) -> tuple[Node, ...]:
        return self.branches  # type: ignore[return-value]

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        outs = [visit(branch, x) for branch in self.children()]
        self.require(all(len(y) == 3 for y in outs), "concat needs CxHxW branch outputs", x)
        sizes = {y[1:] for y in outs}
        self.require(len(sizes) == 1, "cannot concat branches of different spatial sizes: "
                     + ", ".join(f"{b.name} {y[1]}x{y[2]}" for b, y in zip(self.children(), outs)), x)
        y = (sum(o[0] for o in outs), *outs[0][1:])
        merge("concat", y)
        return y


@register("residual")
@dataclass(frozen=True, kw_only=True)
class Residual(Block):
    """layers(x) + shortcut(x); no shortcut means identity (ResNet).

    `scale` multiplies the residual branch (Inception-ResNet); it changes values, not counts.
    """

    layers: tuple[Node, ...]
    shortcut: tuple[Node, ...] | None = None
    scale: float = 1.0

    def children(self) -> tuple[Node, ...]:
        return self.layers + ((self.shortcut_block(),) if self.shortcut else ())

    def shortcut_block(self) -> Sequential:
        return Sequential(name="shortcut", layers=self.shortcut or ())

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        y = _chain(self.layers, x, visit)
        skip = visit(self.shortcut_block(), x) if self.shortcut else x
        self.require(y == skip, f"cannot add the residual branch ({'x'.join(map(str, y))}) to the "
                     f"shortcut ({'x'.join(map(str, skip))}); add a projection shortcut", x)
        merge("add", y)
        return y


@register("gate")
@dataclass(frozen=True, kw_only=True)
class Gate(Block):
    """x * layers(x), where layers(x) is Cx1x1 (or x's shape): channel re-weighting (SE, SSE)."""

    layers: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.layers

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        self.require(len(x) == 3, "needs a CxHxW feature map", x)
        g = _chain(self.layers, x, visit)
        self.require(g in ((x[0], 1, 1), x),
                     f"the gate's layers must give {x[0]}x1x1 or the input's shape, got "
                     f"{'x'.join(map(str, g))}", x)
        merge("mul", x)
        return x


@register("se")
@dataclass(frozen=True, kw_only=True)
class SqueezeExcite(Block):
    """Squeeze-and-excitation: x * sigmoid(fc2(act(fc1(avgpool(x))))).

    The FCs are 1x1 convs with bias (as torchvision and timm build them) to `squeeze` channels,
    by default C // reduction. params = 2*C*squeeze + squeeze + C.
    """

    reduction: int = 16
    squeeze: int | None = None
    activation: Literal["relu", "silu"] = "relu"

    def validate(self) -> None:
        self.require_positive(reduction=self.reduction)
        if self.squeeze is not None:
            self.require_positive(squeeze=self.squeeze)

    def expand(self, channels: int) -> Gate:
        from .base import LAYER_TYPES
        squeeze = self.squeeze or max(1, channels // self.reduction)
        return Gate(name=self.name, layers=(
            GlobalAvgPool(name="pool"),
            Conv(name="fc1", out=squeeze, kernel=1),
            LAYER_TYPES[self.activation](name="act"),
            Conv(name="fc2", out=channels, kernel=1),
            Sigmoid(name="gate"),
        ))

    def children(self) -> tuple[Node, ...]:
        raise TypeError("an se block's children depend on its input channels: use expand(channels)")

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        self.require(len(x) == 3, "needs a CxHxW feature map", x)
        return self.expand(x[0]).propagate(x, visit, merge)


@register("side")
@dataclass(frozen=True, kw_only=True)
class Side(Block):
    """A side branch: layers(x) is an extra output of the network (an auxiliary classifier);
    x itself passes on unchanged. Its costs count like any other layer's."""

    grouping = True  # its layers are a sequence; it allocates no tensor of its own

    layers: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.layers

    def propagate(self, x: Shape, visit: Visit, merge: Merge) -> Shape:
        _chain(self.layers, x, visit)
        return x
