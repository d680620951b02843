"""Node types and the registry that maps a spec's `type:` to a dataclass.

A leaf `Layer` is an op schema: its fields and their validation, output shape, parameter count,
multiply-accumulates, display text and the plain properties the passes read (arity, tabulated,
creates_tensor, elementwise, counts_unknown). What each pass does with a layer lives in that
pass's own class-keyed table: the memory model (`cnncost.memory.rules`), the torch build
(`cnncost.torch_backend.layer_modules`), the receptive field (`cnncost.receptive.rules`) and each
peer tool's convention (`cnncost.counting.<tool>`). `tests/layers/test_completeness.py` names every
(type, pass) pair without a rule. A `Block` composes other nodes and lowers into leaves (`lower`).
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import reprlib
import types
import typing
from collections.abc import MutableMapping
from typing import Any, Callable, ClassVar, Generator, Literal

from ..errors import ShapeError, SpecError
from ..shapes import Shape
from .strides import Layout, contiguous, iterator_layout


class LayerTypes(MutableMapping):
    """Spec `type:` name -> node class: the registry. `cnncost/layers/__init__.py` declares the
    module of each built-in name; the module is imported the first time one of its names is looked
    up, and its `@register` classes fill the table (so a command imports only the layer families its
    net uses). Names, `in` and `len` import nothing; values and items import every family."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Node]] = {}
        self._modules: dict[str, str] = {}  # declared name -> its module, imported on first lookup

    def declare(self, module: str, names: typing.Iterable[str]) -> None:
        for name in names:
            self._modules[name] = module

    def __getitem__(self, name: str) -> type[Node]:
        cls = self._classes.get(name)
        if cls is None:
            module = self._modules.get(name)
            if module is None:
                raise KeyError(name)
            importlib.import_module(module)
            cls = self._classes.get(name)
            if cls is None:
                raise LookupError(f"layer type '{name}' is declared in {module}, which registers no such type")
        return cls

    def __setitem__(self, name: str, cls: type[Node]) -> None:
        self._classes[name] = cls

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._classes.pop(name, None)
        self._modules.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._classes or name in self._modules

    def __iter__(self) -> typing.Iterator[str]:
        return iter(dict.fromkeys([*self._modules, *self._classes]))

    def __len__(self) -> int:
        return len(self._modules.keys() | self._classes.keys())


LAYER_TYPES = LayerTypes()
_NodeClass = typing.TypeVar("_NodeClass", bound="type[Node]")


def register(type_name: str) -> Callable[[_NodeClass], _NodeClass]:
    """Register a node class under its spec `type:` name; a duplicate name is an error, and so is a
    name declared (`cnncost/layers/__init__.py`) in another module than the class's. A subclass that
    declares no field of its own needs no `@dataclass` of its own (it inherits its parent's
    `__init__`; each dataclass costs the cold start half a millisecond); one that declares fields
    must have it."""
    def decorate(cls: _NodeClass) -> _NodeClass:
        if type_name in LAYER_TYPES._classes:
            raise ValueError(f"layer type '{type_name}' is registered twice "
                             f"({LAYER_TYPES._classes[type_name].__qualname__} and {cls.__qualname__})")
        declared = LAYER_TYPES._modules.get(type_name, cls.__module__)
        if declared != cls.__module__:
            raise ValueError(f"layer type '{type_name}' is declared in {declared}, but {cls.__qualname__} is in "
                             f"{cls.__module__}")
        _require_own_dataclass(cls)
        cls.type_name = type_name
        LAYER_TYPES[type_name] = cls
        return cls
    return decorate


def _require_own_dataclass(cls: type) -> None:
    """A class whose body declares fields must be a dataclass itself, or they would not be fields."""
    for klass in cls.__mro__:
        if klass is Node:
            return
        own = [name for name, hint in klass.__dict__.get("__annotations__", {}).items()
               if "ClassVar" not in str(hint)]
        if own and "__dataclass_fields__" not in klass.__dict__:
            raise TypeError(f"{klass.__qualname__} declares fields ({', '.join(own)}) but is not decorated "
                            "with @dataclass(frozen=True, kw_only=True, eq=False, repr=False)")


def suggest(word: str, allowed: typing.Iterable[str]) -> str:
    """"; did you mean 'k'? allowed: a, b" — the tail of every unknown-name message."""
    allowed = sorted(str(a) for a in allowed)
    close = difflib.get_close_matches(str(word), allowed, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ";"
    return f"{hint} allowed: {', '.join(allowed)}"


_COMPARED: dict[type, tuple[str, ...]] = {}


def _compared(cls: type) -> tuple[str, ...]:
    names = _COMPARED.get(cls)
    if names is None:
        names = _COMPARED[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.compare)
    return names


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Node:
    """Anything that can stand in a spec's layer list.

    Every node type is a frozen keyword-only dataclass with `eq=False, repr=False`: equality,
    hash and repr are these, shared (the same as dataclasses generates: the fields as a tuple,
    the same class on both sides), so that importing the 50-odd types does not compile three
    more functions each (the CLI's cold start)."""

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = _compared(self.__class__)
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _compared(self.__class__)))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self) if f.repr)
        return f"{self.__class__.__qualname__}({fields})"

    name: str | None = None
    # Names of earlier nodes this one reads (YAML `from:`); None: the previous node's output.
    inputs: tuple[str, ...] | None = None
    type_name: ClassVar[str] = "node"

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        for field_name, check, hint in _field_checks(type(self)):
            value = getattr(self, field_name)
            if isinstance(value, list):  # keep nodes hashable and comparable whatever the caller passed
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
                object.__setattr__(self, field_name, value)
            if not check(value):
                key = "from" if field_name == "inputs" else field_name  # its YAML spelling
                raise SpecError(f"field '{key}' must be {_describe(hint)}, "
                                f"got {_short(value)}", path=self.name, type_name=self.type_name)
        self._check_place()
        try:
            self.validate()
        except ShapeError as error:  # `require` in validate() judges fields, not shapes
            raise SpecError(error.problem, path=error.path, type_name=error.type_name) from None

    def _check_place(self) -> None:
        if self.name is not None and (not self.name or "." in self.name):
            raise SpecError(f"name {self.name!r} must be non-empty and contain no '.'",
                            path=self.name, type_name=self.type_name)
        if self.inputs is not None and (not self.inputs or not all(self.inputs)):
            raise SpecError("'from' must name at least one earlier node", path=self.name,
                            type_name=self.type_name)

    def placed(self, name: str | None, inputs: tuple[str, ...] | None) -> Node:
        """This node named `name`, reading `inputs` (None: the node before it), its other fields as
        they are: `dataclasses.replace(self, name=name, inputs=inputs)` without judging again the
        fields judged when it was made (an importer places each layer it made once its place in the
        net is known: half the layer checks of an import)."""
        other = object.__new__(self.__class__)
        other.__dict__.update(self.__dict__)
        object.__setattr__(other, "name", name)
        object.__setattr__(other, "inputs", inputs)
        for field_name, check, hint in _field_checks(type(self))[:2]:  # Node's own: name, inputs
            if not check(getattr(other, field_name)):
                raise SpecError(f"field '{'from' if field_name == 'inputs' else field_name}' must be "
                                f"{_describe(hint)}, got {_short(getattr(other, field_name))}",
                                path=None, type_name=self.type_name)
        other._check_place()
        return other

    def validate(self) -> None:
        """Check field values that the type hints cannot express (positivity, divisibility...)."""

    def fail(self, problem: str, shape: Shape | None = None) -> typing.NoReturn:
        raise ShapeError(problem, path=self.name, type_name=self.type_name, shape=shape)

    def require(self, condition: bool, problem: str, shape: Shape | None = None) -> None:
        if not condition:
            self.fail(problem, shape)

    def require_positive(self, **values: int | tuple[int, ...]) -> None:
        for field_name, value in values.items():
            items = value if isinstance(value, tuple) else (value,)
            if any(v < 1 for v in items):
                raise SpecError(f"field '{field_name}' must be positive, got {value!r}",
                                path=self.name, type_name=self.type_name)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def required_fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]


class Layer(Node):
    """A leaf: one operation, one output tensor (or a view of its input).

    A layer reads one tensor (`arity = 1`). Layers with `arity = None` (merges) read every tensor
    named in `inputs` and implement `merge_shape`; their pass rules get lists.
    """

    arity: ClassVar[int | None] = 1
    min_inputs: ClassVar[int] = 1

    # False where the lecture's tables fold the layer into the row before it (ReLU, norms, dropout),
    # so that its output is not counted under the 'lecture' activation convention.
    tabulated: ClassVar[bool] = True

    # True for the ops whose MACs are a matrix product (conv, transposed conv, linear): FLOPs count
    # 2 per MAC forward, and the backward pass computes an input and a weight gradient of as many.
    matmul_like: ClassVar[bool] = False
    # False where the weights are buffers (a fixed blur filter): no weight gradient in backward.
    has_weight_gradient: ClassVar[bool] = True

    # False for in-place ops and views: they produce no new tensor.
    def creates_tensor(self) -> bool:
        return True

    # True for PyTorch's element-wise (TensorIterator) ops: they write NCHW when the input's
    # strides are ambiguous (one channel or one position), where other ops keep channels last.
    elementwise: ClassVar[bool] = False

    # The figures this type cannot give (an opaque node's MACs); reports show them as unknown, not 0.
    counts_unknown: ClassVar[tuple[str, ...]] = ()

    def out_shape(self, x: Shape) -> Shape:
        raise NotImplementedError

    def params(self, x: Shape) -> int:
        return 0

    def macs(self, x: Shape, y: Shape) -> int:
        return 0

    def macs_per_forward(self) -> int:
        """MACs done once per forward pass whatever the batch (an MLP making a position bias
        from a coordinates buffer), beside the per-sample `macs`."""
        return 0

    def backward_per_forward(self, trains: bool) -> int:
        """The backward FLOPs of that work in one training step (none where the layer's
        parameters are frozen: `trains` False)."""
        return 0

    def describe(self) -> str:
        """Kernel, stride, padding and the like, for display."""
        return ""

    def describe_at(self, x: Shape) -> str:
        """`describe` for an input of shape x (a window's kernel shows one size per spatial dim)."""
        return self.describe()

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout | None:
        """Where the output is the input's storage (a view, an in-place op): its layout, (batch
        stride, *strides) as in `layers/strides.py`, from the input's; None where it is a new
        tensor. The compiler asks it of layers that create no tensor: a reshape that cannot view
        its input copies. By default a view keeps the input's batch stride and is contiguous
        within a sample (a crop or a chunk of the channels)."""
        if self.creates_tensor():
            return None
        return layout if y == x else (layout[0], *contiguous(y)[1:])

    def new_layout(self, xs: tuple[Shape, ...], layouts: list[Layout], y: Shape) -> Layout | None:
        """The layout of the new tensor it makes from inputs of these layouts (asked where one is
        a strided view): an element-wise (TensorIterator) op writes in the order of its inputs'
        strides (`layers/strides.iterator_layout`); cat and stack override it. None: the pass's
        own rule (the graph: contiguous; the memory model: its channels-last rules)."""
        if self.elementwise and all(len(x) == len(y) for x in xs):
            return iterator_layout(y, list(zip(xs, layouts)))
        return None

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        """The output shape of a multi-input layer (arity None)."""
        raise NotImplementedError

    def merge_params(self, xs: tuple[Shape, ...]) -> int:
        """The parameters of a multi-input layer; by default those of its first input's layer."""
        return self.params(xs[0])

    def merge_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        """The MACs of a multi-input layer (a matmul reads both operands' shapes)."""
        return self.macs(xs[0], y)

    def expect_map(self, x: Shape) -> None:
        if len(x) != 3:
            self.fail("needs a CxHxW feature map; got a flat vector" if len(x) == 1
                      else f"needs a CxHxW feature map; got a {len(x)}-D shape", x)


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Block(Node):
    """A node made of other nodes: sugar that `lower` turns into graph nodes.

    `lower(x)` is a generator run by `cnncost.graph.compile`: it yields `Visit(child, ref)` to add a
    child (leaf or block) reading the tensor `ref`, or `Merge(layer, refs)` to add a merge row named
    `<block>.<kind>`, receives each one's output `Ref`, and returns the block's output `Ref`.
    Generators let the compiler walk any nesting depth without recursion."""

    # True for blocks that only group layers in sequence; False for multi-branch modules, which the
    # lecture's tables show as one row storing only their output.
    grouping: ClassVar[bool] = False
    # Run under torch.utils.checkpoint in training (activation checkpointing: docs/memory.md)
    checkpoint: bool = False

    def lower(self, x: Ref) -> Generator[Visit | Merge, Ref, Ref]:
        raise NotImplementedError

    def leaf_form(self) -> Layer | None:
        """A leaf this block stands for instead (a concat without branches is a merge)."""
        return None


class Ref(typing.NamedTuple):
    """A tensor of the graph being compiled: the index of the node that made it, and its shape."""

    index: int  # type: ignore[assignment]  # a field named like tuple.index, which it hides
    shape: Shape


class Visit(typing.NamedTuple):
    """A lowering request: add `node` reading `x`, named `name` (default: type and position)."""

    node: Node
    x: Ref
    name: str | None = None


class Merge(typing.NamedTuple):
    """A lowering request: add the multi-input `layer` reading `xs`, as row `<block>.<layer.name>`."""

    layer: Layer
    xs: tuple[Ref, ...]


# A NamedTuple's generated __new__ keeps these annotations as strings that nothing can resolve (it belongs to no
# module before Python 3.12): resolve them here, so introspection (pdoc, inspect.signature) reads the types.
for _request in (Ref, Visit, Merge):
    _request.__new__.__annotations__ = typing.get_type_hints(_request)

# --- field type checking (a spec from YAML can put anything anywhere) ---

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


_CHECKS: dict[type, list[tuple[str, Callable[[Any], bool], Any]]] = {}
_CHECKERS: dict[Any, Callable[[Any], bool]] = {}


def _field_checks(cls: type) -> list[tuple[str, Callable[[Any], bool], Any]]:
    """(field, checker, hint) per field of a node class, built once: nodes are made by the thousand."""
    checks = _CHECKS.get(cls)
    if checks is None:
        hints = _hints(cls)
        checks = _CHECKS[cls] = [(f.name, _checker(hints[f.name]), hints[f.name]) for f in dataclasses.fields(cls)]
    return checks


def _checker(hint: Any) -> Callable[[Any], bool]:
    """A predicate for one type hint, composed once per hint."""
    check = _CHECKERS.get(hint)
    if check is None:
        check = _CHECKERS[hint] = _compose(hint)
    return check


def _compose(hint: Any) -> Callable[[Any], bool]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return lambda v: True
    if origin in (typing.Union, types.UnionType):
        parts = tuple(_checker(h) for h in args)
        if len(parts) == 2:
            first, second = parts
            return lambda v: first(v) or second(v)
        return lambda v: any(p(v) for p in parts)
    if origin is Literal:
        return lambda v: any(v == a and type(v) is type(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _checker(args[0])
            return lambda v: isinstance(v, tuple) and all(item(x) for x in v)
        items = tuple(_checker(a) for a in args)
        return lambda v: isinstance(v, tuple) and len(v) == len(items) and all(c(x) for c, x in zip(items, v))
    if hint is type(None):
        return lambda v: v is None
    if hint is bool:
        return lambda v: v is True or v is False
    if hint is int:
        return lambda v: type(v) is int or (isinstance(v, int) and not isinstance(v, bool))
    if hint is float:
        return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if isinstance(hint, type):
        return lambda v: isinstance(v, hint)
    return lambda v: True


def _matches(value: Any, hint: Any) -> bool:
    return _checker(hint)(value)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0])}"
        return f"a pair [{', '.join(_describe(a) for a in args)}]"
    if hint is type(None):
        return "null"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint)))
