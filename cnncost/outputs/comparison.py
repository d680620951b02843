"""Several reports side by side (`cnncost.compare`) as a table for people or as CSV: the totals
the registry marks for comparisons (`cnncost.columns.summary_columns`), with ratios to the first."""
from __future__ import annotations

from typing import Any

from ..columns import summary_columns
from ..errors import format_shape
from ..formatting import TABLEFMT, UNITS_NOTE, binary_bytes, csv_line, grid, grouped, ratio_text, si_spaced, text_cell, title_text
from .tables import known

_STYLE = {"si": si_spaced, "grouped": grouped, "bytes": binary_bytes}


def render_comparison(comparison: Any, fmt: str) -> str:
    """Totals side by side, each figure followed by its ratio to the first architecture ('n/a'
    where the first one's figure is 0)."""
    if fmt == "csv":
        return _comparison_csv(comparison)
    base = comparison.reports[0].totals

    def with_ratio(i: int, column: str, text: str) -> str:
        if i == 0:
            return text
        if column in comparison.reports[i].totals.unknown or column in base.unknown:
            return f"{text} (n/a)"
        ratio = ratio_text(comparison.reports[i].totals.figures[column], base.figures[column])
        return f"{text} ({ratio})" if ratio == "n/a" else f"{text} ({ratio}x)"

    reports = comparison.reports
    columns = [c for c in summary_columns() if c.compare_text]
    body = []
    for i, report in enumerate(reports):
        t = report.totals
        body.append([text_cell(report.architecture, fmt), text_cell(_inputs_text(report), fmt), format_shape(t.output_shape)]
                    + [with_ratio(i, c.name, known(t, c.name, _STYLE[c.style](t.figures[c.name]))) for c in columns])
    headers = ["architecture", "input", "output"] + [c.header or c.name for c in columns]
    table = grid(headers, body, TABLEFMT[fmt], ("left", "left", "left") + ("right",) * len(columns))
    notes = title_text(f"Ratios are to {comparison.reports[0].architecture} (n/a: its figure is 0). "
                        "Conventions: " + comparison.reports[0].options.describe() + ". " + UNITS_NOTE
                        + (". '>=': a lower bound (a layer's count is unknown)"
                           if any(r.totals.unknown for r in reports) else ""), fmt)
    if fmt == "html":
        notes = f"<p><small>{notes}</small></p>"
    elif fmt == "latex":
        notes = f"% {notes}"
    return f"{table}\n\n{notes}"


def _inputs_text(report: Any) -> str:
    """The input's shape; a net with several inputs: each, named ('image1 3x64x64, image2 3x64x64')."""
    inputs = report.inputs
    if len(inputs) < 2:
        return format_shape(report.totals.input_shape)
    return ", ".join(f"{name} {format_shape(shape)}" for name, shape in inputs)


def _comparison_csv(comparison: Any) -> str:
    data = comparison.to_dict()["architectures"]
    columns = ["name", "input_shape", "output_shape"] + [k for k in data[0] if k not in
                                                        ("name", "input_shape", "output_shape", "ratios", "unknown")]
    lines = [csv_line(columns + [f"{k}_ratio" for k in data[0]["ratios"]])]
    for record in data:
        shapes = {k: format_shape(tuple(record[k])) for k in ("input_shape", "output_shape")}
        lines.append(csv_line([shapes.get(c, record[c]) for c in columns] + list(record["ratios"].values())))
    return "".join(lines)
