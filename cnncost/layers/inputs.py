"""A network's second and later inputs (`input`). A net reads one or more per-sample tensors of
any rank; the compiler makes node 0 of the first and one `Input` node per further input right
after it, so every pass has a rule for them. Specs declare inputs in `input:` (a shape, a list of
shapes or a mapping of named shapes) or as leading `{type: input, shape: ...}` layers; a layer
reads an input by name with `from:`.

    input: {image1: [3, 440, 1024], image2: [3, 440, 1024]}
"""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape
from .base import Layer, register


@register("input")
@dataclass(frozen=True, kw_only=True)
class Input(Layer):
    """An input of the net (not the first): a tensor of `shape` per sample that the caller gives.
    It reads nothing, has no parameters or MACs and needs no gradient; its elements count as input,
    as the first input's do."""

    arity = None
    min_inputs = 0

    shape: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.shape) >= 1 and all(type(d) is int and d >= 1 for d in self.shape),
                     f"shape must be positive sizes like [3, 224, 224], got {list(self.shape)}")

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        return tuple(self.shape)

    def out_shape(self, x: Shape) -> Shape:
        return tuple(self.shape)

    def merge_params(self, xs: tuple[Shape, ...]) -> int:
        return 0

    def merge_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        return 0

    def describe(self) -> str:
        return "input"
