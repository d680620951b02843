"""A network: a name, a per-sample input shape and a list of nodes."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

from .errors import SpecError
from .layers.base import Block, Node
from .shapes import Shape, parse_shape


@dataclass(frozen=True)
class Net:
    """A whole architecture. `input` is per sample, (C, H, W); batch size is a report option.

    >>> from cnncost import Net, Conv, ReLU
    >>> net = Net("tiny", input=(3, 32, 32), layers=[Conv(out=8, kernel=3, padding=1), ReLU()])
    """

    name: str
    input: Shape
    layers: tuple[Node, ...]
    notes: str = ""
    source: str = field(default="", compare=False)  # file it came from, for error messages

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", tuple(self.input))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.input or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in self.input):
            raise SpecError(f"input must be positive integers like [3, 224, 224], got {list(self.input)}",
                            source=self.source or None)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Node):
                raise SpecError(f"layer {i} is a {type(layer).__name__}, not a layer", source=self.source or None)

    def with_input(self, shape: Shape) -> Net:
        if isinstance(shape, str):
            try:
                shape = parse_shape(shape)
            except ValueError as error:
                raise SpecError(f"input must be like (3, 224, 224) or '3x224x224': {error}") from None
        if not hasattr(shape, "__iter__"):
            raise SpecError(f"input must be a sequence of positive integers like (3, 224, 224), got {shape!r}")
        return Net(self.name, tuple(shape), self.layers, self.notes, self.source)


def child_name(node: Node, index: int) -> str:
    """The path component of a node: its name, or its type and position when it has none."""
    return node.name if node.name is not None else f"{node.type_name}{index}"


def propagate_named(block: Block, x: Shape, visit: Callable[[Node, Shape, str], Shape],
                    merge: Callable[[str, Shape], None]) -> Shape:
    """Walk a block's children as the engine does, each with its path component: the one naming
    rule that the engine, the memory model and the torch builder share."""
    index = itertools.count()
    return block.propagate(x, lambda child, shape: visit(child, shape, child_name(child, next(index))), merge)
