"""A report as a table for people: text, markdown, HTML (`cnncost.outputs.html`) and LaTeX, with
a summary line, torchinfo's footer and the conventions. Its columns are the registry's figures
that have a header (`cnncost.columns`): counts first, then bytes, each in its column's style."""
from __future__ import annotations

from typing import Any, Callable

from ..columns import COLUMNS, ROW_IDENTITY, Column
from ..errors import format_shape
from ..formatting import (TABLEFMT, UNITS_NOTE, binary_bytes, breakdown_table, duration, grid, grouped,
                          in_unit, si, si_spaced, table_byte_unit, text_cell, title_text)
from ..layers.conv import maps
from .comm_time import footer_lines as comm_lines
from .comm_time import phase_part, summary_part
from .parallel import parallel_lines
from .widths import compact_shape, terminal_width, wrap, wrapped

IDENTITY_HEADERS = {"name": "layer", "type": "type", "depth": "depth", "attrs": "kernel", "input_shape": "input",
                    "output_shape": "output"}  # a row's own fields (`columns.ROW_IDENTITY`) as the table heads them
DEFAULT_IDENTITY = ("type", "attrs", "output_shape")


def known(row: Any, key: str, text: str) -> str:
    """A cell of a figure the row may not know: '?' where nothing of it is known, '>= x' where
    only part (a total, a collapsed block over an unknown layer)."""
    if key not in row.unknown:
        return text
    return "?" if not row.figures[key] else f">= {text}"


def table_columns(report: Any) -> list[Column]:
    """The figures the human table shows by default: those with a header that the report has (and
    that no other figure it has hides), counts first, then bytes, each group in declaration order."""
    have = report.totals.figures
    shown = [c for c in COLUMNS.values() if c.header and c.per_row and c.name in have
             and not (c.hidden_by and c.hidden_by in have)]
    return [c for c in shown if c.style != "bytes"] + [c for c in shown if c.style == "bytes"]


def report_column_names(report: Any) -> tuple[str, ...]:
    """Every name a report's outputs can show (`columns=`): its rows' own fields, then its figures."""
    return tuple(ROW_IDENTITY) + tuple(report.totals.figures)


def shown_names(report: Any) -> tuple[str, ...]:
    """What the human table shows after the layer's name: the report's `columns`, else its type,
    kernel, output shape and `table_columns`."""
    chosen = getattr(report, "columns", None)
    if chosen is None:
        return DEFAULT_IDENTITY + tuple(c.name for c in table_columns(report))
    return tuple(name for name in chosen if name != "name")


def byte_header(column: Column, unit: str) -> str:
    """'act. mem' in MiB heads its column 'act. MiB'; 'memory', 'memory MiB': the unit in the header."""
    header = column.header or column.label
    return f"{header.removesuffix(' mem')} {unit}"


def _formatter(column: Column, factor: int, unit: str) -> tuple[str, Callable[[Any], str]]:
    """The header and cell format of a figure: bytes in the table's one binary unit; counts with
    their SI prefix ('15.11G'), params exact."""
    if column.style == "bytes":
        return byte_header(column, unit), lambda v: in_unit(v, factor)
    header = column.header or column.label
    if column.style == "seconds":
        return header, lambda v: duration(v) if v else "0"
    if column.style == "text":
        return header, str
    return header, grouped if column.style == "grouped" else si


def _columns(report: Any) -> tuple[list[str], list[str], list[tuple[str, Any]]]:
    """Headers, alignments and (key, format) per column of a report's table: the layer's name, then
    `shown_names`; every byte column in one unit, chosen from the layers' figures (the totals in
    the same unit: `table_byte_unit`)."""
    names = shown_names(report)
    byte_columns = [n for n in names if n in COLUMNS and COLUMNS[n].style == "bytes"]
    factor, unit = table_byte_unit([row.figures[n] for n in byte_columns for row in report.rows])
    headers, align = ["layer"], ["left"]
    columns: list[tuple[str, Any]] = [("name", None)]
    for name in names:
        if name in COLUMNS:
            header, form = _formatter(COLUMNS[name], factor, unit)
            headers.append(header)
            align.append("right")
            columns.append((name, form))
        else:
            headers.append(IDENTITY_HEADERS[name])
            align.append("right" if name == "depth" else "left")
            columns.append((name, None))
    return headers, align, columns


def _cells(row: Any, fmt: str, columns: list[tuple[str, Any]]) -> list[str]:
    out = []
    figures = row.figures
    for key, form in columns:
        if form is None:
            value = getattr(row, key)
            if key.endswith("_shape"):  # 64x112x112 as 64x112² (LaTeX: as it is)
                out.append(format_shape(value) if fmt == "latex" else compact_shape(value))
            else:
                out.append(str(value) if key == "depth" else text_cell(value, fmt))
        else:
            value = figures[key]
            out.append(known(row, key, form(value)) if row.unknown else form(value))
    return out


def summary_line(report: Any) -> str:
    """'alexnet: input 3x224x224, 62,378,344 params; per image 1.14 GMACs = 2.27 GFLOPs; per batch
    of 128: 145.31 GMACs = 290.63 GFLOPs; training memory 1.75 GiB (the lecture's rule)'."""
    total, batch = report.totals, report.batch
    bound = "macs" in total.unknown or "flops" in total.unknown
    sign, eq = (">= ", ", >= ") if bound else ("", " = ")

    def work(macs: int, flops: int) -> str:
        return f"{sign}{si_spaced(macs, 'MACs')}{eq}{si_spaced(flops, 'FLOPs')}"

    breakdown = report.step_breakdown()
    at_least = ">= " if "saved_bytes" in total.unknown else ""  # an opaque node's saved bytes are unknown
    inference = report.inference.summary(batch) if report.inference is not None else None
    memory = (f"inference peak {binary_bytes(inference['peak_bytes'])} at {inference['peak_at']} (arena "
              f"{binary_bytes(inference['arena_bytes'])})" if inference is not None else
              f"training step peak {at_least}{binary_bytes(breakdown['peak_bytes'])} (autograd; the "
              f"lecture's rule says {binary_bytes(total.memory_bytes)})" if breakdown is not None
              else f"training memory {binary_bytes(total.memory_bytes)} (the lecture's rule)")
    inputs = report.inputs
    shown = (f"input {format_shape(report.rows[0].output_shape)}" if len(inputs) < 2 else
             "inputs " + ", ".join(f"{name} {format_shape(shape)}" for name, shape in inputs))
    fixed = total.figures.get("fixed_macs") or 0  # done once per forward: not per image
    once = f" plus {si_spaced(fixed, 'MACs')} once per forward" if fixed else ""
    per_image = work((total.macs - fixed) // batch, (total.flops - 2 * fixed) // batch)
    return (f"{report.architecture}: {shown}, "
            f"{grouped(total.params)} params; per image {per_image}{once}; "
            f"per batch of {grouped(batch)}: {work(total.macs, total.flops)}; {memory}{_time_summary(report)}")


def _time_summary(report: Any) -> str:
    """'; step 41.2 ms = 3,107 images/s on a100-sxm4-80gb (expected; roofline bound 25.3 ms)'."""
    timing = report.timing
    if timing is None:
        return ""
    expected, bound = timing.expected, timing.bound
    ranks, comm = summary_part(timing)  # several GPUs (outputs/comm_time.py)
    return (f"; step {duration(expected.step_seconds)} = {expected.images_per_second:,.1f} images/s{ranks} on "
            f"{timing.hardware} (expected{_job_part(timing)}{comm}; roofline bound {duration(bound.step_seconds)})")


def _job_part(timing: Any) -> str:
    """'; 4 micro-steps of 64 = 256 samples per step; recompute 15.6 ms': what the job's step adds to
    one plain step (gradient accumulation, a checkpointed step's recompute); '' for a plain step."""
    expected = timing.expected
    parts = []
    if expected.micro_steps > 1:
        parts.append(f"{expected.micro_steps} micro-steps of {grouped(timing.node_batch)} = "
                     f"{grouped(timing.batch)} samples per step")
    if expected.recompute_seconds:
        parts.append(f"recompute {duration(expected.recompute_seconds)}")
    return "".join(f"; {part}" for part in parts)


def time_lines(report: Any) -> list[str]:
    """The step's time by phase, both estimates, and the epoch's time and cost where asked for."""
    timing = report.timing
    if timing is None:
        return []
    lines = []

    def again(t: Any) -> str:  # a checkpointed step: its regions' forward again, in the backward
        return f" (recompute {duration(t.recompute_seconds)} of it)" if t.recompute_seconds else ""

    def micro(t: Any) -> str:  # gradient accumulation: the passes of every micro-step, one optimizer pass
        return (f" for {t.micro_steps} micro-steps of {grouped(timing.node_batch)} = {grouped(t.batch)} samples"
                if t.micro_steps > 1 else "")
    for estimate in ("expected", "bound"):
        t = getattr(timing, estimate)
        lines.append(f"Step time on {timing.hardware} ({'expected' if estimate == 'expected' else 'roofline bound'}, "
                     f"{timing.dtype}): forward {duration(t.forward_seconds)} + backward "
                     f"{duration(t.backward_seconds)}{again(t)} + optimizer {duration(t.optimizer_seconds)}{phase_part(t)} = "
                     f"{duration(t.step_seconds)}{micro(t)}; {t.images_per_second:,.1f} images/s; mostly {t.bound}-bound")
    lines += comm_lines(timing)
    if timing.epoch_images is not None:
        cost = timing.epoch_cost()
        lines.append(f"Epoch of {grouped(timing.epoch_images)} images: {duration(timing.epoch_seconds())} expected "
                     f"({duration(timing.epoch_seconds('bound'))} roofline bound)"
                     + (f"; cost {cost:,.2f} USD at {timing.price_per_hour:,.2f} USD/hour" if cost is not None else ""))
    return lines


def _inference_lines(report: Any) -> list[str]:
    """The inference pass's memory (`cnncost.memory.inference`) instead of the lecture's training rule."""
    s = report.inference.summary(report.batch)
    parts = s["breakdown"]
    return [f"Input size (batch {grouped(report.batch)}): {binary_bytes(parts.get('input batch', 0))}",
            f"Params size: {binary_bytes(parts.get('parameters', 0))}; buffers: {binary_bytes(parts.get('buffers', 0))}",
            f"Inference peak: {binary_bytes(s['peak_bytes'])} at {s['peak_at']} (eval, no autograd: parameters, "
            "buffers, weight casts, the input batch and the live tensors)",
            f"Activations at the peak: {binary_bytes(s['peak_activation_bytes'])} (the input batch and the live tensors)",
            f"Arena: {binary_bytes(s['arena_bytes'])} (a static plan of every activation tensor, greedy by size "
            "as TFLite plans it)"]


def footer_lines(report: Any) -> list[str]:
    """torchinfo's footer, in the lecture's memory terms (an inference pass: its own), each figure
    with its unit; then what is unknown, if anything."""
    total, options = report.totals, report.options
    lines = [f"Total params: {grouped(total.params)}"]
    split = report.param_split()
    if split is not None:
        lines += [f"Trainable params: {grouped(split['trainable_params'])}",
                  f"Non-trainable params: {grouped(split['non_trainable_params'])}",
                  f"Buffers: {grouped(split['buffers'])} (batch norm running mean and variance, "
                  "num_batches_tracked; not in params)"]
    if report.inference is not None:
        return lines + _inference_lines(report) + _unknown_lines(report)
    input_bytes = sum(row.activation_memory_bytes for row in report.rows[:max(1, len(report.inputs))])  # the input rows
    lines += [f"Input size (batch {grouped(report.batch)}): {binary_bytes(input_bytes)}",
              f"Forward/backward pass size: {binary_bytes(total.activation_memory_bytes - input_bytes)} "
              "(2 x activations)",
              f"Params size: {binary_bytes(total.params * options.bytes_per_element)}; with gradients and "
              f"optimizer state ({options.param_copies} copies, {options.optimizer}): "
              f"{binary_bytes(total.param_memory_bytes)}",
              f"Estimated total size: {binary_bytes(total.memory_bytes)} (the lecture's rule)"]
    fixed = total.figures.get("fixed_macs")
    if fixed:
        lines.append(f"MACs once per forward, whatever the batch: {known(total, 'fixed_macs', grouped(fixed))} "
                     "(in the MACs and FLOPs totals, not in per-image figures: work on parameters alone)")
    if report.step is not None:
        breakdown = report.step_breakdown()
        lines += [f"Saved for backward: {known(total, 'saved_bytes', binary_bytes(total.saved_bytes))}"
                  f"{_running_statistics_note(report)}",
                  f"Training step peak: {'>= ' if 'saved_bytes' in total.unknown else ''}"
                  f"{binary_bytes(breakdown['peak_bytes'])} ({breakdown['phase']})"]
        lines += parallel_lines(report.step, report.batch)  # several GPUs (outputs/parallel.py)
        if "freeze" in breakdown or "accumulate" in breakdown:  # --freeze / --accumulate
            from ..memory.accumulate import setup_lines
            lines += setup_lines(breakdown)
        lines += _device_memory_lines(report)
    lines += time_lines(report)
    return lines + _unknown_lines(report)


def _unknown_lines(report: Any) -> list[str]:
    """An importer's warnings, then which layers have which figures unknown."""
    lines = []
    if report.graph is not None:
        lines += [f"Warning: {line}" for line in report.graph.warnings]
    unknown = report.unknown_counts()
    if unknown:
        order = {path: i for layer_paths in unknown.values() for i, path in enumerate(layer_paths)}
        if report.graph is not None:
            order = {node.path: i for i, node in enumerate(report.graph.nodes)}
        paths = sorted({p for layer_paths in unknown.values() for p in layer_paths}, key=lambda p: order.get(p, 0))
        named = ", ".join(paths[:3]) + (f", ... ({len(paths) - 3} more)" if len(paths) > 3 else "")
        figures = ", ".join(COLUMNS[k].label if k in COLUMNS else k for k in unknown)
        lines.append(f"Unknown: {len(paths)} layer{'s' if len(paths) != 1 else ''} ({named}) "
                     f"{'have' if len(paths) != 1 else 'has'} unknown {figures}: shown '?'; "
                     "totals marked '>=' are lower bounds")
    return lines


def _device_memory_lines(report: Any) -> list[str]:
    """The caching allocator's reserved bytes and what nvidia-smi shows, beside the allocated peak
    (issue 19), labelled as modelled."""
    r = report.device_memory()
    if r is None:
        return []
    over = r.nvidia_smi > report.gpu.memory if report.gpu is not None else False
    return [f"CUDA reserved (max_memory_reserved): {binary_bytes(r.peak_reserved)} ({r.peak_reserved_at}); "
            f"nvidia-smi: {binary_bytes(r.nvidia_smi)} [{r.status}]",
            f"  (reserved: the caching allocator's segments, cuBLAS/cuDNN workspaces {binary_bytes(r.workspaces)} "
            f"included; nvidia-smi: reserved + CUDA context {binary_bytes(r.context)}; GPU profile {r.device}"
            + (f": more than its {binary_bytes(report.gpu.memory)}" if over else "") + ")"]


def _running_statistics_note(report: Any) -> str:
    """Batch norm's forward also saves its running mean and variance for backward (measured, torch
    2.13 CPU): the module's own buffers, by reference, so saved bytes leave them out, as they leave
    out the weights (issue 19). Said where a net has them, with their size."""
    if report.graph is None:
        return ""
    size = 8 if report.options.dtype == "fp64" else 4  # the buffers' dtype: fp32 under autocast
    stats = sum(2 * maps(node.layer, node.input_shape)[0] for node in report.graph.nodes
                if node.type == "batchnorm" and node.layer.track_running_stats)
    if not stats:
        return ""
    return (f" (not counted: the batch norm running statistics autograd also saves, {binary_bytes(stats * size)}, "
            "by reference: buffers, held anyway)")


def _time_conventions(report: Any) -> str:
    if report.timing is None:
        return ""
    profile = report.timing.profile
    return (f"; hardware {profile.name} ({profile.vendor_name}, {profile.origin}); time columns and summary: the "
            f"expected estimate; {report.timing.convention}")


def render(report: Any, fmt: str, width: int | None = None) -> str:
    """Human table: rows, a totals row, a footer (params, buffers, memory, what is unknown) and the
    conventions that produced the figures; under the 'autograd' memory convention a saved-bytes
    column and the step's breakdown at its peak. HTML nests rows under their blocks (`details`).
    The table's columns: `shown_names`; the conventions and units lines wrapped to `width` (text,
    markdown, LaTeX; default: the terminal's, 100 when not one): the summary and the footer keep a
    line per figure, whole, for grep."""
    headers, align, columns = _columns(report)
    body = [_cells(row, fmt, columns) for row in report.rows]
    total = _cells(report.totals, fmt, columns)
    if fmt == "html":
        from .html import html_report_table  # the html module (and html) only for HTML
        table = html_report_table(report, headers, align, body, total)
    else:
        table = grid(headers, body + [total], TABLEFMT[fmt], tuple(align), header_pad=0 if fmt == "text" else 2)
    breakdown = report.step_breakdown()
    if breakdown is None and report.inference is not None:
        s = report.inference.summary(report.batch)
        breakdown = {"mode": "inference", "peak_bytes": s["peak_bytes"], "phase": f"forward, {s['peak_at']}",
                     "breakdown": s["breakdown"]}
    if breakdown is not None:
        table += "\n\n" + breakdown_table(breakdown, fmt)
    title = title_text(summary_line(report), fmt)
    footer = [title_text(line, fmt) for line in footer_lines(report)]
    notes = title_text("Conventions: " + report.options.describe() + _time_conventions(report), fmt)
    units = title_text(UNITS_NOTE, fmt)
    if fmt == "html":
        return (f"<div class=\"cnncost-report\">\n<p><b>{title}</b></p>\n{table}\n<p>" + "<br>\n".join(footer)
                + f"</p>\n<p><small>{notes}<br>\n{units}</small></p>\n</div>")
    width = terminal_width() if width is None else width
    if fmt == "latex":  # every line a comment
        conventions = [f"% {line}" for text in (notes, units) for line in wrap(text, width - 2)]
        return "\n".join([f"% {title}", *(f"% {line}" for line in footer), *conventions, table])
    if fmt == "markdown":
        return (f"{title}\n\n{table}\n\n" + "\n".join(f"- {line}" for line in footer)
                + f"\n\n{wrapped(notes, width)}\n{wrapped(units, width)}")
    return f"{title}\n\n{table}\n\n" + "\n".join(footer) + f"\n\n{wrapped(notes, width)}\n{wrapped(units, width)}"
