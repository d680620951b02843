"""Pictures for notebooks and docs (the `plot` extra: matplotlib), the matplotlib way: each
function draws into `ax=` (your axes) or a new figure, and returns the Axes, left open: a script's
`plt.show()` shows it, a notebook shows it once, `ax.figure.savefig(...)` writes it. The numbers
drawn are the report's or the frame's exact figures; only the ticks are rounded, in human units
("10 MiB", "1 GFLOP"), and the axes say per image or per batch of N.

- `timeline(report)`: bytes held at every moment of the training step (memory="autograd");
- `breakdown(report)`: what the memory is made of (the lecture's rule, or the step's peak);
- `layers(report, column)`: a bar per row (linear), or a dot per row (log: no bars on a log axis),
  coloured by layer type or stage;
- `compare(comparison)`: ratios to the first architecture;
- `zoo(frame)`: params against MACs for `cnncost.zoo_frame()`, log-log, labelled;
- `sweep(frame, x, y)`: a total against resolution or batch for `cnncost.sweep(...)`.

Legends sit beside the axes, off the data; the memory parts keep one order and one colour in
every picture (`cnncost.pictures.parts`). Sizes are in IEC units (KiB = 2^10 bytes ... GiB =
2^30 bytes, the lecture's MB and GB), counts in SI (G = 10^9).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .compare import Comparison
from .errors import CnnCostError
from .pictures.axes import legend_beside, new_axes
from .pictures.labels import place_labels
from .pictures.parts import color, ordered
from .pictures.ticks import human, human_axis
from .pictures.wording import UNIT_NOTES, axis_label, per_words, quantity
from .report import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LAYER_COLUMNS = ("flops", "macs", "params", "activations", "activation_memory_bytes", "param_memory_bytes",
                 "memory_bytes")
# layer types or stages, in order of appearance; then each of the ten again with a new marker shape
_CYCLE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
          "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#499894", "#fabfd2",
          "#79706e", "#d4a6c8")
_TEN = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MARKERS = ("o", "s", "^", "D", "v", "P")
_BYTES = UNIT_NOTES["bytes"]


def _check_column(column: str) -> None:
    if column not in LAYER_COLUMNS:
        raise CnnCostError(f"cannot plot column '{column}'; allowed: {', '.join(LAYER_COLUMNS)}")


def _stage(name: str) -> str:
    return name.split(".", 1)[0] if "." in name else "(top level)"


def _colors(keys: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in keys:
        if key not in out:
            out[key] = _CYCLE[len(out) % len(_CYCLE)]
    return out


# --- per-layer figures and comparisons ---

def layers(report: Report, column: str = "flops", ax: Axes | None = None, skip_zero: bool = True, log: bool = False,
           color_by: str | None = None) -> Axes:
    """A row per row of `report` (use `depth=` for one per block): a bar on a linear axis, a dot
    on a log one (`log=True`: VGG's convs next to fc6; a bar's length on a log axis says nothing).
    `color_by`: "type" (conv, linear, ...) or "stage" (the first part of the row's name: layer1,
    stage2, ...), with a legend. Returns the Axes.

    >>> import cnncost, cnncost.plot
    >>> ax = cnncost.plot.layers(cnncost.table("vgg16"), "params", log=True, color_by="type")
    """
    _check_column(column)
    if color_by not in (None, "type", "stage"):
        raise CnnCostError(f"color_by must be 'type' or 'stage', got {color_by!r}")
    rows = [r for r in report.rows if not skip_zero or getattr(r, column)]
    if log:
        rows = [r for r in rows if getattr(r, column) > 0]  # a log axis has no 0
    if not rows:
        raise CnnCostError(f"{report.architecture}: no row has a {'positive' if log else 'nonzero'} '{column}'")
    ax = new_axes(ax, (8, max(2.0, 0.22 * len(rows) + 1.4)))
    values = [getattr(r, column) for r in rows]
    positions = list(range(len(rows)))
    keys = [r.type if color_by == "type" else _stage(r.name) for r in rows] if color_by else ["all"] * len(rows)
    palette = _colors(keys)
    colors = [palette[k] for k in keys]
    if log:
        ax.set_xscale("log")
        ax.grid(True, axis="y", color="0.88", linewidth=0.6)  # a guide from each name to its dot
        ax.scatter(values, positions, c=colors, s=24, zorder=3, edgecolors="white", linewidths=0.4)
    else:
        ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, [r.name for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
    ax.grid(True, axis="x", color="0.9")
    ax.set_axisbelow(True)
    q = quantity(column)
    human_axis(ax.xaxis, q.kind, q.unit)
    ax.tick_params(axis="y", labelsize=7 if len(rows) > 40 else 9)
    ax.set_xlabel(axis_label(column, report.batch, "log scale" if log else ""))
    ax.set_title(f"{report.architecture}: {q.words} per layer, batch {report.batch:,}, {report.options.dtype}")
    if color_by is not None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        handles = [Line2D([], [], marker="o", linestyle="", color=c, label=k) if log else Patch(color=c, label=k)
                   for k, c in palette.items()]
        legend_beside(ax, handles, title=color_by)
    return ax


def compare(comparison: Comparison, columns: Sequence[str] = ("params", "flops", "memory_bytes"),
            ax: Axes | None = None) -> Axes:
    """Grouped bars: each column as a ratio to the first architecture (the dashed line at 1).
    Returns the Axes."""
    for column in columns:
        _check_column(column)
    names = [r.architecture for r in comparison.reports]
    ax = new_axes(ax, (max(5.0, 1.5 * len(names) + 3.0), 4))
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        ratios = [comparison.ratio(j, column) for j in range(len(names))]
        ax.bar([j + i * width for j in range(len(names))], ratios, width, label=quantity(column).words)
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.set_xticks([j + width * (len(columns) - 1) / 2 for j in range(len(names))], names, rotation=20, ha="right")
    ax.set_ylabel(f"ratio to {names[0]} (1 = the same)")
    first = comparison.reports[0]
    ax.set_title(f"compared with {names[0]}: batch {first.batch:,}, {first.options.dtype}")
    legend_beside(ax, title="figure")
    return ax


# --- memory ---

def _step_of(report: Report) -> Any:
    if report.step is None:
        raise CnnCostError("this picture needs the autograd memory model: "
                           "cnncost.table(..., memory='autograd')")
    return report.step


def timeline(report: Report, ax: Axes | None = None, batch: int | None = None) -> Axes:
    """Bytes held at every moment of the training step (or inference pass) under the autograd
    memory model, stacked by part (`cnncost.pictures.parts.ORDER`, bottom first): the forward
    pass row by row, the backward pass in reverse, the optimizer step; the peak marked and named.
    Returns the Axes.

    >>> import cnncost, cnncost.plot
    >>> ax = cnncost.plot.timeline(cnncost.table("resnet18", batch=64, memory="autograd"))
    """
    step = _step_of(report)
    batch = report.batch if batch is None else batch
    n = step.count
    stacks: list[tuple[str, list[int]]] = []
    for part in ordered(step.parts):
        a, c = step.parts[part]
        a = a if isinstance(a, list) else [a] * n
        c = c if isinstance(c, list) else [c] * n
        values = [x * batch + y for x, y in zip(a, c)]
        if any(values):
            stacks.append((part, values))
    totals = [sum(v[i] for _, v in stacks) for i in range(n)]
    peak = step.peak_index(batch)
    ax = new_axes(ax, (10, 4.8))
    xs = list(range(n))
    ax.stackplot(xs, *[values for _, values in stacks], labels=[p for p, _ in stacks],
                 colors=[color(p) for p, _ in stacks], step="mid", linewidth=0)
    top = max(totals)
    if step.mode == "train":
        forward = len(step.trace.steps)  # (backward: a moment per step, and one after a step whose gradients settle)
        spans = [(0, forward, "forward"), (forward, n - 1, "backward"), (n - 1, n, "optimizer step")]
    else:
        spans = [(0, n, "forward (inference)")]
    for first, stop, name in spans:
        if first:
            ax.axvline(first - 0.5, color="0.35", linestyle=":", linewidth=1)
        last = stop - first == 1  # the optimizer step: one moment, at the right edge
        ax.text(stop - 0.5 - 0.01 * n if last else (first + stop - 1) / 2, top * 1.13, name,
                ha="right" if last else "center", va="bottom", fontsize=9, color="0.25")
    moment = step.moment(peak)
    ax.plot([peak], [totals[peak]], marker="v", color="black", markersize=8, zorder=5)
    left = peak > 0.6 * n
    ax.annotate(f"peak {human(totals[peak], 'bytes')}\n{moment.phase}", (peak, totals[peak]),
                xytext=(-12 if left else 12, -4), textcoords="offset points", ha="right" if left else "left",
                va="top", fontsize=9, bbox={"boxstyle": "round", "fc": "white", "ec": "0.6", "alpha": 0.9})
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, top * 1.22)
    human_axis(ax.yaxis, "bytes")
    ax.set_xlabel("moment of the step (one per row: forward, then backward in reverse)")
    ax.set_ylabel(f"held {per_words('batch', batch)} ({_BYTES})")
    ax.set_title(f"{report.architecture}: {'training step' if step.mode == 'train' else 'inference'}, "
                 f"batch {batch:,}, {report.options.dtype}, {step.optimizer}")
    legend_beside(ax, title="held by")
    return ax


def _lecture_parts(report: Report) -> dict[str, int]:
    """The lecture's rule, 2 x activations + k x params, split: activations and their gradients,
    the input batch (stored once), parameters, gradients and k - 2 optimizer copies."""
    totals, size = report.totals, report.options.bytes_per_element
    names = {name for name, _ in report.inputs}
    input_bytes = sum(row.activation_memory_bytes for row in report.rows[:len(names)] if row.name in names)
    activations = (totals.activation_memory_bytes - input_bytes) // 2
    params = totals.params * size
    return {"input batch": input_bytes, "activations": activations, "activation gradients": activations,
            "parameters": params, "gradients": params,
            "optimizer state": params * (report.options.param_copies - 2)}


def breakdown(reports: Report | Sequence[Report], ax: Axes | None = None, rule: str | None = None) -> Axes:
    """A stacked bar per report: what the training memory is made of, the parts in one order
    (`cnncost.pictures.parts.ORDER`, left first) in every bar. `rule` "lecture": activations,
    activation gradients, the input batch, parameters, gradients and optimizer state (2 x
    activations + k x params); "autograd": the parts held at the step's peak (needs
    memory="autograd"). Default: autograd where the report has the step, else the lecture's.
    Returns the Axes; each segment's `get_gid()` is its part.

    >>> import cnncost, cnncost.plot
    >>> ax = cnncost.plot.breakdown([cnncost.table("vgg16"), cnncost.table("vgg16", memory="autograd")])
    """
    if isinstance(reports, Report):
        reports = [reports]
    if rule not in (None, "lecture", "autograd"):
        raise CnnCostError(f"rule must be 'lecture' or 'autograd', got {rule!r}")
    bars = []
    for report in reports:
        kind = rule or ("autograd" if report.step is not None else "lecture")
        if kind == "autograd":
            _step_of(report)  # the named error without the step
            step: Any = report.step_breakdown()
            parts = dict(step["breakdown"])
            label = f"{report.architecture}\nautograd, peak at\n{step['phase']}"
        else:
            parts = _lecture_parts(report)
            label = f"{report.architecture}\nlecture's rule (k = {report.options.param_copies})"
        bars.append((f"{label}\nbatch {report.batch:,}, {report.options.dtype}",
                     {part: parts[part] for part in ordered(parts) if parts[part]}))
    largest = max(sum(parts.values()) for _, parts in bars)
    ax = new_axes(ax, (10, 1.2 + 1.1 * len(bars)))
    seen: set[str] = set()
    for y, (label, parts) in enumerate(bars):
        left = 0
        for part, value in parts.items():
            (patch,) = ax.barh(y, value, left=left, color=color(part), edgecolor="white",
                               label=None if part in seen else part)
            patch.set_gid(part)
            seen.add(part)
            left += value
        ax.text(left, y, f"  {human(left, 'bytes')}", va="center", fontsize=9)
    ax.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlim(0, largest * 1.18)
    human_axis(ax.xaxis, "bytes")
    batches = {r.batch for r in reports}
    ax.set_xlabel(f"training memory {per_words('batch', batches.pop() if len(batches) == 1 else None)} ({_BYTES})")
    handles, names = ax.get_legend_handles_labels()
    rank = {part: i for i, part in enumerate(ordered(names))}
    legend_beside(ax, [h for _, h in sorted(zip(names, handles), key=lambda p: rank[p[0]])], title="held by")
    return ax


# --- across architectures ---

def _log_limits(values: Sequence[float], margin: float = 0.08) -> tuple[float, float]:
    lo, hi = math.log10(min(values)), math.log10(max(values))
    span = max(hi - lo, 1.0)
    return 10 ** (lo - margin * span), 10 ** (hi + margin * span)


def _batch_of(frame: Any) -> int | None:
    """The frame's batch where one batch holds for every row, else None (the axis says 'per batch')."""
    if "batch" in frame.columns and frame["batch"].nunique() == 1:
        return int(frame["batch"].iloc[0])
    return None


def zoo(frame: Any, x: str = "params", y: str = "macs", ax: Axes | None = None, label: str = "architecture",
        color: str = "family", labels: bool = True) -> Axes:
    """Params against MACs per image for `cnncost.zoo_frame()` (or any frame with those columns),
    log-log, one colour per family, every label that fits without overlapping (greedy: the most
    expensive first). y="macs" uses `macs_per_image` where the frame has it. Returns the Axes.

    >>> import cnncost, cnncost.plot
    >>> ax = cnncost.plot.zoo(cnncost.zoo_frame("resnet*"))
    """
    column = "macs_per_image" if y == "macs" and "macs_per_image" in frame.columns else y
    data = frame[(frame[x] > 0) & (frame[column] > 0)]
    if data.empty:
        raise CnnCostError(f"nothing to plot: no row has positive {x} and {column}")
    xs = [float(v) for v in data[x]]
    ys = [float(v) for v in data[column]]
    ours = ax is None
    ax = new_axes(ax, (11, 7.5))
    fig: Any = ax.figure.figure  # the root figure, where ax is on a subfigure
    groups = list(data[color]) if color in data.columns else ["all"] * len(xs)
    families = list(dict.fromkeys(groups))
    for k, group in enumerate(families):  # ten colours, then the next marker shape: every family its own look
        chosen = [i for i, g in enumerate(groups) if g == group]
        ax.scatter([xs[i] for i in chosen], [ys[i] for i in chosen], s=26,
                   color=_TEN[k % len(_TEN)], marker=_MARKERS[(k // len(_TEN)) % len(_MARKERS)],
                   label=group, zorder=3, edgecolors="white", linewidths=0.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*_log_limits(xs))
    ax.set_ylim(*_log_limits(ys))
    for axis, name in ((ax.xaxis, x), (ax.yaxis, column)):
        human_axis(axis, quantity(name).kind, quantity(name).unit)
    ax.grid(True, which="major", color="0.9", zorder=0)
    ax.set_xlabel(axis_label(x, _batch_of(data)))
    ax.set_ylabel(axis_label(column, _batch_of(data)))
    legend_beside(ax, title=color, ncols=1 if len(families) <= 18 else 2)
    title = ax.set_title(f"{len(xs)} architectures")
    if labels:
        fig.draw_without_rendering()  # settle the layout, then freeze it (ours): labels are placed in pixels
        if ours:
            fig.set_layout_engine("none")
        order = sorted(range(len(xs)), key=lambda i: -ys[i])
        names = list(data[label]) if label in data.columns else [str(i) for i in range(len(xs))]
        placed = place_labels(ax, [xs[i] for i in order], [ys[i] for i in order], [str(names[i]) for i in order])
        left_out = len(xs) - len(placed)
        if left_out:
            title.set_text(f"{len(xs)} architectures ({left_out} labels left out: no free spot)")
    return ax


_SWEPT = ("architecture", "name", "width", "depth", "input", "batch", "dtype", "optimizer")
_X_WORDS = {"input": "input resolution (H, pixels)", "batch": "batch (images)"}


def _resolution(text: Any) -> float:
    """'3x224x224' -> 224 (H); a number stays itself."""
    if isinstance(text, str):
        return float(text.split("x")[1]) if text.count("x") == 2 else float(text.split("x")[-1])
    return float(text)


def sweep(frame: Any, x: str = "input", y: str = "macs", by: Sequence[str] | str | None = None, ax: Axes | None = None,
          log: bool | None = None, title: str | None = None) -> Axes:
    """A total (`y`: macs, memory_bytes, peak_bytes, ...) against resolution (x="input": the input's
    H) or batch (x="batch") for a `cnncost.sweep(...)` frame (any frame with those columns): one
    line per combination of the other swept columns (`by`, default: those that vary). `log`
    (default: where a column spans more than 20x) puts both axes on log scales. The title names
    the columns that stay fixed, unless `title` is given. Returns the Axes.

    >>> import cnncost, cnncost.plot, cnncost.sweep
    >>> ax = cnncost.plot.sweep(cnncost.sweep("resnet50", input=range(128, 321, 32), dtype=["fp32", "bf16"]),
    ...                         y="memory_bytes")
    """
    for column in (x, y):
        if column not in frame.columns:
            raise CnnCostError(f"the frame has no column '{column}'; it has: {', '.join(map(str, frame.columns))}")
    if by is None:
        by = [c for c in _SWEPT if c in frame.columns and c not in (x, y) and frame[c].nunique() > 1]
    elif isinstance(by, str):
        by = [by]
    xs_all = [_resolution(v) for v in frame[x]]
    ys_all = [float(v) for v in frame[y]]
    if log is None:
        log = max(ys_all) > 20 * max(min(ys_all), 1) or max(xs_all) > 20 * max(min(xs_all), 1)
    ax = new_axes(ax, (8, 5))
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(*(frame[c] for c in by)) if by else [()] * len(frame)):
        groups.setdefault(tuple(key), []).append(i)
    for key, rows in groups.items():
        rows = sorted(rows, key=lambda i: xs_all[i])
        name = ", ".join(f"{c}={v}" for c, v in zip(by, key)) or y
        ax.plot([xs_all[i] for i in rows], [ys_all[i] for i in rows], marker="o", markersize=3, label=name)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    q = quantity(y)
    human_axis(ax.yaxis, q.kind, q.unit)
    human_axis(ax.xaxis, quantity(x).kind, quantity(x).unit)
    swept = sorted(set(xs_all))
    if x in _X_WORDS and len(swept) <= 12:  # the swept values themselves: 1, 2, 4 ... 256
        from matplotlib.ticker import FixedLocator, FuncFormatter
        ax.xaxis.set_major_locator(FixedLocator(swept))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(_X_WORDS.get(x) or axis_label(x, _batch_of(frame)))
    ax.set_ylabel(axis_label(y, None if x == "batch" else _batch_of(frame)))
    ax.grid(True, color="0.9")
    if len(groups) > 1:
        legend_beside(ax)
    if title is None:
        fixed = [f"{c} {frame[c].iloc[0]}" for c in _SWEPT if c in frame.columns and c not in (x, *by)
                 and frame[c].nunique() == 1]
        title = f"{q.words} against {'resolution' if x == 'input' else x}" + (f" ({', '.join(fixed)})" if fixed else "")
    ax.set_title(title)
    return ax
