"""Turning a Report into text for people (text, markdown, html, latex) or machines (csv).

Rounding happens here and only here.
"""
from __future__ import annotations

import csv
import io

from .conventions import MB
from .errors import format_shape
from .report import NUMERIC_COLUMNS, Report, Row

HEADERS = ("layer", "type", "kernel", "output", "activations", "params", "MACs", "FLOPs")
LECTURE_MEMORY = ("act. mem (MB)", "param mem (MB)", "memory (MB)")
TABLEFMT = {"text": "simple", "markdown": "github", "html": "html", "latex": "latex_booktabs"}


def si(value: int) -> str:
    """1234567 -> '1.23M'; decimal prefixes, as FLOP counts are quoted."""
    if abs(value) >= 10**18:
        return f"{value:.3e}"
    for factor, suffix in ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.2f}{suffix}"
    return str(value)


def mebibytes(value: int) -> str:
    return f"{value / MB:,.1f}"


def human_bytes(value: int) -> str:
    for factor, unit in ((2**40, "TB"), (2**30, "GB"), (2**20, "MB"), (2**10, "KB")):
        if value >= factor:
            return f"{value / factor:,.2f} {unit}"
    return f"{value} B"


def _cells(row: Row) -> list[str]:
    """The lecture's memory columns, or under the autograd convention the bytes saved for backward."""
    cells = [row.name, row.type, row.attrs, format_shape(row.output_shape), si(row.activations),
             f"{row.params:,}", si(row.macs), si(row.flops)]
    if row.saved_bytes is not None:
        return cells + [mebibytes(row.saved_bytes)]
    return cells + [mebibytes(row.activation_memory_bytes), mebibytes(row.param_memory_bytes),
                    mebibytes(row.memory_bytes)]


def render(report: Report, fmt: str) -> str:
    """Human table: rows, a totals row, and the conventions that produced the figures; under the
    'autograd' memory convention a saved-bytes column and the step's breakdown at its peak."""
    from tabulate import tabulate
    body = [_cells(row) for row in report.rows] + [_cells(report.totals)]
    autograd = report.step is not None
    headers = HEADERS + (("saved (MB)",) if autograd else LECTURE_MEMORY)
    table = tabulate(body, headers=headers, tablefmt=TABLEFMT[fmt], disable_numparse=True,
                     colalign=("left", "left", "left", "left") + ("right",) * (len(headers) - 4))
    total = report.totals
    memory = (f"training step peak {human_bytes(report.step_breakdown()['peak_bytes'])} (autograd; the "
              f"lecture's rule says {human_bytes(total.memory_bytes)})" if autograd
              else f"training memory {human_bytes(total.memory_bytes)} (the lecture's rule)")
    title = (f"{report.architecture}: input {format_shape(report.rows[0].output_shape)}, "
             f"{total.params:,} params, {si(total.flops)}FLOPs ({si(total.macs // report.batch)}MACs per image), "
             f"{memory}")
    if autograd:
        table += "\n\n" + breakdown_table(report.step_breakdown(), fmt)
    notes = "Conventions: " + report.options.describe()
    if fmt == "html":
        return f"<p><b>{title}</b></p>\n{table}\n<p><small>{notes}</small></p>"
    if fmt == "latex":
        return f"% {title}\n% {notes}\n{table}"
    return f"{title}\n\n{table}\n\n{notes}"


def breakdown_table(step: dict, fmt: str = "text") -> str:
    """What the peak moment of a step holds, largest first, with shares of the peak."""
    from tabulate import tabulate
    peak = step["peak_bytes"]
    body = [(part, mebibytes(size), f"{100 * size / peak:.1f}%")
            for part, size in sorted(step["breakdown"].items(), key=lambda item: -item[1])]
    body.append(("peak", mebibytes(peak), "100.0%"))
    title = f"{step['mode']} step peak, at {step['phase']}:"
    table = tabulate(body, headers=("held", "MB", "share"), tablefmt=TABLEFMT.get(fmt, "simple"),
                     disable_numparse=True, colalign=("left", "right", "right"))
    return f"{title}\n{table}"


def csv_table(report: Report) -> str:
    """Exact integers, one line per row plus a 'total' line; the JSON keys as columns."""
    columns = ("name", "type", "depth", "attrs", "input_shape", "output_shape") + NUMERIC_COLUMNS
    if report.step is not None:
        columns += ("saved_bytes",)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in report.rows + (report.totals,):
        record = row.to_dict()
        record["input_shape"] = format_shape(row.input_shape)
        record["output_shape"] = format_shape(row.output_shape)
        writer.writerow([record[c] for c in columns])
    return out.getvalue()


def render_comparison(comparison, fmt: str) -> str:
    """Totals side by side, each figure followed by its ratio to the first architecture."""
    from tabulate import tabulate
    if fmt == "csv":
        return _comparison_csv(comparison)

    def with_ratio(i: int, column: str, text: str) -> str:
        return text if i == 0 else f"{text} ({comparison.ratio(i, column):.4g}x)"

    body = []
    for i, report in enumerate(comparison.reports):
        t = report.totals
        body.append([report.architecture, format_shape(t.input_shape), format_shape(t.output_shape),
                     with_ratio(i, "params", f"{t.params:,}"), with_ratio(i, "macs", si(t.macs)),
                     with_ratio(i, "flops", si(t.flops)),
                     with_ratio(i, "activation_memory_bytes", mebibytes(t.activation_memory_bytes)),
                     with_ratio(i, "memory_bytes", mebibytes(t.memory_bytes))])
    headers = ("architecture", "input", "output", "params", "MACs", "FLOPs", "act. mem (MB)", "memory (MB)")
    table = tabulate(body, headers=headers, tablefmt=TABLEFMT[fmt], disable_numparse=True)
    notes = (f"Ratios are to {comparison.reports[0].architecture}. Conventions: "
             + comparison.reports[0].options.describe())
    return f"{table}\n\n{notes}"


def _comparison_csv(comparison) -> str:
    data = comparison.to_dict()["architectures"]
    columns = ["name", "input_shape", "output_shape"] + [k for k in data[0] if k not in
                                                        ("name", "input_shape", "output_shape", "ratios")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns + [f"{k}_ratio" for k in data[0]["ratios"]])
    for record in data:
        shapes = {k: "x".join(map(str, record[k])) for k in ("input_shape", "output_shape")}
        writer.writerow([shapes.get(c, record[c]) for c in columns] + list(record["ratios"].values()))
    return out.getvalue()
