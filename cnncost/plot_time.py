"""Pictures of the time model (`table(..., hardware=)`; the `plot` extra: matplotlib), as
`cnncost.plot`'s: each returns the Axes, left open (`ax=` draws into yours), with human ticks
("2 ms", "100 TFLOP/s") and the legend beside the axes.

- `time_bars(report)`: per layer, its training seconds (forward + both gradients, the expected
  estimate) stacked by what bounds each pass: compute, memory or launch;
- `roofline(report)`: each layer as a point, arithmetic intensity (FLOPs per byte moved) against
  the FLOP/s it achieves at the expected estimate, under the profile's roofs (bandwidth x intensity,
  the matrix and the vector peaks), log-log.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CnnCostError
from .pictures.axes import legend_beside, new_axes
from .pictures.ticks import human_axis
from .pictures.wording import per_words

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BOUND_COLORS = {"compute": "#4e79a7", "memory": "#f28e2b", "launch": "#bab0ac"}


def _timing(report: Any) -> Any:
    if report.timing is None:
        raise CnnCostError("time pictures need a report with the time model: cnncost.table(..., hardware=NAME)")
    return report.timing


def _title(report: Any, timing: Any, what: str) -> str:
    return f"{report.architecture}: {what} on {timing.hardware}, {timing.dtype}, batch {timing.batch}"


def time_bars(report: Any, ax: Axes | None = None, skip_zero: bool = True) -> Axes:
    """A horizontal bar per graph node (layer): its seconds in the training step (the expected
    estimate: forward + input gradient + weight gradient), coloured by the bound of each pass. Returns the Axes.

    >>> import cnncost, cnncost.plot_time
    >>> ax = cnncost.plot_time.time_bars(cnncost.table("alexnet", hardware="a100-sxm4-80gb"))
    """
    timing = _timing(report)
    seconds = timing.node_seconds()
    names = [node.path for node in timing.nodes]
    keep = [i for i in range(len(names)) if not skip_zero or any(seconds[f"{b}_seconds"][i] for b in BOUND_COLORS)]
    ax = new_axes(ax, (8, max(2.0, 0.22 * len(keep) + 1.4)))
    left = [0.0] * len(keep)
    positions = list(range(len(keep)))
    for bound, color in BOUND_COLORS.items():
        values = [seconds[f"{bound}_seconds"][i] for i in keep]
        ax.barh(positions, values, left=left, color=color, label=f"{bound}-bound")
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(positions, [names[i] for i in keep])
    ax.set_ylim(len(keep) - 0.5, -0.5)  # the first layer on top
    ax.set_xlim(0, max(left, default=0.0) * 1.05 or 1e-6)  # a zero-width segment's sticky edge would clip the longest
    human_axis(ax.xaxis, "seconds")
    ax.grid(True, axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", labelsize=7 if len(keep) > 40 else 9)
    ax.set_xlabel(f"training-step time per layer, {per_words('batch', timing.batch)} "
                  "(seconds; expected: forward + backward)")
    legend_beside(ax, title="pass bound")
    ax.set_title(_title(report, timing, "time per layer"))
    return ax


def _points(timing: Any) -> list[tuple[str, float, float, str]]:
    """(layer, FLOPs per byte, achieved FLOP/s, the bound of its longest pass) per timed layer."""
    out = []
    for node, passes in zip(timing.nodes, timing.expected_nodes):
        costs = (node.forward, node.input_grad, node.weight_grad)
        work = sum(c.work.at(timing.batch) for c in costs)
        moved = sum(c.bytes.at(timing.batch) for c in costs)
        seconds = sum(t.seconds for t in passes)
        if work and moved and seconds:
            out.append((node.path, work / moved, work / seconds, max(passes, key=lambda t: t.seconds).bound))
    return out


def roofline(report: Any, ax: Axes | None = None) -> Axes:
    """Each layer as a point: its arithmetic intensity (training FLOPs per byte moved, forward and
    backward together) against the FLOP/s it achieves at the expected estimate, coloured by the
    bound of its longest pass; the roofs: memory bandwidth x intensity up to the matrix units' peak
    (solid) and the vector units' (dashed), at the profile's datasheet (or calibrated) figures.
Returns the Axes.

    >>> import cnncost, cnncost.plot_time
    >>> ax = cnncost.plot_time.roofline(cnncost.table("resnet18", dtype="bf16", hardware="a100-sxm4-80gb"))
    """
    timing = _timing(report)
    profile = timing.profile
    points = _points(timing)
    if not points:
        raise CnnCostError(f"{report.architecture}: no layer does work to place on a roofline")
    ax = new_axes(ax, (10, 5.5))
    dtype = next((c.dtype for n in timing.nodes for c in (n.forward,) if c.unit == "matrix"), timing.dtype)
    matrix = profile.peak(dtype, "matrix") or profile.peak("fp32", "matrix") or profile.peak("fp32", "vector")
    vector = profile.peak(dtype, "vector") or profile.peak("fp32", "vector") or matrix
    bandwidth = profile.memory_bandwidth
    xs = [p[1] for p in points]
    low, high = min(min(xs), vector / bandwidth) / 4, max(max(xs), matrix / bandwidth) * 4
    for peak, style, what in ((matrix, "-", f"matrix units, {dtype}"), (vector, "--", "vector units")):
        ridge = peak / bandwidth
        ax.plot([low, ridge, high], [low * bandwidth, peak, peak], style, color="black", linewidth=1,
                label=f"roof: {peak / 1e12:,.1f} TFLOP/s ({what}), {bandwidth / 1e9:,.0f} GB/s")
    for bound, color in BOUND_COLORS.items():
        chosen = [p for p in points if p[3] == bound]
        if chosen:
            ax.scatter([p[1] for p in chosen], [p[2] for p in chosen], s=16, color=color, label=f"layers, {bound}-bound",
                       zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    human_axis(ax.xaxis, "count")
    human_axis(ax.yaxis, "count", "FLOP/s")
    ax.grid(True, which="major", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved, forward + backward; k = 10^3)")
    ax.set_ylabel(f"achieved throughput at batch {timing.batch:,} (FLOP/s, expected estimate)")
    legend_beside(ax)
    ax.set_title(_title(report, timing, "roofline"))
    return ax
