"""A network: a name, its per-sample inputs (one or more shapes of any rank) and a list of nodes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import SpecError
from .layers.base import Node
from .shapes import Shape, parse_shape


WARNING = "WARNING: "  # starts an importer's warning among the notes' '; '-separated parts


def note_warnings(notes: str) -> tuple[str, ...]:
    """The warnings among a net's notes, each one sentence without its 'WARNING: '."""
    return tuple(part[len(WARNING):] for part in (notes or "").split("; ") if part.startswith(WARNING))


@dataclass(frozen=True)
class Net:
    """A whole architecture. `input` is per sample, a shape of any rank ((3, 224, 224), (768,),
    (3, 16, 112, 112)); batch size is a report option. A net with several inputs is given them as a
    list of shapes (named input, input1, input2, ...) or a mapping of names to shapes; `input` then
    holds the first one's shape, `input_name` its name and `more_inputs` the others, by name
    (`named_inputs`: all of them). The first layer reads the first input; others reach an input
    by name with `from`.

    >>> from cnncost import Net, Conv, ReLU
    >>> net = Net("tiny", input=(3, 32, 32), layers=[Conv(out=8, kernel=3, padding=1), ReLU()])
    >>> Net("two", input={"a": (3, 8, 8), "b": (5,)}, layers=[]).named_inputs
    (('a', (3, 8, 8)), ('b', (5,)))
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
    # The inputs after the first, as (name, shape) pairs; the first input's name.
    more_inputs: tuple[tuple[str, Shape], ...] = ()
    input_name: str = "input"

    def __post_init__(self) -> None:
        named = _named_inputs(self.input, self.source)
        if named is not None:
            (first_name, first), *more = named
            object.__setattr__(self, "input_name", first_name)
            object.__setattr__(self, "more_inputs", tuple(more))
            object.__setattr__(self, "input", first)
        object.__setattr__(self, "input", tuple(self.input))
        object.__setattr__(self, "more_inputs", tuple((n, tuple(s)) for n, s in self.more_inputs))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", (self.outputs,) if isinstance(self.outputs, str) else tuple(self.outputs))
        if not all(isinstance(o, str) and o for o in self.outputs):
            raise SpecError(f"outputs must be layer names, got {list(self.outputs)}", source=self.source or None)
        if not self.input or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in self.input):
            raise SpecError(f"input must be positive integers like [3, 224, 224], got {list(self.input)}",
                            source=self.source or None)
        _check_inputs(self.named_inputs, self.source)
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Node):
                raise SpecError(f"layer {i} is a {type(layer).__name__}, not a layer", source=self.source or None)

    @property
    def named_inputs(self) -> tuple[tuple[str, Shape], ...]:
        """Every input as (name, shape), the first (the one the first layer reads) first."""
        return ((self.input_name, self.input),) + self.more_inputs

    @property
    def warnings(self) -> tuple[str, ...]:
        """What an importer warned about in the notes (an ONNX export whose batch norms were folded)."""
        return note_warnings(self.notes)

    def with_input(self, shape: Any) -> Net:
        """This net at other input sizes: a shape (or '3x224x224') replaces the first input's; a
        list of shapes replaces every input's, in order; a mapping replaces the named inputs'."""
        if isinstance(shape, str):
            try:
                shape = parse_shape(shape)
            except ValueError as error:
                raise SpecError(f"input must be like (3, 224, 224) or '3x224x224': {error}") from None
        if isinstance(shape, Mapping):
            names = dict(self.named_inputs)
            unknown = [n for n in shape if n not in names]
            if unknown:
                raise SpecError(f"the net has no input named '{unknown[0]}'; its inputs: {', '.join(names)}",
                                source=self.source or None)
            return dataclasses.replace(self, input={**names, **shape})  # type: ignore[arg-type]  # named: __post_init__ splits it
        if _is_shape_list(shape):
            if len(shape) != len(self.named_inputs):
                raise SpecError(f"{len(shape)} input shapes given for a net with {len(self.named_inputs)} inputs "
                                f"({', '.join(n for n, _ in self.named_inputs)})", source=self.source or None)
            return dataclasses.replace(self, input={n: s for (n, _), s in zip(self.named_inputs, shape)})  # type: ignore[arg-type]
        if not hasattr(shape, "__iter__"):
            raise SpecError(f"input must be a sequence of positive integers like (3, 224, 224), got {shape!r}")
        return dataclasses.replace(self, input=tuple(shape))


def several_inputs(value: Any) -> bool:
    """An input argument that gives several inputs: a mapping of names to shapes or a list of shapes."""
    return isinstance(value, Mapping) or _is_shape_list(value)


def _is_shape_list(value: Any) -> bool:
    """A list of shapes ([[3, 8, 8], [5]]), as opposed to one shape ([3, 8, 8])."""
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(v, (list, tuple)) for v in value))


def _named_inputs(value: Any, source: str) -> list[tuple[str, Any]] | None:
    """Several inputs as (name, shape) pairs: a mapping by its names, a list of shapes as input,
    input1, input2, ...; None for one shape."""
    if isinstance(value, Mapping):
        if not value:
            raise SpecError("input must name at least one input", source=source or None)
        return [(name, _as_shape(name, shape, source)) for name, shape in value.items()]
    if _is_shape_list(value):
        return [("input" if i == 0 else f"input{i}", tuple(shape)) for i, shape in enumerate(value)]
    return None


def _as_shape(name: Any, value: Any, source: str) -> Shape:
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"input '{name}' must be a shape like [3, 224, 224], got {value!r}"[:200],
                        source=source or None)
    return tuple(value)


def _check_inputs(named: tuple[tuple[str, Shape], ...], source: str) -> None:
    seen: set[str] = set()
    for name, shape in named:
        if not isinstance(name, str) or not name or "." in name:
            raise SpecError(f"input names must be non-empty and contain no '.', got {name!r}", source=source or None)
        if name in seen:
            raise SpecError(f"two inputs are named '{name}'", source=source or None)
        seen.add(name)
        if not shape or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in shape):
            raise SpecError(f"input '{name}' must be positive integers like [3, 224, 224], got {list(shape)}",
                            source=source or None)


def child_name(node: Node, index: int) -> str:
    """The path component of a node: its name, or its type and position when it has none."""
    return node.name if node.name is not None else f"{node.type_name}{index}"
