"""A network: a name, a per-sample input shape and a list of nodes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .errors import SpecError
from .layers.base import Node
from .shapes import Shape, parse_shape


WARNING = "WARNING: "  # starts an importer's warning among the notes' '; '-separated parts


def note_warnings(notes: str) -> tuple[str, ...]:
    """The warnings among a net's notes, each one sentence without its 'WARNING: '."""
    return tuple(part[len(WARNING):] for part in (notes or "").split("; ") if part.startswith(WARNING))


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
    # Names of the network's outputs, the main one first; by default the last layer's output, then
    # every other tensor that no layer reads (auxiliary heads), in order.
    outputs: tuple[str, ...] = ()
    # What passes compute from the net, by kind: "graphs" (`cnncost.graph.compile`, by input shape and
    # node cap), "sweep plans" (`cnncost.sweep_plan`).
    memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", tuple(self.input))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", (self.outputs,) if isinstance(self.outputs, str) else tuple(self.outputs))
        if not all(isinstance(o, str) and o for o in self.outputs):
            raise SpecError(f"outputs must be layer names, got {list(self.outputs)}", source=self.source or None)
        if not self.input or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in self.input):
            raise SpecError(f"input must be positive integers like [3, 224, 224], got {list(self.input)}",
                            source=self.source or None)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Node):
                raise SpecError(f"layer {i} is a {type(layer).__name__}, not a layer", source=self.source or None)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What an importer warned about in the notes (an ONNX export whose batch norms were folded)."""
        return note_warnings(self.notes)

    def with_input(self, shape: Shape) -> Net:
        if isinstance(shape, str):
            try:
                shape = parse_shape(shape)
            except ValueError as error:
                raise SpecError(f"input must be like (3, 224, 224) or '3x224x224': {error}") from None
        if not hasattr(shape, "__iter__"):
            raise SpecError(f"input must be a sequence of positive integers like (3, 224, 224), got {shape!r}")
        return dataclasses.replace(self, input=tuple(shape))


def child_name(node: Node, index: int) -> str:
    """The path component of a node: its name, or its type and position when it has none."""
    return node.name if node.name is not None else f"{node.type_name}{index}"
