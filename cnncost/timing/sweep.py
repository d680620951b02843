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
from .passes import NodeRows, PassRow, pass_row
from .size_vector import INT64_SAFE, Diverged, SizeVector

PHASES = ("forward", "backward", "optimizer")
SLOTS = len(PHASES) + len(BOUNDS)  # each a line (slope, intercept): the phases' sums, then the bounds'


COUNTS = 7  # per pass: work per sample, work fixed, bytes per sample, bytes fixed, fresh, kernels, GEMM rows
_ARRAYS: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(rows) -> (rows, their passes as arrays)


def timed_passes(rows: list[NodeRows], optimizer: Any) -> list[tuple[PassRow, int]] | None:
    """The passes a step times, each with its phase index: a node's passes with kernels (as
    `step._phase_times`), then the optimizer's; None where whether one is timed differs between
    resolutions."""
    try:
        passes = [(row, phase) for node in rows for row, phase in zip(node, (0, 1, 1)) if row is not None and row[8]]
    except Diverged:
        return None
    if optimizer.kernels:
        passes.append((pass_row(optimizer), 2))
    return passes


def raw_counts(row: PassRow) -> tuple[Any, ...]:
    """The RAW ints of a pass the timed counts come from: work per sample and fixed, bytes read
    and written per sample, read and written fixed, fresh bytes, kernels, GEMM rows."""
    return row[2], row[3], row[4], row[6], row[5], row[7], row[10], row[8], row[11]


RAW = 9


def arrays_of(passes: list[tuple[PassRow, int]], ints: np.ndarray, reductions: list[Any],
              meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The passes' counts as float arrays (R, P, COUNTS), from their exact RAW ints (R, P, RAW:
    int64 where the sum of two fits, else Python ints), each correctly rounded as float(int); per
    pass "reduction" (an int, or an array of one per resolution), and `pass_meta`'s (given where
    kept)."""
    counts = np.empty((*ints.shape[:2], COUNTS))
    counts[..., :2] = ints[..., :2]
    counts[..., 2] = ints[..., 2] + ints[..., 3]  # bytes read and written, summed as ints
    counts[..., 3] = ints[..., 4] + ints[..., 5]
    counts[..., 4:] = ints[..., 6:]
    return {"counts": counts, "reduction": reductions, **(meta or pass_meta(passes))}


def pass_meta(passes: list[tuple[PassRow, int]]) -> dict[str, Any]:
    """Per pass its rate key less the reduction length ("keys"), whether a conv times it ("conv"),
    its phase index ("phase")."""
    return {"keys": [(r[0], UNIT.get(r[0], "vector"), r[1], r[12]) for r, _ in passes],
            "conv": np.array([r[0] in CONV_CLASSES for r, _ in passes], dtype=bool),
            "phase": np.array([p for _, p in passes], dtype=np.int64)}


def pass_arrays(rows: list[NodeRows], optimizer: Any, resolutions: int = 1) -> dict[str, Any] | None:
    """`arrays_of` a node list's timed passes (kept per row list: a sweep's cells reuse them for
    every profile and estimate); R > 1: the rows of a `resolution_counts.Program`, each varying
    count a `SizeVector` of R ints. None where whether a pass is timed differs between the
    resolutions."""
    cached = _ARRAYS.get(id(rows))
    if cached is not None and cached[0] is rows:
        return cached[1]
    passes = timed_passes(rows, optimizer)
    if passes is None:
        return None
    ints = _exact_counts([v for r, _ in passes for v in raw_counts(r)], resolutions)
    reductions = [one_length(r[9].values) if type(r[9]) is SizeVector else r[9] for r, _ in passes]
    arrays = arrays_of(passes, ints.reshape(resolutions, len(passes), RAW), reductions)
    if len(_ARRAYS) >= 256:
        _ARRAYS.clear()
    _ARRAYS[id(rows)] = (rows, arrays)
    return arrays


def one_length(values: np.ndarray) -> Any:
    """A reduction length: the int where it is the same at every resolution (most are: a conv's
    forward's), else the array (a strided conv's input gradient at odd sizes)."""
    first = int(values[0])
    return first if (values == first).all() else values


def _exact_counts(values: list[Any], resolutions: int) -> np.ndarray:
    """(R, len(values)) exact ints: int64 where every value and the sum of two provably fit, else
    Python ints (an object array: their float conversion is then float(int) too)."""
    varying = [(i, v) for i, v in enumerate(values) if type(v) is SizeVector]
    scalars = [0 if type(v) is SizeVector else v for v in values]
    fits = all(v.bound is not None and v.bound < INT64_SAFE for _, v in varying) and \
        max(map(abs, scalars), default=0) < INT64_SAFE
    out = np.repeat(np.array(scalars, dtype=np.int64 if fits else object)[None], resolutions, axis=0)
    if varying:
        out[:, [i for i, _ in varying]] = np.stack([v.values for _, v in varying], axis=1)
    return out


def _rates(arrays: dict[str, Any], rates: Rates, resolutions: int) -> np.ndarray:
    """Ops/s of each pass, (P,), or (R, P) where a conv's reduction length (and with it a
    calibrated profile's rate) differs between resolutions (a few passes: `one_length`)."""
    keys, reductions = arrays["keys"], arrays["reduction"]
    looked: dict[tuple[Any, ...], float] = {}
    rate = np.array([looked[k] if k in looked else looked.setdefault(k, rates.ops(*k))
                     for k in ((c, u, d, r if type(r) is int else 0, g) for (c, u, d, g), r in zip(keys, reductions))],
                    dtype=np.float64)
    varying = [p for p, r in enumerate(reductions) if type(r) is not int]
    if not varying:
        return rate
    out = np.repeat(rate[None], resolutions, axis=0)
    for p in varying:
        (klass, unit, dtype, gradient), each = keys[p], reductions[p].tolist()
        per_length = {v: rates.ops(klass, unit, dtype, int(v), gradient) for v in set(each)}
        out[:, p] = [per_length[v] for v in each]
    return out


def pass_lines(arrays: dict[str, Any], rates: Rates) -> dict[str, np.ndarray]:
    """Per resolution and timed pass, (R, P): compute C = ca b + cc, memory M = ma b + mc
    (seconds), launch L; and per pass its phase index (as `step._phase_times` and `Rates.time`: a
    node whose forward and input gradient are idle is not timed)."""
    counts = arrays["counts"]
    rate = _rates(arrays, rates, len(counts))
    fresh = counts[..., 4] / rates.page_fault if rates.page_fault else np.zeros(counts.shape[:2])
    launch = counts[..., 5] * np.where(arrays["conv"] & bool(rates.conv_launch), rates.conv_launch, rates.launch)
    ca, cc = counts[..., 0] / rate, counts[..., 1] / rate
    if rates.rows_half:  # a conv of few GEMM rows: compute x (1 + rows_half / (positions b)), so C gains
        # rows_half ca / positions, a constant (a conv's work is all per sample: no 1/b term)
        positions = counts[..., 6]
        few = positions > 0
        cc = cc + np.where(few, rates.rows_half * ca / np.where(few, positions, 1.0), 0.0)
    return {"ca": ca, "cc": cc, "ma": counts[..., 2] / rates.bandwidth,
            "mc": counts[..., 3] / rates.bandwidth + fresh, "L": launch, "phase": arrays["phase"]}


def _state(lines: dict[str, np.ndarray], b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pass's line at the points b (R, P): slope, intercept, and its bound's index."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    C, M = ca * b + cc, ma * b + mc
    use_c = C > M  # the value: max(C, M) + L (as Rates.time: memory where equal)
    bound = np.where((C >= M) & (C >= L), 0, np.where(M >= L, 1, 2))  # compute, memory, launch
    return np.where(use_c, ca, ma), np.where(use_c, cc, mc) + L, bound


def _slots(phase: np.ndarray, slope: np.ndarray, intercept: np.ndarray, bound: np.ndarray, width: int) -> np.ndarray:
    """(..., width, 2): each line in its phase's slot and (width SLOTS) in its bound's (0 elsewhere)."""
    out = np.empty((*slope.shape, width, 2))
    at_phase = phase[..., None] == np.arange(len(PHASES))
    out[..., :len(PHASES), 0] = np.where(at_phase, slope[..., None], 0.0)
    out[..., :len(PHASES), 1] = np.where(at_phase, intercept[..., None], 0.0)
    if width > len(PHASES):
        at_bound = bound[..., None] == np.arange(len(BOUNDS))
        out[..., len(PHASES):, 0] = np.where(at_bound, slope[..., None], 0.0)
        out[..., len(PHASES):, 1] = np.where(at_bound, intercept[..., None], 0.0)
    return out


def step_lines(lines: dict[str, np.ndarray], bounds: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per resolution, the step's piecewise-linear totals: breakpoints x (sorted, > 1) and, per
    interval (before x[0], between, after x[-1]), the (SLOTS, 2) lines (`bounds` False: the
    phases' only); batches from 1 up. The resolutions side by side: each one's figures are those
    it would get alone (the same operations on its row, its breakpoints in the same order)."""
    width = SLOTS if bounds else len(PHASES)
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    phase = lines["phase"]
    R, P = ca.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        crossings = np.stack([(mc - cc) / (ca - ma), (L - cc) / ca, (L - mc) / ma], axis=2)  # C=M, C=L, M=L
    crossings = np.where(np.isfinite(crossings) & (crossings > 1), crossings, np.inf)
    crossings.sort(axis=2)
    # each pass's state at b = 1, then just after each of its breakpoints (midway to the next)
    nxt = np.concatenate([crossings[..., 1:], np.full((R, P, 1), np.inf)], axis=2)
    after = np.where(np.isfinite(nxt), (crossings + nxt) / 2, crossings + 1)
    states = [_state(lines, np.ones((R, P)))] + [
        _state(lines, np.where(np.isfinite(after[..., k]), after[..., k], 1.0)) for k in range(3)]
    slope, intercept, bound = (np.stack(parts) for parts in zip(*states))  # each (4, R, P)
    start = _slots(phase, slope[0], intercept[0], bound[0], width).sum(axis=1).reshape(R, 1, width, 2)
    # the events: every pass's k-th breakpoint, k by k (as one resolution alone lists them), sorted
    # stably; a pass without one is at infinity, last, and dropped
    x = crossings.transpose(0, 2, 1).reshape(R, 3 * P)
    live = np.isfinite(x).sum(axis=1).tolist()
    order = np.argsort(x, axis=1, kind="stable")[:, :max(live, default=0)]
    x = np.take_along_axis(x, order, axis=1)
    k, p = np.divmod(order, P)
    r = np.arange(R)[:, None]
    changes = _changes(phase[p], slope[k, r, p], intercept[k, r, p], bound[k, r, p], slope[k + 1, r, p],
                       intercept[k + 1, r, p], bound[k + 1, r, p], width)  # (R, width, 2, events)
    running = np.cumsum(changes, axis=3).transpose(0, 3, 1, 2)  # (summed along the events: contiguous)
    totals = np.concatenate([start, start + running], axis=1)
    return [(x[r, :n], totals[r, :n + 1]) for r, n in enumerate(live)]


def _changes(phase: np.ndarray, s0: np.ndarray, i0: np.ndarray, b0: np.ndarray, s1: np.ndarray, i1: np.ndarray,
             b1: np.ndarray, width: int) -> np.ndarray:
    """(R, width, 2, events): each event's pass's line after (1) less before (0), in its phase's
    slot and (width SLOTS) its bounds' (as `_slots` after less `_slots` before, entry by entry)."""
    at_phase = phase[:, None, :] == np.arange(len(PHASES))[None, :, None]
    slots = np.arange(len(BOUNDS))[None, :, None]
    out = np.empty((*s0.shape[:1], width, 2, s0.shape[1]))
    for j, (v0, v1) in enumerate(((s0, s1), (i0, i1))):
        out[:, :len(PHASES), j] = np.where(at_phase, (v1 - v0)[:, None, :], 0.0)
        if width > len(PHASES):
            out[:, len(PHASES):, j] = (np.where(b1[:, None, :] == slots, v1[:, None, :], 0.0)
                                       - np.where(b0[:, None, :] == slots, v0[:, None, :], 0.0))
    return out


_LINES: dict[tuple[int, int, str], tuple[Any, Any, list[tuple[np.ndarray, np.ndarray]]]] = {}


def cached_step_lines(rows: list[NodeRows], optimizer: Any, profile: Any, estimate: str, resolutions: int = 1
                      ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """`step_lines` of a node list on a profile, per resolution (R > 1: the rows of a
    `resolution_counts.Program`), kept (the node lists are kept on their graphs:
    `step.step_costs`), so a sweep over the same structures again only evaluates its batches;
    None where the passes timed differ between the resolutions."""
    key = (id(rows), id(profile), estimate)
    cached = _LINES.get(key)
    if cached is not None and cached[0] is rows and cached[1] is profile:
        return cached[2]
    arrays = pass_arrays(rows, optimizer, resolutions)
    if arrays is None:
        return None
    lines = step_lines(pass_lines(arrays, Rates(profile, estimate)), bounds=estimate == "expected")
    if len(_LINES) >= 1024:
        _LINES.clear()
    _LINES[key] = (rows, profile, lines)
    return lines


def at_batches(x: np.ndarray, totals: np.ndarray, batches: np.ndarray) -> np.ndarray:
    """(B, slots) seconds at each batch: of `step_lines`' totals, forward, backward, optimizer, then
    by bound (or of fewer slots: the lines given)."""
    b = batches.astype(np.float64)
    interval = np.searchsorted(x, b, side="left")  # events strictly below b have happened
    lines = totals.reshape(len(totals), -1)[interval]  # one gather: (B, slope and intercept per slot)
    return lines[:, 0::2] * b[:, None] + lines[:, 1::2]


Lines = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def resolution_lines(rows: list[NodeRows], optimizer: Any, profile: Any, resolutions: int = 1) -> list[Lines] | None:
    """What `batch_times` evaluates, per resolution (R > 1: the rows of a
    `resolution_counts.Program`), for one (structure, dtype, optimizer) on a profile: the
    expected step's breakpoints and lines per slot, and the pure roofline's (its step only: the
    phases' lines summed). Small (a few thousand floats): a sweep keeps them per resolution, so a
    grid over the same resolutions again skips the graph, the trace and the per-node costs.
    None where the passes timed differ between the resolutions."""
    expected = cached_step_lines(rows, optimizer, profile, "expected", resolutions)
    bound = cached_step_lines(rows, optimizer, profile, "bound", resolutions)
    if expected is None or bound is None:
        return None
    return _both(expected, bound)


def _both(expected: list[tuple[np.ndarray, np.ndarray]], bound: list[tuple[np.ndarray, np.ndarray]]) -> list[Lines]:
    return [((x, totals), (xb, b[:, :len(PHASES)].sum(axis=1, keepdims=True)))
            for (x, totals), (xb, b) in zip(expected, bound)]


def arrays_lines(arrays: dict[str, Any], profile: Any) -> list[Lines]:
    """`resolution_lines` of passes given as `arrays_of` arrays (a `resolution_counts.Program`'s)."""
    return _both(step_lines(pass_lines(arrays, Rates(profile, "expected"))),
                 step_lines(pass_lines(arrays, Rates(profile, "bound")), bounds=False))


def times_at(lines: Lines, batches: np.ndarray, by_bound: bool = False) -> dict[str, np.ndarray]:
    """Per batch, both estimates from `resolution_lines`: `forward_seconds` ... `step_seconds`,
    `images_per_second`, `limited_by` (index into BOUNDS: the bound holding most of the expected
    step), and the pure roofline's `bound_step_seconds`, `bound_images_per_second`; `by_bound`: the
    expected step's seconds by bound too, (B, 3) (what a job's step adds to: `sweep_job`)."""
    (x, totals), (xb, bound) = lines
    b = batches.astype(np.float64)
    out: dict[str, np.ndarray] = {}
    seconds = at_batches(x, totals, batches)
    for i, phase in enumerate(PHASES):
        out[f"{phase}_seconds"] = seconds[:, i]
    out["limited_by"] = np.argmax(seconds[:, len(PHASES):], axis=1)
    if by_bound:
        out["by_bound"] = seconds[:, len(PHASES):]
    step = seconds[:, 0] + seconds[:, 1] + seconds[:, 2]
    bound_step = at_batches(xb, bound, batches)[:, 0]
    with np.errstate(divide="ignore"):
        out["step_seconds"], out["images_per_second"] = step, b / step
        out["bound_step_seconds"], out["bound_images_per_second"] = bound_step, b / bound_step
    return out


def batch_times(rows: list[NodeRows], optimizer: Any, profile: Any, batches: np.ndarray) -> dict[str, np.ndarray]:
    """`times_at` of a node list's `resolution_lines` (one resolution's)."""
    lines = resolution_lines(rows, optimizer, profile)
    assert lines is not None  # (one resolution: nothing differs)
    return times_at(lines[0], batches)
