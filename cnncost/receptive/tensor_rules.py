"""Receptive-field rules of the tensor ops (`layers/tensor.py`, `layers/arith.py`, the merges
of `layers/merge.py`); `rules.py` takes them into `RULES`.

A field is followed through ops that keep a channels-first C x H x W map: element-wise ops,
channel slices, slices, chunks and splits along H or W (a shift and a stride), expansions of a
1-position axis. An op that leaves that layout (a permute or transpose that moves H or W, a
reshape or select that changes the rank of a map, a stack) or that reduces over H or W mixes the
positions: from there on every position is taken to see the whole map, as after a flatten, and
the report says so. The element-wise merges (sub, div, maximum, minimum, stack) take add's rule
(`rules._merge`). Tensors that are not maps (vectors, token sequences) keep their field."""
from __future__ import annotations

from typing import Any, Callable

from ..graph import GraphNode
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ..layers.reshape import Chunk
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from .paths import Axis, Field, classes, constant_axis, window_axis

Rule = Callable[[Any, GraphNode, list[Field]], Field]


def _same(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    return ins[0]


def _axes(field: Field, make: Callable[[int, Axis], Axis], whole: tuple[int, ...] | None = None) -> Field:
    """Each (H, W) axis of each class through `make(i, axis)`; `whole` (the input shape): every
    position then sees the whole map (rules.per_axis's `reduce`)."""
    span = field.span
    if whole is not None and span is None:
        span = field.reach(whole)
    paths = [(make(0, h), make(1, w)) for h, w in field.paths]
    return Field(classes(paths, whole_map=span is not None), field.image, span, field.note)


def whole_map(node: GraphNode, ins: list[Field]) -> Field:
    """Every output position sees the whole input map (as after a flatten), with a note."""
    shape = node.input_shape
    field = _axes(ins[0], lambda i, ax: window_axis(ax, shape[1 + i], shape[1 + i], 0), whole=shape)
    note = ins[0].note or (f"{node.path} ({node.type}) leaves the channels-first map: from there on every "
                           "position is taken to see the whole map")
    return Field(field.paths, field.image, field.span, note)


def _is_map(node: GraphNode) -> bool:
    return len(node.input_shape) == 3


def _reorder(layer: Permute | Transpose, node: GraphNode, ins: list[Field]) -> Field:
    if not _is_map(node) or layer.order(node.input_shape) == (0, 1, 2):
        return ins[0]
    return whole_map(node, ins)


def _along(layer: Slice | Chunk | Split, node: GraphNode, ins: list[Field]) -> Field:
    """Position v of the piece is position first + v x step of the input along the sliced axis."""
    x = node.input_shape
    if not _is_map(node):
        return ins[0]
    d = layer.dim % 3
    if d == 0:
        return ins[0]
    first, step = layer.first(x), getattr(layer, "step", 1)
    return _axes(ins[0], lambda i, ax: window_axis(ax, 1, step, -first) if i == d - 1 else ax)


def _reshaped(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    """A view to another rank: a map keeps its field only where the map stays as it was."""
    if not _is_map(node) or node.output_shape == node.input_shape:
        return ins[0]
    return whole_map(node, ins)


def _select(layer: Select, node: GraphNode, ins: list[Field]) -> Field:
    return ins[0] if not _is_map(node) or layer.dim % 3 == 0 else whole_map(node, ins)


def _expand(layer: Expand, node: GraphNode, ins: list[Field]) -> Field:
    x, y = node.input_shape, node.output_shape
    if not _is_map(node) or len(y) != 3:
        return ins[0] if not _is_map(node) else whole_map(node, ins)
    return _axes(ins[0], lambda i, ax: constant_axis(ax) if x[1 + i] == 1 and y[1 + i] > 1 else ax)


def _reduce(layer: Reduce, node: GraphNode, ins: list[Field]) -> Field:
    if not _is_map(node) or set(layer.reduced(node.input_shape)) == {0}:
        return ins[0]
    return whole_map(node, ins)


RULES: dict[type, Rule] = {
    Permute: _reorder, Transpose: _reorder, Slice: _along, Chunk: _along, Split: _along,
    Unflatten: _reshaped, Select: _select, Expand: _expand, Contiguous: _same, Reduce: _reduce,
    Arith: _same, Learnable: _same, Affine: _same, Tokens: _same,
}
