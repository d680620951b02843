"""Receptive fields per row of the compiled graph: `receptive_field` runs the rules over the graph
and records each row's size, stride and centre (`ReceptiveField`)."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from ..errors import CnnCostError
from ..graph import GraphNode, compile
from ..net import Net
from ..shapes import Shape
from .paths import MAX_PERIOD, Axis, Field, Number, Path, extent, live, plain
from .rules import rule_for

@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one row, per axis (h, w), in input pixels, exact. `size`: the
    largest field of any position of the row; `stride`: the effective stride (a `Fraction` after
    an upsampling); `offset`: the centre of output position (0, 0) in input pixel coordinates
    (pixel i's centre is i; position (i, j) is centred near `offset + (i, j) * stride`, exactly
    there unless an upsampling made positions vary; where (0, 0) reads nothing, the first
    position in row-major order that reads some pixel). `whole_input`: the row depends on every
    pixel (after global pooling, flatten, linear, or a broadcast gate)."""

    name: str
    type: str
    size: tuple[Number, Number]
    stride: tuple[Number, Number]
    offset: tuple[Number | None, Number | None]
    whole_input: bool = False
    note: str = ""
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def receptive_field(self) -> Number | tuple[Number, Number]:
        """One number where h and w agree, else (h, w)."""
        return _one(self.size)

    @property
    def effective_stride(self) -> Number | tuple[Number, Number]:
        return _one(self.stride)

    @property
    def center_offset(self) -> Number | tuple[Number, Number]:
        return _one(self.offset)

    def extent(self, i: int = 0, j: int = 0) -> tuple[tuple[int, int], tuple[int, int]] | tuple[None, None]:
        """((first row, last row), (first column, last column)), the box around the input pixels
        output position (i, j) depends on, not clipped to the image; (None, None): it depends on
        no pixel (a transposed conv's gap on either axis)."""
        f = self.model
        if f.span is not None:
            return f.span
        return extent(f.paths, i, j)


def _one(values: tuple[Any, Any]) -> Any:
    return values[0] if values[0] == values[1] else values


def receptive_field(arch: str | os.PathLike[str] | Net, input: Shape | None = None) -> list[ReceptiveField]:
    """The receptive field of every row of the compiled graph (the input first), per axis (h, w).

    >>> import cnncost
    >>> pool5 = {r.name: r for r in cnncost.receptive_field("alexnet")}["pool5"]
    >>> pool5.receptive_field, pool5.effective_stride, pool5.center_offset
    (195, 32, 31)
    """
    from ..api import load
    graph = compile(load(arch), input)
    shape = graph.nodes[0].output_shape
    if len(shape) != 3:
        raise CnnCostError(f"receptive fields need a CxHxW input, got {'x'.join(map(str, shape))}")
    start = Axis((0,), (0,), 1)
    fields: list[Field] = [Field(((start, start),), (shape[1], shape[2]))]
    for node in graph.nodes[1:]:
        try:
            fields.append(rule_for(node.layer)(node.layer, node, [fields[i] for i in node.inputs]))
        except CnnCostError as error:
            raise error.at(path=node.path, source=graph.source or None) from None
    return [_record(node, f) for node, f in zip(graph.nodes, fields)]


def _positions(paths: Sequence[Path], i: int, n: int) -> tuple[range, str]:
    """Positions along axis i that show every field the row has: one period where the classes
    move alike; where a broadcast class (stride 0) meets a moving one their hull grows with the
    distance between them, so the map's n positions."""
    axes = [p[i] for p in paths]
    if len({ax.jump for ax in axes}) > 1:
        return range(n), f"over the map's {n} positions"
    period = math.lcm(*(ax.period for ax in axes))
    if period > MAX_PERIOD:
        raise CnnCostError(f"the receptive field's pattern repeats only every {period:,} positions")
    return range(period), f"period {period}"


def _first_read(paths: Sequence[Path], rows: range, columns: range) -> tuple[int, int]:
    """The first position (u, v) in row-major order at which some class reads a pixel."""
    first_column = [next((v for v in columns if p[1].at(v) is not None), None) for p in paths]
    for u in rows:
        live = [v for p, v in zip(paths, first_column) if v is not None and p[0].at(u) is not None]
        if live:
            return u, min(live)
    raise AssertionError("a live class reads some pixel within one period")  # pragma: no cover


def _sizes(paths: Sequence[Path], rows: range, columns: range) -> tuple[list[list[int]], bool]:
    """Per axis, the sizes of the fields of the positions rows x columns that read some pixel,
    and whether some position reads none. The field along axis i at (u, v) depends on v only
    through which classes are live at v: one pass over u per distinct set of them."""
    sizes: list[list[int]] = [[], []]
    gaps = False
    positions = (rows, columns)
    for i in (0, 1):
        other = 1 - i
        groups = dict.fromkeys(tuple(k for k, p in enumerate(paths) if p[other].at(v) is not None)
                               for v in positions[other])
        for alive in groups:
            gaps = gaps or not alive
            for u in positions[i] if alive else ():
                spans = [s for s in (paths[k][i].at(u) for k in alive) if s is not None]
                if spans:
                    sizes[i].append(max(s[1] for s in spans) - min(s[0] for s in spans) + 1)
                else:
                    gaps = True
    return sizes, gaps


def _record(node: GraphNode, f: Field) -> ReceptiveField:
    stride = (plain(f.stride[0]), plain(f.stride[1]))
    notes = [f.note] if f.note else []
    if f.span is not None:
        sizes = tuple(hi - lo + 1 for lo, hi in f.span)
        offsets = tuple(plain(Fraction(lo + hi, 2)) for lo, hi in f.span)
        whole = all(f.span[i] == (0, f.image[i] - 1) for i in (0, 1))
        return ReceptiveField(node.path, node.type, sizes, stride, offsets, whole, "; ".join(notes), f)  # type: ignore[arg-type]
    out = node.output_shape
    paths = [p for p in f.paths if live(p)]
    sizes: list[list[int]] = [[], []]
    if len(paths) == 1:  # one class (the zoo's every row): a product, so per axis
        grid = [(range(ax.period), f"period {ax.period}") for ax in paths[0]]
        sizes = [ax.sizes() for ax in paths[0]]
        gaps = any(len(sizes[i]) < ax.period for i, ax in enumerate(paths[0]))
    else:
        grid = [_positions(paths, i, out[1 + i] if len(out) == 3 else 1) if paths else (range(0), "") for i in (0, 1)]
        sizes, gaps = _sizes(paths, grid[0][0], grid[1][0])
    if not sizes[0]:  # no position reads any input (a stride that lands on a transposed conv's gaps)
        notes.append("no position reads any input")
        return ReceptiveField(node.path, node.type, (0, 0), stride, (None, None), False, "; ".join(notes), f)
    if gaps:
        notes.append("some positions read no input")
    for i, name in enumerate("hw"):
        if min(sizes[i]) != max(sizes[i]):
            notes.append(f"{name}: the field varies with the position ({min(sizes[i])}..{max(sizes[i])}, "
                         f"{grid[i][1]})")
    box = extent(paths, 0, 0)
    if box[0] is None:
        box = extent(paths, *_first_read(paths, grid[0][0], grid[1][0]))
    offsets = tuple(plain(Fraction(lo + hi, 2)) for lo, hi in box)  # type: ignore[union-attr]
    return ReceptiveField(node.path, node.type, (max(sizes[0]), max(sizes[1])), stride, offsets,  # type: ignore[arg-type]
                          False, "; ".join(notes), f)
