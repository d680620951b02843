"""A report for machines: its JSON record and its CSV, the registry's figures as keys and columns
(`cnncost.columns`), in record order; an unknown figure is null (an empty CSV cell) and named in
`unknown`."""
from __future__ import annotations

from typing import Any

from ..columns import COLUMNS, SECTIONS
from ..conventions import FLOP_CONVENTION, SCHEMA_VERSION
from ..errors import format_shape
from ..formatting import csv_line
from .parallel import communication_record

IDENTITY = ("name", "type", "depth", "attrs", "input_shape", "output_shape")


def _figures(row: Any) -> dict[str, Any]:
    figures = row.figures
    if not row.unknown:
        return dict(figures)
    out = {key: None if key in row.unknown else value for key, value in figures.items()}
    out["unknown"] = list(row.unknown)
    return out


def row_record(row: Any) -> dict[str, Any]:
    """A row as JSON has it: unknown figures null (their known part is no count of the layer),
    `unknown` naming them (only when any are)."""
    return {"name": row.name, "type": row.type, "depth": row.depth, "attrs": row.attrs,
            "input_shape": list(row.input_shape), "output_shape": list(row.output_shape)} | _figures(row)


def report_record(report: Any) -> dict[str, Any]:
    """The JSON contract (docs/output.md): the options, every row, the total; the counting keys;
    under the autograd memory convention the step's peak; what is unknown, and then the total's
    known part (`known_total`)."""
    options, totals = report.options, report.totals
    total = {"input_shape": list(totals.input_shape), "output_shape": list(totals.output_shape)} | _figures(totals)
    out = {
        "schema_version": SCHEMA_VERSION,
        "architecture": report.architecture,
        "batch": options.batch,
        "dtype": options.dtype,
        "bytes_per_element": options.bytes_per_element,
        "optimizer": options.optimizer,
        "param_copies": options.param_copies,
        "activation_count": options.activations,
        "flop_convention": FLOP_CONVENTION,
        "depth": report.depth,
        **_inputs(report),
        "layers": [row_record(row) for row in report.rows],
        "total": total,
    }
    if report.counting:
        out |= report.counting
    if report.step is not None:
        out["memory_convention"] = "autograd"
        out["training_step"] = report.step_breakdown()
        # several GPUs: what one step sends (cnncost.memory.communication); absent on one device
        communication = communication_record(report.step, report.batch)
        if communication is not None:
            out["communication"] = communication
        device = report.device_memory()  # the caching allocator and nvidia-smi (modelled; issue 19)
        if device is not None:
            from ..memory.reserved import device_record
            out["training_step"] |= device_record(device)
    if report.timing is not None:
        out["timing"] = report.timing.to_dict()
    if report.inference is not None:
        out |= inference_record(report)
    unknown = report.unknown_counts()
    out["unknown_counts"] = unknown
    if unknown:
        known = {"input_shape": total["input_shape"], "output_shape": total["output_shape"]}
        for section in (SECTIONS[0], SECTIONS[2], SECTIONS[1]):  # as the contract has always listed them
            known |= {k: v for k, v in totals.figures.items() if COLUMNS[k].section == section}
        out["known_total"] = known
    warnings = report.graph.warnings if report.graph is not None else ()
    if warnings:  # an importer's (an ONNX export whose batch norms were folded)
        out["warnings"] = list(warnings)
    return out


def inference_record(report: Any) -> dict[str, Any]:
    """Under mode 'inference': `mode`, no optimizer (null, as its parameter copies), and the
    object `inference` (`InferenceMemory.summary`: peak_bytes, peak_activation_bytes, peak_at,
    arena_bytes, baseline_bytes, int8, breakdown)."""
    return {"mode": "inference", "optimizer": None, "param_copies": None,
            "inference": report.inference.summary(report.batch)}


def _inputs(report: Any) -> dict[str, Any]:
    """`inputs`, for a net with several: each input's name and per-sample shape, in order (the
    first is the one `total.input_shape` shows)."""
    inputs = report.inputs
    if len(inputs) < 2:
        return {}
    return {"inputs": [{"name": name, "shape": list(shape)} for name, shape in inputs]}


def row_kinds(report: Any) -> list[str]:
    """What each CSV line is, the rows' then the total's: 'layer' (a graph node), 'block' (a collapsed
    block, its layers summed) or 'total'."""
    layers = {node.path for node in report.graph.nodes} if report.graph is not None else None
    return ["layer" if layers is None or row.name in layers else "block" for row in report.rows] + ["total"]


def csv_table(report: Any) -> str:
    """Exact integers, one line per row plus a 'total' line; the JSON keys as columns, every figure
    the report has (training FLOPs included). Where a figure is unknown (an opaque layer) its cell
    is empty and a column `unknown` names the row's unknown figures, space-separated. The last
    column, `row_kind`, tells the lines apart: layer, block (a collapsed block) or total.
    `Report.with_columns`: only `name` and the columns chosen, in their order (no `row_kind`), and
    `unknown` only where a chosen figure is unknown, naming only those."""
    figures = list(report.totals.figures)
    chosen = getattr(report, "columns", None)
    every = [*IDENTITY, *figures]
    pick = None if chosen is None else [every.index(k) for k in ("name", *(c for c in chosen if c != "name"))]
    header = every if pick is None else [every[j] for j in pick]
    shown = set(figures).intersection(header)
    lines = list(zip(report.rows + (report.totals,), row_kinds(report)))
    marks = [" ".join(k for k in row.unknown if k in shown) for row, _ in lines] if report.totals.unknown else []
    unknown = bool(marks) if pick is None else any(marks)  # chosen: only where a chosen figure is unknown
    out = [csv_line(header + (["unknown"] if unknown else []) + (["row_kind"] if pick is None else []))]
    for i, (row, kind) in enumerate(lines):
        values = row.figures
        cells = [row.name, row.type, row.depth, row.attrs, format_shape(row.input_shape),
                 format_shape(row.output_shape)]
        if row.unknown:
            cells += [None if k in row.unknown else values[k] for k in figures]
        else:
            cells += [values[k] for k in figures]
        if pick is not None:
            cells = [cells[j] for j in pick]
        if unknown:
            cells.append(marks[i])
        if pick is None:
            cells.append(kind)
        out.append(csv_line(cells))
    return "".join(out)
