"""A report's counting figures for other options: a peer tool's `ops` (`count_as`) and backward
and training FLOPs with layers frozen. `cnncost.report.build_report` computes them in its one
cost pass; this builds the report again with those options."""
from __future__ import annotations

from typing import Any, Iterable


def annotate(report: Any, graph: Any, count_as: str | None = None, freeze: Iterable[str] | str = (),
             in_place: bool = False) -> Any:
    """`report` (a `cnncost.report.Report` built from `graph`) with `ops` of the tool `count_as`
    and backward FLOPs under `freeze`; the same report where it already has them. `in_place`
    is accepted for callers that pass it: a report is never changed."""
    from ..report import build_report
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    counting = report.counting or {}
    if counting.get("count_as") == count_as and tuple(counting.get("freeze", ())) == patterns:
        return report
    return build_report(graph, report.options, report.depth, report.step, count_as=count_as, freeze=patterns)
