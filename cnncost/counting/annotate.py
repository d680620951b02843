"""Put the counts into a report: a tool's `ops` (with `count_as`) and `backward_flops` /
`training_flops` per displayed row and in the total. A row collapsed with `--depth` sums its
nodes; the input row has 0."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Iterable

from .training import frozen_nodes, training

if TYPE_CHECKING:
    from ..graph import Graph
    from ..report import Report

TRAINING_CONVENTION = ("training_flops = forward + backward FLOPs of one step (2 per MAC of conv, transposed "
                       "conv and linear; backward: input gradient unless nothing before the layer is trainable, "
                       "weight gradient unless frozen; exact for grouped convs; auxiliary heads included)")


def per_row(report: Report, graph: Graph, values: tuple[int, ...]) -> list[int]:
    """Node values summed into the report's rows (a node belongs to the row of its path or of the
    nearest enclosing path shown)."""
    rows = report.rows
    if len(rows) == len(graph.nodes) and all(row.name == node.path for row, node in zip(rows, graph.nodes)):
        return list(values)  # one row per node (no --depth)
    index = {row.name: i for i, row in enumerate(rows)}
    sums = [0] * len(report.rows)
    for node, value in zip(graph.nodes, values):
        path = node.path
        while path not in index and "." in path:
            path = path.rsplit(".", 1)[0]
        if path in index:
            sums[index[path]] += value
    return sums


def check_patterns(graph: Graph, patterns: tuple[str, ...]) -> None:
    """Each --freeze pattern must match a layer: a typo would silently freeze nothing."""
    for pattern in patterns:
        if not any(frozen_nodes(graph, (pattern,))):
            import difflib
            from ..errors import CnnCostError
            close = difflib.get_close_matches(pattern, [n.path for n in graph.nodes[1:]], n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; row paths look like '{graph.nodes[-1].path}'"
            raise CnnCostError(f"--freeze '{pattern}' matches no layer{hint}")


def annotate(report: Report, graph: Graph, count_as: str | None = None, freeze: Iterable[str] = (),
             in_place: bool = False) -> Report:
    """The report with `backward_flops` and `training_flops` (always) and, with `count_as`, the tool's
    `ops`, per row and in the total; the JSON gains `count_as`, `ops_unit`, `freeze` (when given)
    and `training_flop_convention`. `in_place` fills the report's own rows (a report just built,
    that nobody else holds: `cnncost.table` does) instead of copying them."""
    patterns = tuple(freeze or ())
    if isinstance(freeze, str):
        patterns = (freeze,)
    check_patterns(graph, patterns)
    frozen = frozen_nodes(graph, patterns)
    batch = report.options.batch
    step = training(graph, batch, frozen)
    backward = per_row(report, graph, step.backward)
    total_ops = None
    extra: dict = {}
    if count_as is not None:
        from .tools import TOOLS, ops, tool_name  # the tools load only when one is asked for
        name = tool_name(count_as)
        counted = ops(graph, name, batch, frozen=frozen)
        column = per_row(report, graph, counted.per_node)
        total_ops = counted.total
        extra = {"count_as": name, "ops_unit": TOOLS[name].unit}
        if counted.profile:
            extra["implementation_profile"] = counted.profile
    else:
        column = [None] * len(report.rows)
    update = _fill if in_place else _with
    rows = tuple(update(row, ops=value, backward_flops=back, training_flops=row.flops + back)
                 for row, value, back in zip(report.rows, column, backward))
    totals = update(report.totals, ops=total_ops, backward_flops=step.total_backward,
                                 training_flops=report.totals.flops + step.total_backward)
    if patterns:
        extra["freeze"] = list(patterns)
    extra["training_flop_convention"] = TRAINING_CONVENTION
    return dataclasses.replace(report, rows=rows, totals=totals, counting=(report.counting or {}) | extra)


def _with(row, **changes):
    """`dataclasses.replace` for a Row, without its per-call field introspection (a table may have
    10^5 rows): the same fields, these changed."""
    new = object.__new__(type(row))
    new.__dict__.update(row.__dict__)
    new.__dict__.update(changes)
    return new


def _fill(row, **changes):
    row.__dict__.update(changes)  # a frozen dataclass's fields live in its __dict__
    return row
