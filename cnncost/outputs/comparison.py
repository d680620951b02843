"""Several reports side by side (`cnncost.compare`) as a table for people or as CSV: the totals
the registry marks for comparisons (`cnncost.columns.summary_columns`), with ratios to the first."""
from __future__ import annotations

from typing import Any

from ..columns import COLUMNS, select_columns, summary_columns
from ..errors import format_shape
from ..formatting import (TABLEFMT, UNITS_NOTE, csv_line, fixed, grid, grouped, ratio_text, si, table_byte_unit,
                          text_cell, title_text)
from .tables import byte_header, known
from .widths import terminal_width, wrap, wrapped

_IDENTITY = ("input_shape", "output_shape")  # beside the architecture's name, which always comes first


def compared_names(comparison: Any) -> tuple[str, ...]:
    """What the comparison shows after the architecture: the reports' `columns` (those of the
    first), else the input, the output and the totals the registry marks for comparisons' text."""
    chosen = getattr(comparison.reports[0], "columns", None)
    offered = ("name", *_IDENTITY, *(c.name for c in summary_columns()))
    if chosen is None:
        return _IDENTITY + tuple(c.name for c in summary_columns() if c.compare_text)
    return tuple(n for n in select_columns(chosen, offered, "a comparison") if n != "name")


def render_comparison(comparison: Any, fmt: str, width: int | None = None) -> str:
    """Totals side by side, each figure followed by its ratio to the first architecture ('n/a'
    where the first one's figure is 0); bytes in one unit; the notes wrapped to `width` (default:
    the terminal's, 100 when not one)."""
    names = compared_names(comparison)
    if fmt == "csv":
        return _comparison_csv(comparison, names)
    reports = comparison.reports
    base = reports[0].totals

    def with_ratio(i: int, column: str, text: str) -> str:
        if i == 0:
            return text
        if column in reports[i].totals.unknown or column in base.unknown:
            return f"{text} (n/a)"
        ratio = ratio_text(reports[i].totals.figures[column], base.figures[column])
        return f"{text} ({ratio})" if ratio == "n/a" else f"{text} ({ratio}x)"

    columns = [COLUMNS[n] for n in names if n in COLUMNS]
    factor, unit = table_byte_unit([r.totals.figures[c.name] for c in columns if c.style == "bytes"
                                         for r in reports])
    # a few totals side by side: bytes with two decimals, as the reports' summaries give them
    style = {"si": si, "grouped": grouped, "bytes": lambda v: grouped(v) if factor == 1 else fixed(v, factor, 2)}
    body = []
    for i, report in enumerate(reports):
        t = report.totals
        shapes = {"input_shape": text_cell(_inputs_text(report), fmt), "output_shape": format_shape(t.output_shape)}
        body.append([text_cell(report.architecture, fmt)]
                    + [shapes[n] if n in shapes else with_ratio(i, n, known(t, n, style[COLUMNS[n].style](t.figures[n])))
                       for n in names])
    headers = ["architecture"] + [_header(n, unit) for n in names]
    table = grid(headers, body, TABLEFMT[fmt], ("left",) + tuple("left" if n in _IDENTITY else "right" for n in names),
                 header_pad=0 if fmt == "text" else 2)
    notes = [f"Ratios are to {reports[0].architecture} (n/a: its figure is 0).",
             "Conventions: " + reports[0].options.describe() + ".", UNITS_NOTE]
    if any(r.totals.unknown for r in reports):
        notes.append("'>=': a lower bound (a layer's count is unknown)")
    notes = [title_text(note, fmt) for note in notes]
    if fmt == "html":
        return f"{table}\n\n<p><small>" + "<br>\n".join(notes) + "</small></p>"
    width = terminal_width() if width is None else width
    if fmt == "latex":
        return table + "\n\n" + "\n".join(f"% {line}" for note in notes for line in wrap(note, width - 2))
    return table + "\n\n" + "\n".join(wrapped(note, width) for note in notes)


def _header(name: str, unit: str) -> str:
    if name in _IDENTITY:
        return name.removesuffix("_shape")
    column = COLUMNS[name]
    return byte_header(column, unit) if column.style == "bytes" else column.header or column.label


def _inputs_text(report: Any) -> str:
    """The input's shape; a net with several inputs: each, named ('image1 3x64x64, image2 3x64x64')."""
    inputs = report.inputs
    if len(inputs) < 2:
        return format_shape(report.totals.input_shape)
    return ", ".join(f"{name} {format_shape(shape)}" for name, shape in inputs)


def _comparison_csv(comparison: Any, names: tuple[str, ...]) -> str:
    """Exact figures, then `<figure>_ratio` per figure; with `columns`, only those."""
    data = comparison.to_dict()["architectures"]
    columns = ["name"] + [n for n in names if n in data[0]]
    ratios = [k for k in names if k in data[0]["ratios"]]
    header: list[object] = [*columns, *(f"{k}_ratio" for k in ratios)]
    lines = [csv_line(header)]
    for record in data:
        shapes = {k: format_shape(tuple(record[k])) for k in _IDENTITY}
        lines.append(csv_line([shapes.get(c, record[c]) for c in columns] + [record["ratios"][k] for k in ratios]))
    return "".join(lines)
