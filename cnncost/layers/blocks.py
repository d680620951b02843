"""Composition: sequences, repetition, parallel branches and the merges that join them.

Every block is sugar: `lower` turns it into leaves and merges of the compiled graph
(`cnncost.graph`). A merge (concat, add, mul) allocates its output, so it is a row of its own,
named `<block>.<merge>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Literal

from .base import Block, Layer, Merge, Node, Ref, Visit, register
from .act import Activation
from .conv import Conv
from .merge import Add, ConcatMerge, Mul
from .pool import GlobalAvgPool

Lowering = Generator[Visit | Merge, Ref, Ref]
MAX_REPEAT = 10_000  # far beyond any real network's depth; the graph's node cap bounds the total


def _chain(nodes: tuple[Node, ...], x: Ref) -> Lowering:
    """Visit nodes one after another; the output of the last."""
    for node in nodes:
        x = yield Visit(node, x)
    return x


def _as_sequence(value: object, name: str) -> Node:
    """A bare list of layers inside a block becomes a named Sequential."""
    if isinstance(value, (list, tuple)):
        return Sequential(name=name, layers=tuple(value))
    return value  # type: ignore[return-value]


@register("sequential")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Sequential(Block):
    """Layers applied one after another; a named block."""

    grouping = True

    layers: tuple[Node, ...]

    def lower(self, x: Ref) -> Lowering:
        return (yield from _chain(self.layers, x))


@register("repeat")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Repeat(Block):
    """`times` copies of the same layers in sequence, named 0, 1, ... (a stage of N blocks)."""

    grouping = True

    times: int
    layers: tuple[Node, ...]

    def validate(self) -> None:
        self.require_positive(times=self.times)
        self.require(self.times <= MAX_REPEAT, f"times must be at most {MAX_REPEAT:,}, got {self.times:,}")

    def lower(self, x: Ref) -> Lowering:
        for i in range(self.times):
            x = yield Visit(Sequential(name=str(i), layers=self.layers), x)
        return x


@register("concat")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Concat(Block):
    """Parallel branches on the same input, concatenated along channels (Inception), or along
    per-sample `dim`. A branch given as a bare list of layers is named branch1, branch2, ...; an
    empty list is the identity.

    Without branches, a concat joins the tensors named in `from` (a merge leaf)."""

    branches: tuple[Node | tuple[Node, ...], ...] = ()
    dim: int = 0  # the per-sample dim to join along (0: the channels)

    def __post_init__(self) -> None:
        branches = tuple(_as_sequence(b, f"branch{i + 1}") for i, b in enumerate(self.branches))
        object.__setattr__(self, "branches", branches)
        super().__post_init__()

    def validate(self) -> None:
        self.require(len(self.branches) >= 1 or self.inputs is not None,
                     "needs branches, or 'from' naming the tensors to join")
        self.require(not (self.branches and self.inputs and len(self.inputs) > 1),
                     "a concat with branches reads one tensor; to join named tensors leave out branches")

    def leaf_form(self) -> Layer | None:
        return None if self.branches else ConcatMerge(name=self.name, inputs=self.inputs, dim=self.dim)

    def lower(self, x: Ref) -> Lowering:
        outs = []
        for branch in self.branches:
            outs.append((yield Visit(branch, x)))  # type: ignore[arg-type]
        if self.dim == 0 and all(len(y.shape) == 3 for y in outs):
            self.require(len({y.shape[1:] for y in outs}) == 1, "cannot concat branches of different spatial sizes: "
                         + ", ".join(f"{b.name} {y.shape[1]}x{y.shape[2]}" for b, y in zip(self.branches, outs)),  # type: ignore[union-attr]  # nodes since __post_init__
                         x.shape)
        return (yield Merge(ConcatMerge(name="concat", dim=self.dim), tuple(outs)))


@register("residual")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Residual(Block):
    """layers(x) + shortcut(x); no shortcut means identity (ResNet).

    `scale` multiplies the residual branch (Inception-ResNet); it changes values, not counts.
    """

    layers: tuple[Node, ...]
    shortcut: tuple[Node, ...] | None = None
    scale: float = 1.0

    def lower(self, x: Ref) -> Lowering:
        y = yield from _chain(self.layers, x)
        skip = (yield Visit(Sequential(name="shortcut", layers=self.shortcut), x)) if self.shortcut else x
        self.require(y.shape == skip.shape, f"cannot add the residual branch ({'x'.join(map(str, y.shape))}) to "
                     f"the shortcut ({'x'.join(map(str, skip.shape))}); add a projection shortcut", x.shape)
        return (yield Merge(Add(name="add", scale=self.scale), (y, skip)))


@register("gate")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Gate(Block):
    """x * layers(x), where layers(x) is Cx1x1 (or x's shape): channel re-weighting (SE, SSE)."""

    layers: tuple[Node, ...]

    def lower(self, x: Ref) -> Lowering:
        self.require(len(x.shape) == 3, "needs a CxHxW feature map", x.shape)
        g = yield from _chain(self.layers, x)
        return (yield Merge(Mul(name="mul"), (x, g)))


GATES = ("sigmoid", "hardsigmoid")


@register("se")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class SqueezeExcite(Block):
    """Squeeze-and-excitation: x * gate(fc2(activation(fc1(avgpool(x))))).

    The FCs are 1x1 convs with bias (as torchvision and timm build them) to `squeeze` channels,
    by default C // reduction. params = 2*C*squeeze + squeeze + C. `gate` is sigmoid (SENet,
    EfficientNet) or hardsigmoid (MobileNetV3); `activation` any activation type (relu, silu...).
    """

    reduction: int = 16
    squeeze: int | None = None
    activation: str = "relu"
    gate: Literal["sigmoid", "hardsigmoid"] = "sigmoid"

    def validate(self) -> None:
        from .base import LAYER_TYPES, suggest
        self.require_positive(reduction=self.reduction)
        if self.squeeze is not None:
            self.require_positive(squeeze=self.squeeze)
        if self.activation in LAYER_TYPES and issubclass(LAYER_TYPES[self.activation], Activation):
            return
        activations = [n for n, c in LAYER_TYPES.items() if isinstance(c, type) and issubclass(c, Activation)]
        self.fail(f"activation '{self.activation}' is not an activation type" + suggest(self.activation, activations))

    def expand(self, channels: int) -> Gate:
        from .base import LAYER_TYPES
        squeeze = self.squeeze or max(1, channels // self.reduction)
        return Gate(name=self.name, layers=(
            GlobalAvgPool(name="pool"),
            Conv(name="fc1", out=squeeze, kernel=1),
            LAYER_TYPES[self.activation](name="act"),
            Conv(name="fc2", out=channels, kernel=1),
            LAYER_TYPES[self.gate](name="gate"),
        ))

    def lower(self, x: Ref) -> Lowering:
        self.require(len(x.shape) == 3, "needs a CxHxW feature map", x.shape)
        return (yield from self.expand(x.shape[0]).lower(x))


@register("side")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Side(Block):
    """A side branch: layers(x) is an extra output of the network (an auxiliary classifier);
    x itself passes on unchanged. Its costs count like any other layer's."""

    grouping = True  # its layers are a sequence; it allocates no tensor of its own

    layers: tuple[Node, ...]

    def lower(self, x: Ref) -> Lowering:
        yield from _chain(self.layers, x)
        return x
