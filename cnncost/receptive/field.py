"""Receptive fields per row of the compiled graph: `receptive_field` runs the rules over the graph
and records each row's size, stride and centre (`ReceptiveField`)."""
from __future__ import annotations

import itertools
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
from .rules import AXIS_NAMES, rule_for

@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one row, per spatial axis ((l), (h, w) or (d, h, w): the input map's
    spatial dims), in input pixels, exact. `size`: the largest field of any position of the row;
    `stride`: the effective stride (a `Fraction` after an upsampling); `offset`: the centre of
    output position (0, 0) in input pixel coordinates (pixel i's centre is i; position (i, j) is
    centred near `offset + (i, j) * stride`, exactly there unless an upsampling made positions
    vary; where (0, 0) reads nothing, the first position in row-major order that reads some
    pixel). `whole_input`: the row depends on every pixel (after global pooling, flatten, linear,
    or a broadcast gate). Past a layer whose output is not a channels-first map of the input's
    positions (tokens, a permute) the field is not defined: size, stride and offset are None on
    every axis and `note` says where and why."""

    name: str
    type: str
    size: tuple[Number | None, ...]
    stride: tuple[Number | None, ...]
    offset: tuple[Number | None, ...]
    whole_input: bool = False
    note: str = ""
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def defined(self) -> bool:
        return not self.model.lost

    @property
    def receptive_field(self) -> Number | tuple[Number, ...] | None:
        """One number where every axis agrees, else one per axis ((h, w) on a C x H x W input)."""
        return _one(self.size)

    @property
    def effective_stride(self) -> Number | tuple[Number, ...] | None:
        return _one(self.stride)

    @property
    def center_offset(self) -> Number | tuple[Number, ...] | None:
        return _one(self.offset)

    def extent(self, *position: int) -> tuple[tuple[int, int], ...] | tuple[None, ...]:
        """((first row, last row), (first column, last column)) on a C x H x W input (one span per
        spatial axis in general), the box around the input pixels output position (i, j) (default:
        the first) depends on, not clipped to the image; None per axis: it depends on no pixel (a
        transposed conv's gap on some axis) or the field is not defined."""
        f = self.model
        position = position or (0,) * f.rank
        if f.lost:
            return (None,) * f.rank
        if f.span is not None:
            return f.span
        return extent(f.paths, *position)


def _one(values: tuple[Any, ...]) -> Any:
    return values[0] if len(set(values)) == 1 else values


def receptive_field(arch: str | os.PathLike[str] | Net | Any, input: Shape | str | None = None, *,
                    input_size: Sequence[int] | None = None) -> list[ReceptiveField]:
    """The receptive field of every row of the compiled graph (the input first), per spatial axis
    of the input map ((l), (h, w) or (d, h, w)). `arch` and `input` as `cnncost.table` takes them
    (an `nn.Module`, an ONNX file, a torch source...; a batch given with the input is dropped).

    >>> import cnncost
    >>> pool5 = {r.name: r for r in cnncost.receptive_field("alexnet")}["pool5"]
    >>> pool5.receptive_field, pool5.effective_stride, pool5.center_offset
    (195, 32, 31)
    """
    from ..resolve import resolve_sized
    sized = resolve_sized(arch, input=input, input_size=input_size)
    graph = compile(sized.net, sized.input)
    shape = graph.nodes[0].output_shape
    if not 2 <= len(shape) <= 4:
        raise CnnCostError("receptive fields need a channels-first map input with 1, 2 or 3 spatial dims "
                           f"(C x L, C x H x W, C x D x H x W), got {'x'.join(map(str, shape))}")
    start = Axis((0,), (0,), 1)
    fields: list[Field] = [Field(((start,) * (len(shape) - 1),), tuple(shape[1:]))]
    for node in graph.nodes[1:]:
        ins = [fields[i] for i in node.inputs]
        gone = next((f for f in ins if f.lost), None)
        if gone is not None:  # not defined past an earlier row: nothing to compute
            fields.append(gone)
            continue
        assert node.layer is not None  # every node past the input has one
        try:
            fields.append(rule_for(node.layer)(node.layer, node, ins))
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


def _first_read(paths: Sequence[Path], grid: Sequence[range]) -> tuple[int, ...]:
    """The first position in row-major order at which some class reads a pixel."""
    for position in itertools.product(*grid):
        if any(all(ax.at(u) is not None for ax, u in zip(p, position)) for p in paths):
            return position
    raise AssertionError("a live class reads some pixel within one period")  # pragma: no cover


def _sizes(paths: Sequence[Path], grid: Sequence[range]) -> tuple[list[list[int]], bool]:
    """Per axis, the sizes of the fields of the grid's positions that read some pixel, and
    whether some position reads none. The field along axis i at a position depends on the other
    coordinates only through which classes are live there: one pass over axis i per distinct set
    of them (the intersection of one live set per other axis)."""
    rank = len(grid)
    sizes: list[list[int]] = [[] for _ in range(rank)]
    gaps = False
    live_sets = [dict.fromkeys(frozenset(k for k, p in enumerate(paths) if p[j].at(v) is not None)
                               for v in grid[j]) for j in range(rank)]
    for i in range(rank):
        others = [list(live_sets[j]) for j in range(rank) if j != i]
        groups = dict.fromkeys(tuple(sorted(frozenset(range(len(paths))).intersection(*combo)))
                               for combo in itertools.product(*others))
        for alive in groups:
            gaps = gaps or not alive
            for u in grid[i] if alive else ():
                spans = [s for s in (paths[k][i].at(u) for k in alive) if s is not None]
                if spans:
                    sizes[i].append(max(s[1] for s in spans) - min(s[0] for s in spans) + 1)
                else:
                    gaps = True
    return sizes, gaps


def _record(node: GraphNode, f: Field) -> ReceptiveField:
    rank = f.rank
    if f.lost:
        return ReceptiveField(node.path, node.type, (None,) * rank, (None,) * rank, (None,) * rank, False, f.lost, f)
    stride = tuple(plain(s) for s in f.stride)
    notes = [f.note] if f.note else []
    if f.span is not None:
        widths = tuple(hi - lo + 1 for lo, hi in f.span)
        offsets = tuple(plain(Fraction(lo + hi, 2)) for lo, hi in f.span)
        whole = all(f.span[i] == (0, f.image[i] - 1) for i in range(rank))
        return ReceptiveField(node.path, node.type, widths, stride, offsets, whole, "; ".join(notes), f)
    out = node.output_shape
    paths = [p for p in f.paths if live(p)]
    sizes: list[list[int]] = [[] for _ in range(rank)]
    if len(paths) == 1:  # one class (the zoo's every row): a product, so per axis
        grid = [(range(ax.period), f"period {ax.period}") for ax in paths[0]]
        sizes = [ax.sizes() for ax in paths[0]]
        gaps = any(len(sizes[i]) < ax.period for i, ax in enumerate(paths[0]))
    else:
        grid = [_positions(paths, i, out[1 + i] if len(out) == rank + 1 else 1) if paths else (range(0), "")
                for i in range(rank)]
        sizes, gaps = _sizes(paths, [g[0] for g in grid])
    if not sizes[0]:  # no position reads any input (a stride that lands on a transposed conv's gaps)
        notes.append("no position reads any input")
        return ReceptiveField(node.path, node.type, (0,) * rank, stride, (None,) * rank, False, "; ".join(notes), f)
    if gaps:
        notes.append("some positions read no input")
    for i, name in enumerate(AXIS_NAMES[rank]):
        if min(sizes[i]) != max(sizes[i]):
            notes.append(f"{name}: the field varies with the position ({min(sizes[i])}..{max(sizes[i])}, "
                         f"{grid[i][1]})")
    box = extent(paths, *(0,) * rank)
    if box[0] is None:
        box = extent(paths, *_first_read(paths, [g[0] for g in grid]))
    offsets = tuple(plain(Fraction(lo + hi, 2)) for lo, hi in box)  # type: ignore[misc]
    return ReceptiveField(node.path, node.type, tuple(max(s) for s in sizes), stride, offsets,
                          False, "; ".join(notes), f)
