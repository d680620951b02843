"""The roll-up from graph nodes to displayed rows, one for every figure: a row stands for a
contiguous run of nodes (one node, or with `depth` every node of a block deeper than that, summed
into the block's row). Quantities, saved bytes, a tool's ops and what is unknown all go through
`RowLayout.sum` and `RowLayout.union`."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

from .columns import ordered_union
from .shapes import Shape


class RowHead(NamedTuple):
    """What a collapsed block's row says about itself (a node's row: the graph node, which has
    the same fields)."""

    path: str
    type: str
    attrs: str
    input_shape: Shape
    output_shape: Shape


@dataclass(frozen=True)
class RowLayout:
    """The displayed rows of a graph: `heads[i]` (a `RowHead` or a graph node) stands for nodes
    `bounds[i]:bounds[i + 1]`; `per_node`: one row per node (nothing collapsed)."""

    heads: tuple[Any, ...]
    bounds: tuple[int, ...]
    per_node: bool

    def sum(self, values: Sequence[int]) -> list[int]:
        """Node values summed per row."""
        if self.per_node:
            return list(values)
        b = self.bounds
        return [sum(values[b[i]:b[i + 1]]) for i in range(len(self.heads))]

    def peak(self, values: Sequence[int]) -> list[int]:
        """The largest node value per row."""
        if self.per_node:
            return list(values)
        b = self.bounds
        return [max(values[b[i]:b[i + 1]]) for i in range(len(self.heads))]

    def union(self, names: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
        """Node name sets (unknown figures) merged per row, in declaration order."""
        if self.per_node:
            return list(names)
        b = self.bounds
        return [ordered_union([n for n in names[b[i]:b[i + 1]] if n]) for i in range(len(self.heads))]


def row_layout(graph: Any, depth: int | None) -> RowLayout:
    """One row per node, or with `depth` the nodes deeper than it summed into their ancestor
    block at that depth (a node outside any such block keeps its own row)."""
    nodes = graph.nodes
    if depth is None:
        return RowLayout(tuple(nodes), tuple(range(len(nodes) + 1)), True)
    spans = {block.path: block for block in graph.blocks}
    heads: list[Any] = []
    bounds = [0]
    start = 0
    for key, group in itertools.groupby(nodes, key=lambda node: ".".join(node.path.split(".")[:depth + 1])):
        members = list(group)
        block = spans.get(key)
        if block is None:
            heads.extend(members)
            bounds.extend(range(start + 1, start + len(members) + 1))
            start += len(members)
            continue
        heads.append(RowHead(block.path, block.type, f"{len(members)} layers", block.input_shape, block.output_shape))
        start += len(members)
        bounds.append(start)
    return RowLayout(tuple(heads), tuple(bounds), len(heads) == len(nodes))
