"""Step time over many batches at once (`cnncost.sweep(..., hardware=)`, `cnncost.search`).

A pass's time is max(C(b), M(b)) + L, with C and M lines in the batch b (work and bytes are
per sample x b + fixed: `Amount`) and L its launch term; which of the three is largest (its bound)
changes only where two of them cross. So the step's time, split by phase (forward, backward,
optimizer) and by bound, is piecewise linear in b with at most three breakpoints per pass: each
pass contributes, per interval between its breakpoints, a line to its phase and to its bound.
The intervals' changes, sorted by breakpoint and summed, give every batch's totals by one
`searchsorted`: O(passes log passes + batches) per (resolution, dtype, optimizer), however many
batches. Floats (seconds); the counts they come from are the exact ints of `passes.py`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .model import BOUNDS, CONV_CLASSES, Rates
from .ops import UNIT
from .passes import NodeRows, pass_row

PHASES = ("forward", "backward", "optimizer")
SLOTS = len(PHASES) + len(BOUNDS)  # each a line (slope, intercept): the phases' sums, then the bounds'


_ARRAYS: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(rows) -> (rows, their passes as arrays)


def _pass_arrays(rows: list[NodeRows], optimizer: Any) -> dict[str, Any]:
    """The timed passes' exact counts as float arrays (kept per row list: a sweep's cells reuse
    them for every profile and estimate), their rate keys and phases."""
    cached = _ARRAYS.get(id(rows))
    if cached is not None and cached[0] is rows:
        return cached[1]
    passes = [(row, phase) for node in rows for row, phase in zip(node, (0, 1, 1)) if row is not None and row[8]]
    if optimizer.kernels:
        passes.append((pass_row(optimizer), 2))
    keys: dict[tuple[str, str, str, int, int], int] = {}
    index = [keys.setdefault((r[0], UNIT.get(r[0], "vector"), r[1], r[9], r[12]), len(keys)) for r, _ in passes]
    counts = np.array([(r[2], r[3], r[4] + r[6], r[5] + r[7], r[10], r[8], r[11]) for r, _ in passes],
                      dtype=np.float64).reshape(-1, 7)
    arrays = {"counts": counts, "keys": list(keys), "index": np.array(index, dtype=np.int64),
              "conv": np.array([r[0] in CONV_CLASSES for r, _ in passes], dtype=bool),
              "phase": np.array([p for _, p in passes], dtype=np.int64)}
    if len(_ARRAYS) >= 256:
        _ARRAYS.clear()
    _ARRAYS[id(rows)] = (rows, arrays)
    return arrays


def pass_lines(rows: list[NodeRows], optimizer: Any, rates: Rates) -> dict[str, np.ndarray]:
    """Per timed pass: compute C = ca b + cc, memory M = ma b + mc (seconds), launch L, phase index
    (as `step._phase_times` and `Rates.time`: a node whose forward and input gradient are idle is
    not timed)."""
    arrays = _pass_arrays(rows, optimizer)
    counts = arrays["counts"]
    rate = np.array([rates.ops(*key) for key in arrays["keys"]], dtype=np.float64)[arrays["index"]]
    fresh = counts[:, 4] / rates.page_fault if rates.page_fault else np.zeros(len(counts))
    launch = counts[:, 5] * np.where(arrays["conv"] & bool(rates.conv_launch), rates.conv_launch, rates.launch)
    ca, cc = counts[:, 0] / rate, counts[:, 1] / rate
    if rates.rows_half:  # a conv of few GEMM rows: compute x (1 + rows_half / (positions b)), so C gains
        # rows_half ca / positions, a constant (a conv's work is all per sample: no 1/b term)
        positions = counts[:, 6]
        few = positions > 0
        cc = cc + np.where(few, rates.rows_half * ca / np.where(few, positions, 1.0), 0.0)
    return {"ca": ca, "cc": cc, "ma": counts[:, 2] / rates.bandwidth,
            "mc": counts[:, 3] / rates.bandwidth + fresh, "L": launch, "phase": arrays["phase"]}


def _contributions(lines: dict[str, np.ndarray], b: np.ndarray) -> np.ndarray:
    """(P, SLOTS, 2): each pass's line at the points b (P,) placed in its phase's and its bound's slot."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    C, M = ca * b + cc, ma * b + mc
    use_c = C > M  # the value: max(C, M) + L (as Rates.time: memory where equal)
    slope, intercept = np.where(use_c, ca, ma), np.where(use_c, cc, mc) + L
    bound = np.where((C >= M) & (C >= L), 0, np.where(M >= L, 1, 2))  # compute, memory, launch
    out = np.zeros((len(ca), SLOTS, 2))
    rows = np.arange(len(ca))
    out[rows, lines["phase"], 0], out[rows, lines["phase"], 1] = slope, intercept
    out[rows, len(PHASES) + bound, 0], out[rows, len(PHASES) + bound, 1] = slope, intercept
    return out


def step_lines(lines: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The step's piecewise-linear totals: breakpoints x (sorted, > 1) and, per interval (before x[0],
    between, after x[-1]), the (SLOTS, 2) lines; batches from 1 up."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossings = np.stack([(mc - cc) / (ca - ma), (L - cc) / ca, (L - mc) / ma], axis=1)  # C=M, C=L, M=L
    crossings = np.where(np.isfinite(crossings) & (crossings > 1), crossings, np.inf)
    crossings.sort(axis=1)
    P = len(ca)
    # each pass's state at b = 1, then just after each of its breakpoints (midway to the next)
    nxt = np.concatenate([crossings[:, 1:], np.full((P, 1), np.inf)], axis=1)
    after = np.where(np.isfinite(nxt), (crossings + nxt) / 2, crossings + 1)
    base = _contributions(lines, np.ones(P))
    states = [base] + [_contributions(lines, np.where(np.isfinite(after[:, k]), after[:, k], 1.0)) for k in range(3)]
    deltas, points = [], []
    for k in range(3):
        live = np.isfinite(crossings[:, k])
        deltas.append((states[k + 1] - states[k])[live])
        points.append(crossings[live, k])
    x = np.concatenate(points)
    order = np.argsort(x, kind="stable")
    running = np.cumsum(np.concatenate(deltas)[order], axis=0)
    totals = np.concatenate([base.sum(axis=0)[None], base.sum(axis=0)[None] + running], axis=0)
    return x[order], totals


_LINES: dict[tuple[int, int, str], tuple[Any, Any, np.ndarray, np.ndarray]] = {}


def cached_step_lines(rows: list[NodeRows], optimizer: Any, profile: Any, estimate: str) -> tuple[np.ndarray, np.ndarray]:
    """`step_lines` of a node list on a profile, kept (the node lists are kept on their graphs:
    `step.step_costs`), so a sweep over the same structures again only evaluates its batches."""
    key = (id(rows), id(profile), estimate)
    cached = _LINES.get(key)
    if cached is not None and cached[0] is rows and cached[1] is profile:
        return cached[2], cached[3]
    x, totals = step_lines(pass_lines(rows, optimizer, Rates(profile, estimate)))
    if len(_LINES) >= 1024:
        _LINES.clear()
    _LINES[key] = (rows, profile, x, totals)
    return x, totals


def at_batches(x: np.ndarray, totals: np.ndarray, batches: np.ndarray) -> np.ndarray:
    """(B, slots) seconds at each batch: of `step_lines`' totals, forward, backward, optimizer, then
    by bound (or of fewer slots: the lines given)."""
    b = batches.astype(np.float64)
    interval = np.searchsorted(x, b, side="left")  # events strictly below b have happened
    lines = totals.reshape(len(totals), -1)[interval]  # one gather: (B, slope and intercept per slot)
    return lines[:, 0::2] * b[:, None] + lines[:, 1::2]


def resolution_lines(rows: list[NodeRows], optimizer: Any, profile: Any) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """What `batch_times` evaluates, for one (structure, resolution, dtype, optimizer) on a profile:
    the expected step's breakpoints and lines per slot, and the pure roofline's (its step only:
    the phases' lines summed). Small (a few thousand floats): a sweep keeps them per resolution,
    so a grid over the same resolutions again skips the graph, the trace and the per-node costs."""
    x, totals = cached_step_lines(rows, optimizer, profile, "expected")
    xb, bound = cached_step_lines(rows, optimizer, profile, "bound")
    return (x, totals), (xb, bound[:, :len(PHASES)].sum(axis=1, keepdims=True))


def times_at(lines: tuple[tuple[np.ndarray, np.ndarray], ...], batches: np.ndarray) -> dict[str, np.ndarray]:
    """Per batch, both estimates from `resolution_lines`: `forward_seconds` ... `step_seconds`,
    `images_per_second`, `limited_by` (index into BOUNDS: the bound holding most of the expected
    step), and the pure roofline's `bound_step_seconds`, `bound_images_per_second`."""
    (x, totals), (xb, bound) = lines
    b = batches.astype(np.float64)
    out: dict[str, np.ndarray] = {}
    seconds = at_batches(x, totals, batches)
    for i, phase in enumerate(PHASES):
        out[f"{phase}_seconds"] = seconds[:, i]
    out["limited_by"] = np.argmax(seconds[:, len(PHASES):], axis=1)
    step = seconds[:, 0] + seconds[:, 1] + seconds[:, 2]
    bound_step = at_batches(xb, bound, batches)[:, 0]
    with np.errstate(divide="ignore"):
        out["step_seconds"], out["images_per_second"] = step, b / step
        out["bound_step_seconds"], out["bound_images_per_second"] = bound_step, b / bound_step
    return out


def batch_times(rows: list[NodeRows], optimizer: Any, profile: Any, batches: np.ndarray) -> dict[str, np.ndarray]:
    """`times_at` of a node list's `resolution_lines`."""
    return times_at(resolution_lines(rows, optimizer, profile), batches)
