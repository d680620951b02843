"""The layer types of imported graphs: an operation cnncost does not know (`opaque`), a second call
of a module whose parameters an earlier node owns (`shared`) and a plain view to another per-sample
shape (`reshape`). The importers make them; a spec may write them too.

    - {name: conv@1, type: shared, of: stem.conv, layer: {type: conv, out: 16, kernel: 3, padding: 1}}
    - {name: unflat, type: reshape, shape: [64, 1, 1]}

An opaque node is never a silent zero: its `describe()` says UNKNOWN, `counts_unknown` names the
figures it cannot give (MACs and what autograd saves), and the importer lists every opaque node in
the net's notes. Its parameters are the exception: they are real tensors the importer counted
(those of the module it stands for), so `weights` is exact and is reported as params.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..shapes import Shape, numel
from .base import LAYER_TYPES, Layer, register
from .strides import Layout
from .tensor import infer_sizes, reshape_layout


@register("opaque")
@dataclass(frozen=True, kw_only=True)
class Opaque(Layer):
    """An operation cnncost does not know (`op`: what it was, e.g. `torch.nn.LSTM` or `aten.erfinv`).

    `shape` is its output per sample as tracing measured it; `weights` the parameters of the
    module it stands for (exact; counted as params). MACs are unknown (0 in sums, flagged), and
    so is what autograd saves: the memory model gives it a new output tensor and saves nothing.
    It reads every tensor in `from` (one or more)."""

    arity = None
    min_inputs = 1
    counts_unknown = ("macs", "flops", "saved_bytes")

    op: str
    shape: tuple[int, ...]
    weights: int = 0

    def validate(self) -> None:
        self.require(bool(self.op), "op must name the unknown operation")
        self.require(len(self.shape) >= 1 and all(d >= 1 for d in self.shape),
                     f"shape must be positive sizes, got {list(self.shape)}")
        self.require(self.weights >= 0, f"weights must be >= 0, got {self.weights}")

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        return tuple(self.shape)

    def out_shape(self, x: Shape) -> Shape:
        return tuple(self.shape)

    def params(self, x: Shape) -> int:
        return self.weights

    def describe(self) -> str:
        return f"UNKNOWN {self.op}: MACs and saved bytes unknown"


def is_opaque(layer: object) -> bool:
    return isinstance(layer, Opaque)


def _canonical(value: Any) -> Any:
    """Lists as tuples, all the way down: YAML gives lists, Python code tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def inner_layer(wrapper: Any) -> Layer:
    """The leaf layer a wrapper's `layer` mapping describes (a `shared` call's, a `fixed` op's),
    named as the wrapper; a bad mapping is one SpecError naming the wrapper."""
    fields = dict(wrapper.layer)
    kind = fields.pop("type", None)
    cls = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Layer) or cls in (Shared, Fixed):
        raise SpecError(f"field 'layer' must be a leaf layer mapping with a 'type', got {wrapper.layer!r}",
                        path=wrapper.name, type_name=wrapper.type_name)
    for key in ("name", "from", "inputs"):
        if key in fields:
            raise SpecError(f"field 'layer' of a {wrapper.type_name} node takes no '{key}'", path=wrapper.name,
                            type_name=wrapper.type_name)
    try:
        return cls(name=wrapper.name, **fields)
    except TypeError as error:
        raise SpecError(f"field 'layer': {error}", path=wrapper.name, type_name=wrapper.type_name) from None


def layer_fields(layer: Layer) -> dict[str, Any]:
    """The mapping `shared` stores for `layer`: its type and the fields that differ from defaults."""
    out: dict[str, Any] = {"type": layer.type_name}
    for f in dataclasses.fields(layer):
        if f.name in ("name", "inputs"):
            continue
        value = getattr(layer, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = value
    return _canonical(out)


@dataclass(frozen=True, kw_only=True)
class Wrapping(Layer):
    """A node that runs the operation of `layer` (a mapping {type: ..., fields...}) without owning
    its parameters: params = 0, MACs those of the operation. The passes apply the inner layer's
    rules (`inner`, made on each use: such nodes are few)."""

    layer: dict  # {type: conv, out: 64, kernel: 3, ...}: a leaf layer, without name or from

    def __post_init__(self) -> None:
        if isinstance(self.layer, dict):
            object.__setattr__(self, "layer", _canonical(self.layer))
        super().__post_init__()

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.inputs, repr(sorted(self.layer.items()))))

    @property
    def inner(self) -> Layer:
        """The layer `layer` describes, named as this node."""
        return inner_layer(self)

    def out_shape(self, x: Shape) -> Shape:
        return self.inner.out_shape(x)

    def params(self, x: Any) -> int:
        return 0

    def macs(self, x: Any, y: Shape) -> int:
        return self.inner.macs(x, y)

    def whose_weights(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        text = self.inner.describe()
        return f"{text} ({self.whose_weights()})" if text else self.whose_weights()


@register("shared")
@dataclass(frozen=True, kw_only=True)
class Shared(Wrapping):
    """A module called again: the operation of `layer`, whose parameters belong to the earlier node
    `of` (a path). params = 0 (they are counted once, at `of`); MACs and what autograd saves are
    those of the call itself (each call saves its input)."""

    of: str

    def validate(self) -> None:
        inner_layer(self)  # a bad mapping is a SpecError here, when the node is made

    def __hash__(self) -> int:
        return hash((self.name, self.inputs, self.of, repr(sorted(self.layer.items()))))

    @property
    def arity(self) -> int | None:  # type: ignore[override]  # a shared merge reads several tensors, like its layer
        return self.inner.arity

    @property
    def tabulated(self) -> bool:  # type: ignore[override]
        return self.inner.tabulated

    @property
    def min_inputs(self) -> int:  # type: ignore[override]
        return self.inner.min_inputs

    def creates_tensor(self) -> bool:
        return self.inner.creates_tensor()

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout | None:
        return self.inner.out_layout(x, y, layout)

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        return self.inner.merge_shape(xs)

    def whose_weights(self) -> str:
        return f"params of {self.of}"


@register("reshape")
@dataclass(frozen=True, kw_only=True)
class Reshape(Layer):
    """x.reshape(N, *shape): the same elements seen as another per-sample shape (one size may be
    -1: what the others leave). A view where PyTorch can make one (a contiguous tensor, and the
    views whose strides allow it), else a copy: a new tensor (`layers/strides.py`). No params,
    no MACs, nothing saved."""

    shape: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.shape) >= 1 and all(d >= 1 or d == -1 for d in self.shape)
                     and list(self.shape).count(-1) <= 1,
                     f"shape must be positive sizes, with at most one -1, got {list(self.shape)}")

    def creates_tensor(self) -> bool:
        return False

    def out_shape(self, x: Shape) -> Shape:
        return infer_sizes(self, tuple(self.shape), numel(x), x)

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout | None:
        return reshape_layout(x, y, layout)

    def describe(self) -> str:
        return "-> " + "x".join(map(str, self.shape))


@register("fixed")
class Fixed(Wrapping):
    """An operation whose weights are fixed buffers, not parameters: an anti-aliasing blur filter
    (`F.conv2d(x, self.filt, groups=C)` with `filt` a registered buffer, timm's BlurPool2d).
    `layer` is the operation ({type: conv, ...}). params = 0 (buffers are never params, and get no
    gradient, so no weight-gradient FLOPs); MACs and what autograd saves are the layer's own (a
    convolution saves its input and its weight whether or not the weight needs a gradient)."""

    matmul_like = True  # its MACs are a product's; its backward computes the input's gradient only
    has_weight_gradient = False

    def validate(self) -> None:
        inner = inner_layer(self)
        self.require(inner.matmul_like, f"a fixed op is a layer with weights (conv, linear...), got '{inner.type_name}'")

    def whose_weights(self) -> str:
        return "fixed weights"
