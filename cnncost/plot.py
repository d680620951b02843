"""Pictures for notebooks and docs (the `plot` extra: matplotlib). Each function returns a
matplotlib `Figure` (draw into your own axes with `ax=`: the figure is then `ax.figure`); the
numbers are the report's or the frame's, exact until they are drawn.

- `timeline(report)`: bytes held at every moment of the training step (memory="autograd");
- `breakdown(report)`: what the memory is made of (the lecture's rule, or the step's peak);
- `layers(report, column)`: a bar per row, linear or log, coloured by layer type or stage;
- `compare(comparison)`: ratios to the first architecture;
- `zoo(frame)`: params against MACs for `cnncost.zoo_frame()`, log-log, labelled;
- `sweep(frame, x, y)`: a total against resolution or batch for `cnncost.sweep(...)`.

Figures are made through pyplot and closed there at once: a notebook shows the returned figure
once, and making many does not accumulate open figures; `fig.savefig(...)` writes one.
Sizes are in IEC units (KiB = 2^10 bytes ... GiB = 2^30 bytes, the lecture's MB and GB), counts in
SI (G = 10^9).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .compare import Comparison
from .errors import CnnCostError
from .report import Report

# per-layer columns: (divisor, axis label)
_SCALES = {"flops": (1e9, "GFLOPs (10^9)"), "macs": (1e9, "GMACs (10^9)"), "params": (1e6, "M params (10^6)"),
           "activations": (1e6, "M activations (10^6)"),
           "activation_memory_bytes": (2**20, "activation memory (MiB = 2^20 bytes)"),
           "param_memory_bytes": (2**20, "param memory (MiB = 2^20 bytes)"),
           "memory_bytes": (2**20, "memory (MiB = 2^20 bytes)")}

# one colour per part of memory, the same in every picture
PART_COLORS = {
    "parameters": "#4e79a7", "gradients": "#f28e2b", "optimizer state": "#e15759",
    "optimizer temporaries": "#ff9d9a", "weight casts": "#b07aa1", "input batch": "#9c755f",
    "saved for backward": "#59a14f", "live activations": "#8cd17d", "activation gradients": "#edc948",
    "activations": "#499894",
}
_CYCLE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
          "#bab0ac", "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#499894", "#fabfd2",
          "#79706e", "#d4a6c8")
_TEN = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MARKERS = ("o", "s", "^", "D", "v", "P")
_IEC = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "bytes"))
_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""))


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise CnnCostError("plots need matplotlib: pip install 'cnncost[plot]'") from None
    return plt


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(figure, axes): the caller's, or new ones, closed in pyplot (see the module's docstring)."""
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig, ax


def _bytes_unit(largest: float) -> tuple[int, str]:
    for size, name in _IEC:
        if largest >= size:
            return size, name
    return 1, "bytes"


def _count_unit(largest: float) -> tuple[float, str]:
    for size, name in _SI:
        if largest >= size:
            return size, name
    return 1, ""


def _human_bytes(value: int) -> str:
    size, name = _bytes_unit(value)
    return f"{value / size:.3g} {name}" if size > 1 else f"{value} bytes"


def _check_column(column: str) -> None:
    if column not in _SCALES:
        raise CnnCostError(f"cannot plot column '{column}'; allowed: {', '.join(_SCALES)}")


def _stage(name: str) -> str:
    return name.split(".", 1)[0] if "." in name else "(top level)"


def _colors(keys: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in keys:
        if key not in out:
            out[key] = _CYCLE[len(out) % len(_CYCLE)]
    return out


# --- per-layer bars and comparisons ---

def layers(report: Report, column: str = "flops", ax: Any = None, skip_zero: bool = True, log: bool = False,
           color_by: str | None = None) -> Any:
    """A horizontal bar per row of `report` (use `depth=` for one bar per block). `log=True`: a
    log axis (VGG's convs next to fc6); `color_by`: "type" (conv, linear, ...) or "stage" (the
    first part of the row's name: layer1, stage2, ...), with a legend.

    >>> import cnncost, cnncost.plot
    >>> fig = cnncost.plot.layers(cnncost.table("vgg16"), "params", log=True, color_by="type")
    """
    _check_column(column)
    if color_by not in (None, "type", "stage"):
        raise CnnCostError(f"color_by must be 'type' or 'stage', got {color_by!r}")
    scale, label = _SCALES[column]
    rows = [r for r in report.rows if not skip_zero or getattr(r, column)]
    fig, ax = _axes(ax, (8, max(2.0, 0.22 * len(rows) + 1.2)))
    values = [getattr(r, column) / scale for r in rows]
    if color_by is None:
        ax.barh([r.name for r in rows], values)
    else:
        keys = [r.type if color_by == "type" else _stage(r.name) for r in rows]
        colors = _colors(keys)
        ax.barh([r.name for r in rows], values, color=[colors[k] for k in keys])
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=c, label=k) for k, c in colors.items()], title=color_by,
                  fontsize="small", loc="best")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.tick_params(axis="y", labelsize=7 if len(rows) > 40 else 9)
    ax.set_xlabel(label + (", log scale" if log else ""))
    ax.set_title(f"{report.architecture}, batch {report.batch}, {report.options.dtype}")
    return fig


def compare(comparison: Comparison, columns: Sequence[str] = ("params", "flops", "memory_bytes"),
            ax: Any = None) -> Any:
    """Grouped bars: each column as a ratio to the first architecture (the dashed line at 1)."""
    import numpy as np
    for column in columns:
        _check_column(column)
    names = [r.architecture for r in comparison.reports]
    fig, ax = _axes(ax, (max(4.0, 1.5 * len(names)), 4))
    width = 0.8 / len(columns)
    positions = np.arange(len(names))
    for i, column in enumerate(columns):
        ratios = [comparison.ratio(j, column) for j in range(len(names))]
        ax.bar(positions + i * width, ratios, width, label=column.replace("_", " "))
    ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
    ax.set_xticks(positions + width * (len(columns) - 1) / 2, names, rotation=20, ha="right")
    ax.set_ylabel(f"ratio to {names[0]}")
    ax.legend()
    return fig


# --- memory ---

def _step_of(report: Report) -> Any:
    if report.step is None:
        raise CnnCostError("this picture needs the autograd memory model: "
                           "cnncost.table(..., memory='autograd')")
    return report.step


def timeline(report: Report, ax: Any = None, batch: int | None = None) -> Any:
    """Bytes held at every moment of the training step (or inference pass) under the autograd
    memory model, stacked by part: the forward pass row by row, the backward pass in reverse, the
    optimizer step; the peak marked and named.

    >>> import cnncost, cnncost.plot
    >>> fig = cnncost.plot.timeline(cnncost.table("resnet18", batch=64, memory="autograd"))
    """
    from .memory.step import PARTS
    step = _step_of(report)
    batch = report.batch if batch is None else batch
    n = step.count
    stacks: list[tuple[str, list[int]]] = []
    for part in PARTS:
        if part not in step.parts:
            continue
        a, c = step.parts[part]
        a = a if isinstance(a, list) else [a] * n
        c = c if isinstance(c, list) else [c] * n
        values = [x * batch + y for x, y in zip(a, c)]
        if any(values):
            stacks.append((part, values))
    totals = [sum(v[i] for _, v in stacks) for i in range(n)]
    peak = step.peak_index(batch)
    size, unit = _bytes_unit(max(totals))
    fig, ax = _axes(ax, (10, 4.8))
    xs = list(range(n))
    ax.stackplot(xs, *[[v / size for v in values] for _, values in stacks], labels=[p for p, _ in stacks],
                 colors=[PART_COLORS.get(p, "0.5") for p, _ in stacks], step="mid", linewidth=0)
    top = max(totals) / size
    if step.mode == "train":
        forward = (n - 1) // 2
        spans = [(0, forward, "forward"), (forward, 2 * forward, "backward"), (2 * forward, n, "optimizer step")]
    else:
        spans = [(0, n, "forward (inference)")]
    for first, stop, name in spans:
        if first:
            ax.axvline(first - 0.5, color="0.35", linestyle=":", linewidth=1)
        last = stop - first == 1  # the optimizer step: one moment, at the right edge
        ax.text(stop - 0.5 - 0.01 * n if last else (first + stop - 1) / 2, top * 1.13, name,
                ha="right" if last else "center", va="bottom", fontsize=9, color="0.25")
    moment = step.moment(peak)
    ax.plot([peak], [totals[peak] / size], marker="v", color="black", markersize=8, zorder=5)
    left = peak > 0.6 * n
    ax.annotate(f"peak {_human_bytes(totals[peak])}\n{moment.phase}", (peak, totals[peak] / size),
                xytext=(-12 if left else 12, -4), textcoords="offset points", ha="right" if left else "left",
                va="top", fontsize=9, bbox={"boxstyle": "round", "fc": "white", "ec": "0.6", "alpha": 0.9})
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_ylim(0, top * 1.22)
    ax.set_xlabel("moment of the step (one per row: forward, then backward in reverse)")
    ax.set_ylabel(f"held ({unit}{'' if size == 1 else ' = 2^' + str(int(math.log2(size))) + ' bytes'})")
    ax.set_title(f"{report.architecture}: {'training step' if step.mode == 'train' else 'inference'}, "
                 f"batch {batch}, {report.options.dtype}, {step.optimizer}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="held by")
    return fig


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


def breakdown(reports: Report | Sequence[Report], ax: Any = None, rule: str | None = None) -> Any:
    """A stacked bar per report: what the training memory is made of. `rule` "lecture":
    activations, activation gradients, the input batch, parameters, gradients and optimizer
    state (2 x activations + k x params); "autograd": the parts held at the step's peak (needs
    memory="autograd"). Default: autograd where the report has the step, else the lecture's.

    >>> import cnncost, cnncost.plot
    >>> fig = cnncost.plot.breakdown([cnncost.table("vgg16"), cnncost.table("vgg16", memory="autograd")])
    """
    if isinstance(reports, Report):
        reports = [reports]
    if rule not in (None, "lecture", "autograd"):
        raise CnnCostError(f"rule must be 'lecture' or 'autograd', got {rule!r}")
    bars = []
    for report in reports:
        kind = rule or ("autograd" if report.step is not None else "lecture")
        if kind == "autograd":
            step = report.step_breakdown() if report.step is not None else _step_of(report)
            parts = dict(step["breakdown"])
            label = f"{report.architecture}\nautograd, peak at\n{step['phase']}"
        else:
            parts = _lecture_parts(report)
            label = f"{report.architecture}\nlecture's rule (k = {report.options.param_copies})"
        bars.append((f"{label}\nbatch {report.batch}, {report.options.dtype}", {k: v for k, v in parts.items() if v}))
    largest = max(sum(parts.values()) for _, parts in bars)
    size, unit = _bytes_unit(largest)
    fig, ax = _axes(ax, (10, 1.2 + 1.1 * len(bars)))
    seen: set[str] = set()
    for y, (label, parts) in enumerate(bars):
        left = 0.0
        for part, value in parts.items():
            ax.barh(y, value / size, left=left, color=PART_COLORS.get(part, "0.5"), edgecolor="white",
                    label=None if part in seen else part)
            seen.add(part)
            left += value / size
        ax.text(left, y, f"  {_human_bytes(sum(parts.values()))}", va="center", fontsize=9)
    ax.set_yticks(range(len(bars)), [label for label, _ in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, largest / size * 1.18)
    ax.set_xlabel(f"training memory ({unit}{'' if size == 1 else ' = 2^' + str(int(math.log2(size))) + ' bytes'})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="held by")
    return fig


# --- across architectures ---

def _renderer(fig: Any) -> Any:
    try:
        return fig.canvas.get_renderer()
    except AttributeError:  # a canvas without one (not Agg-based): measure text with Agg's
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        return FigureCanvasAgg(fig).get_renderer()


def place_labels(ax: Any, xs: Sequence[float], ys: Sequence[float], texts: Sequence[str],
                 fontsize: float = 7, pad: float = 1.0) -> list[Any]:
    """Greedy label placement: in order, each label goes to the first of eight spots around its
    point where it overlaps no label placed so far, no marker and stays inside the axes; a label
    with no free spot is left out. Returns the placed `Text` artists."""
    fig = ax.figure
    renderer = _renderer(fig)
    frame = ax.get_window_extent(renderer)
    points = ax.transData.transform(list(zip(xs, ys)))
    marker = 3.0 * fig.dpi / 72  # half a marker, in pixels
    obstacles = [(px - marker, py - marker, px + marker, py + marker) for px, py in points]
    spots = ((4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"), (-4, -3, "right", "top"),
             (0, 5, "center", "bottom"), (0, -5, "center", "top"), (6, 0, "left", "center"), (-6, 0, "right", "center"))
    placed = []
    for x, y, text in zip(xs, ys, texts):
        for dx, dy, ha, va in spots:
            artist = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                 fontsize=fontsize)
            box = artist.get_window_extent(renderer)
            rect = (box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)
            inside = frame.x0 <= rect[0] and rect[2] <= frame.x1 and frame.y0 <= rect[1] and rect[3] <= frame.y1
            if inside and not any(rect[0] < o[2] and o[0] < rect[2] and rect[1] < o[3] and o[1] < rect[3]
                                  for o in obstacles):
                obstacles.append(rect)
                placed.append(artist)
                break
            artist.remove()
    return placed


def _log_limits(values: Sequence[float], margin: float = 0.08) -> tuple[float, float]:
    lo, hi = math.log10(min(values)), math.log10(max(values))
    span = max(hi - lo, 1.0)
    return 10 ** (lo - margin * span), 10 ** (hi + margin * span)


def zoo(frame: Any, x: str = "params", y: str = "macs", ax: Any = None, label: str = "architecture",
        color: str = "family", labels: bool = True) -> Any:
    """Params against MACs per image for `cnncost.zoo_frame()` (or any frame with those columns),
    log-log, one colour per family, every label that fits without overlapping (greedy: the most
    expensive first). y="macs" uses `macs_per_image` where the frame has it.

    >>> import cnncost, cnncost.plot
    >>> fig = cnncost.plot.zoo(cnncost.zoo_frame("resnet*"))
    """
    column = "macs_per_image" if y == "macs" and "macs_per_image" in frame.columns else y
    data = frame[(frame[x] > 0) & (frame[column] > 0)]
    if data.empty:
        raise CnnCostError(f"nothing to plot: no row has positive {x} and {column}")
    xs = [float(v) for v in data[x]]
    ys = [float(v) for v in data[column]]
    xscale, xunit = _count_unit(max(xs))
    yscale, yunit = _count_unit(max(ys))
    fig, ax = _axes(ax, (11, 7.5))
    groups = list(data[color]) if color in data.columns else ["all"] * len(xs)
    colors = list(dict.fromkeys(groups))
    for k, group in enumerate(colors):  # ten colours, then the next marker shape: every family its own look
        chosen = [i for i, g in enumerate(groups) if g == group]
        ax.scatter([xs[i] / xscale for i in chosen], [ys[i] / yscale for i in chosen], s=26,
                   color=_TEN[k % len(_TEN)], marker=_MARKERS[(k // len(_TEN)) % len(_MARKERS)],
                   label=group, zorder=3, edgecolors="white", linewidths=0.4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*_log_limits([v / xscale for v in xs]))
    ax.set_ylim(*_log_limits([v / yscale for v in ys]))
    ax.grid(True, which="major", color="0.9", zorder=0)
    per_image = " per image" if column == "macs_per_image" else ""
    ax.set_xlabel(f"{x} ({xunit} = 10^{int(round(math.log10(xscale)))})" if xunit else x)
    ax.set_ylabel(f"{column.replace('_per_image', '')}{per_image} ({yunit} = 10^{int(round(math.log10(yscale)))})"
                  if yunit else column)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title=color,
              ncols=1 if len(colors) <= 18 else 2)
    title = ax.set_title(f"{len(xs)} architectures")
    if labels:
        fig.draw_without_rendering()  # settle the layout, then freeze it: labels are placed in pixels
        fig.set_layout_engine("none")
        order = sorted(range(len(xs)), key=lambda i: -ys[i])
        names = list(data[label]) if label in data.columns else [str(i) for i in range(len(xs))]
        placed = place_labels(ax, [xs[i] / xscale for i in order], [ys[i] / yscale for i in order],
                              [str(names[i]) for i in order])
        left_out = len(xs) - len(placed)
        if left_out:
            title.set_text(f"{len(xs)} architectures ({left_out} labels left out: no free spot)")
    return fig


_SWEPT = ("architecture", "name", "width", "depth", "input", "batch", "dtype", "optimizer")


def _resolution(text: Any) -> float:
    """'3x224x224' -> 224 (H); a number stays itself."""
    if isinstance(text, str):
        return float(text.split("x")[1]) if text.count("x") == 2 else float(text.split("x")[-1])
    return float(text)


def sweep(frame: Any, x: str = "input", y: str = "macs", by: Sequence[str] | str | None = None, ax: Any = None,
          log: bool | None = None, title: str | None = None) -> Any:
    """A total (`y`: macs, memory_bytes, peak_bytes, ...) against resolution (x="input": the input's
    H) or batch (x="batch") for a `cnncost.sweep(...)` frame (any frame with those columns): one
    line per combination of the other swept columns (`by`, default: those that vary). `log`
    (default: where a column spans more than 20x) puts both axes on log scales. The title names
    the columns that stay fixed, unless `title` is given.

    >>> import cnncost, cnncost.plot, cnncost.sweep
    >>> fig = cnncost.plot.sweep(cnncost.sweep("resnet50", input=range(128, 321, 32), dtype=["fp32", "bf16"]),
    ...                          y="memory_bytes")
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
    is_bytes = y.endswith("bytes")
    scale, unit = _bytes_unit(max(ys_all)) if is_bytes else _count_unit(max(ys_all))
    if log is None:
        log = max(ys_all) > 20 * max(min(ys_all), 1) or max(xs_all) > 20 * max(min(xs_all), 1)
    fig, ax = _axes(ax, (8, 5))
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(*(frame[c] for c in by)) if by else [()] * len(frame)):
        groups.setdefault(tuple(key), []).append(i)
    for key, rows in groups.items():
        rows = sorted(rows, key=lambda i: xs_all[i])
        name = ", ".join(f"{c}={v}" for c, v in zip(by, key)) or y
        ax.plot([xs_all[i] for i in rows], [ys_all[i] / scale for i in rows], marker="o", markersize=3, label=name)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("input resolution (H)" if x == "input" else x)
    exponent = (f" = 2^{int(math.log2(scale))} bytes" if is_bytes and scale > 1
                else f" = 10^{int(round(math.log10(scale)))}" if not is_bytes and scale > 1 else "")
    ax.set_ylabel(f"{y} ({unit}{exponent})" if unit else y)
    ax.grid(True, color="0.9")
    if len(groups) > 1:
        ax.legend(fontsize="small")
    if title is None:
        fixed = [f"{c} {frame[c].iloc[0]}" for c in _SWEPT if c in frame.columns and c not in (x, *by)
                 and frame[c].nunique() == 1]
        title = f"{y} against {'resolution' if x == 'input' else x}" + (f" ({', '.join(fixed)})" if fixed else "")
    ax.set_title(title)
    return fig
