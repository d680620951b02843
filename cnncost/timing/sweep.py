"""Step time over many batches at once (`cnncost.sweep(..., hardware=)`, `cnncost.search`).

A pass's time is max(C(b), M(b)) + L, with C and M lines in the batch b (work and bytes are
per sample x b + fixed: `Amount`) and L its launch term; which of the three is largest (its bound)
changes only where two of them cross. So the step's time, split by phase (forward, backward,
optimizer) and by bound, is piecewise linear in b with at most three breakpoints per pass: each
pass contributes, per interval between its breakpoints, a line to its phase and to its bound.
Each breakpoint's change lands at the first batch above it and the changes summed along the
batches give every batch's totals: O(passes + batches) per (resolution, dtype, optimizer), all
resolutions in one call. Floats (seconds); the counts they come from are the exact ints of `passes.py`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
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
    arrays = passes_arrays(passes, resolutions)
    if len(_ARRAYS) >= 256:
        _ARRAYS.clear()
    _ARRAYS[id(rows)] = (rows, arrays)
    return arrays


def passes_arrays(passes: list[tuple[PassRow, int]], resolutions: int = 1) -> dict[str, Any]:
    """`arrays_of` timed passes, their exact counts read from the rows (R > 1: SizeVectors)."""
    ints = _exact_counts([v for r, _ in passes for v in raw_counts(r)], resolutions)
    reductions = [one_length(r[9].values) if type(r[9]) is SizeVector else r[9] for r, _ in passes]
    return arrays_of(passes, ints.reshape(resolutions, len(passes), RAW), reductions)


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
    lines = {"ca": ca, "cc": cc, "ma": counts[..., 2] / rates.bandwidth,
             "mc": counts[..., 3] / rates.bandwidth + fresh, "L": launch}
    times = arrays.get("times")
    if times is not None:  # each pass stands for that many equal ones (`resolution_counts`)
        lines = {k: v * times for k, v in lines.items()}
    return {**lines, "phase": arrays["phase"]}


def _state(lines: dict[str, np.ndarray], b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pass's line at the points b (R, P): slope, intercept, and its bound's index."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    C, M = ca * b + cc, ma * b + mc
    use_c = C > M  # the value: max(C, M) + L (as Rates.time: memory where equal)
    bound = np.where((C >= M) & (C >= L), 0, np.where(M >= L, 1, 2))  # compute, memory, launch
    return np.where(use_c, ca, ma), np.where(use_c, cc, mc) + L, bound


SPARSE_FROM = 256  # batches from which the sums go by the batches where changes land, where few do


def grid_seconds(lines: dict[str, np.ndarray], batches: np.ndarray, bounds: bool = True) -> np.ndarray:
    """(R, width, B) seconds of the step at each resolution and batch: per phase, then per bound
    (width SLOTS); `bounds` False: the step's alone (width 1). Each pass is a line in b between its
    breakpoints (where two of C, M and L cross, above 1); its line at b = 1 goes to its slots at
    the first batch, and each breakpoint's change (the line after less the line before) to the
    first batch above it: one `bincount` into (resolution, slot, batch), summed along the batches.
    The resolutions side by side: each one's figures are those it would get alone (its entries in
    the same order). (Groups of entries (R, P) each, not stacked: arrays past some 100 kB come
    from fresh pages, slow to fault in.)"""
    width = SLOTS if bounds else 1
    R = len(lines["ca"])
    b = batches.astype(np.float64)
    order = np.argsort(b, kind="stable")
    sorted_b = b[order]
    B = len(b)
    if B and sorted_b[0] >= 1 and (np.diff(sorted_b) == 1).all():  # consecutive ints (most grids): b <= x below floor(x)
        def first_above(x: np.ndarray) -> np.ndarray:
            return np.clip(np.floor(x) - (sorted_b[0] - 1), 0, B).astype(np.intp)
    else:
        def first_above(x: np.ndarray) -> np.ndarray:
            return np.searchsorted(sorted_b, x, side="right")
    row = np.arange(R)[:, None] * width
    cells, ats, slope_changes, intercept_changes = [], [], [], []
    seen: Any = None
    for x, slot, slope, intercept in (_bound_entries if bounds else _step_entries)(lines):
        cell = row + slot
        if x is None:  # the lines at b = 1: the first batch
            cells.append(np.broadcast_to(cell, slope.shape).ravel())
            ats.append(np.zeros(slope.size, dtype=np.intp))
            slope_changes.append(slope.ravel())
            intercept_changes.append(intercept.ravel())
            continue
        if x is not seen:  # (three groups per breakpoint: the same x)
            seen, at = x, first_above(x)
            reached = at < B  # (none: x = inf, one past the last batch)
            at = at[reached]
        cells.append(np.broadcast_to(cell, reached.shape)[reached])
        ats.append(at)
        slope_changes.append(slope[reached])
        intercept_changes.append(intercept[reached])
    cell, at = np.concatenate(cells), np.concatenate(ats)
    # Summed per (resolution, slot) along the batches where a change lands (all of them, or where many
    # batches see none, only those: the same sums, the empty ones adding 0), then at each batch
    used = None
    if B > SPARSE_FROM:
        landed = np.zeros(B, dtype=bool)
        landed[0] = True
        landed[at] = True
        if landed.sum() * 4 <= B:
            used = np.flatnonzero(landed)
    K = B if used is None else len(used)
    index = cell * K + (at if used is None else np.searchsorted(used, at))
    slopes, intercepts = (_summed(index, np.concatenate(changes), R * width * K).reshape(R, width, K)
                          for changes in (slope_changes, intercept_changes))
    np.cumsum(slopes, axis=2, out=slopes)
    np.cumsum(intercepts, axis=2, out=intercepts)
    if used is not None:  # each batch: the sums at the last landing at or before it (the first batch is one)
        runs = np.diff(used, append=B)
        slopes, intercepts = np.repeat(slopes, runs, axis=2), np.repeat(intercepts, runs, axis=2)
    slopes *= sorted_b
    slopes += intercepts
    if (order[1:] > order[:-1]).all():  # (the batches given sorted, as most grids)
        return slopes
    out = np.empty_like(slopes)
    out[..., order] = slopes
    return out


# the entries of `grid_seconds`, each (R, P): where they start (None: at b = 1; inf: never), their
# slot, their change of slope and of intercept; one group after another, each r-major
Entries = list[tuple[Any, Any, np.ndarray, np.ndarray]]


def _cm_crossing(lines: dict[str, np.ndarray]) -> np.ndarray:
    """Where C = M, above 1 (inf: nowhere there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (lines["mc"] - lines["cc"]) / (lines["ca"] - lines["ma"])
    return np.where((x > 1) & (x < np.inf), x, np.inf)


def _phase_entries(lines: dict[str, np.ndarray], x: np.ndarray, slope: np.ndarray, intercept: np.ndarray,
                   slot: Any) -> Entries:
    """A pass's time max(C, M) + L changes line only where C = M (x): its line at b = 1 (slope,
    intercept), then its change there, in `slot`."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    after_c = ca > ma  # past the crossing, C grows faster than M: C
    return [(None, slot, slope, intercept),
            (x, slot, np.where(after_c, ca, ma) - slope, np.where(after_c, cc, mc) + L - intercept)]


def _step_entries(lines: dict[str, np.ndarray]) -> Entries:
    """The step's line alone (the pure roofline's), every pass in slot 0."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    use_c = ca + cc > ma + mc  # at b = 1 (as `_state`: memory where equal)
    return _phase_entries(lines, _cm_crossing(lines), np.where(use_c, ca, ma), np.where(use_c, cc, mc) + L, 0)


def _bound_entries(lines: dict[str, np.ndarray]) -> Entries:
    """`_step_entries` per phase and per bound: a pass's line goes to its phase's slot and to its
    bound's, which changes where any two of C, M and L cross: at b = 1 its line in its bound's slot,
    then two groups per breakpoint (the first, second and third of each pass): its bound's line
    before (taken off), its bound's after (added)."""
    ca, cc, ma, mc, L = lines["ca"], lines["cc"], lines["ma"], lines["mc"], lines["L"]
    phase = lines["phase"]
    cm = _cm_crossing(lines)
    with np.errstate(divide="ignore", invalid="ignore"):
        x1, x2 = (L - cc) / ca, (L - mc) / ma  # C=L, M=L
    x1, x2 = (np.where((x > 1) & (x < np.inf), x, np.inf) for x in (x1, x2))
    x0, x1 = np.minimum(cm, x1), np.maximum(cm, x1)  # sorted
    x1, x2 = np.minimum(x1, x2), np.maximum(x1, x2)
    x0, x1 = np.minimum(x0, x1), np.maximum(x0, x1)
    # each pass's state at b = 1, then just after each of its breakpoints (midway to the next)
    states = [_state(lines, 1.0)]
    for x, nxt in ((x0, x1), (x1, x2), (x2, None)):
        after = x + 1 if nxt is None else np.where(nxt < np.inf, (x + nxt) / 2, x + 1)
        states.append(_state(lines, np.where(after < np.inf, after, 1.0)))
    slope, intercept, bound = states[0]
    entries = _phase_entries(lines, cm, slope, intercept, phase)  # (in each pass's phase's slot)
    entries.append((None, len(PHASES) + bound, slope, intercept))
    for x, (s0, i0, b0), (s1, i1, b1) in zip((x0, x1, x2), states, states[1:]):
        entries += [(x, len(PHASES) + b0, -s0, -i0), (x, len(PHASES) + b1, s1, i1)]
    return entries


def _summed(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """The weights summed per index, in their order (floats also where there are none)."""
    return np.bincount(index, weights, length).astype(np.float64, copy=False)


@dataclass(eq=False)
class Block:
    """The pass lines of resolutions made together (`pass_lines` of the expected estimate and of
    the pure roofline: (R, P) each, "phase" (P,), or (R, P) where rows of several were stacked);
    their distinct passes, found once."""

    expected: dict[str, np.ndarray]
    bound: dict[str, np.ndarray]
    merged: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None


@dataclass(frozen=True, eq=False)
class Lines:
    """One resolution's step lines, what a sweep keeps per (resolution, dtype, optimizer, setup,
    profile): row `row` of `block`."""

    block: Block
    row: int


LINE_KEYS = ("ca", "cc", "ma", "mc", "L")


def _rows(lines: list[Lines], estimate: str) -> dict[str, np.ndarray]:
    """The resolutions' pass lines of one estimate as (R, P) arrays, "phase" too; fewer passes
    padded with idle ones (all zero: no breakpoint, 0 s in the first slots, so every sum is as
    without them)."""
    blocks = [getattr(each.block, estimate) for each in lines]
    P = max(block["ca"].shape[1] for block in blocks)
    out = {k: np.zeros((len(lines), P), dtype=np.int64 if k == "phase" else np.float64) for k in (*LINE_KEYS, "phase")}
    for r, (each, block) in enumerate(zip(lines, blocks)):
        n = block["ca"].shape[1]
        for k in LINE_KEYS:
            out[k][r, :n] = block[k][each.row]
        phase = block["phase"]
        out["phase"][r, :n] = phase[each.row] if phase.ndim == 2 else phase
    return out


def one_block(lines: list[Lines]) -> list[Lines]:
    """The same lines as the rows of one block, in order (stacked anew where they are not): what
    `grid_times` evaluates, its distinct passes found once per block (a grid again: kept)."""
    block = lines[0].block
    if len(lines) == len(block.expected["ca"]) and all(each.block is block and each.row == r
                                                       for r, each in enumerate(lines)):
        return lines
    stacked = Block(_rows(lines, "expected"), _rows(lines, "bound"))
    return [Lines(stacked, r) for r in range(len(lines))]


def _merged(expected: dict[str, np.ndarray], bound: dict[str, np.ndarray]
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The passes equal at every resolution in both estimates (the same ca, cc, ma, mc, L and
    phase) as one, scaled by how many there are: a net's repeated blocks (resnet50's 386 timed
    passes are 80 distinct), so the work is per distinct pass. Its sums differ from the passes' one
    by one in the last bits only; the same lines always give the same floats."""
    R, P = expected["ca"].shape
    phase = np.broadcast_to(expected["phase"], (R, P))
    table = np.concatenate([expected[k] for k in LINE_KEYS] + [bound[k] for k in LINE_KEYS] + [phase])  # (11 R, P)
    key = (table * np.linspace(1.0, 2.0, len(table))[:, None]).sum(axis=0)  # column by column: equal columns, equal keys
    _, first, inverse, count = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    if len(first) == P or not (table == table[:, first[inverse.ravel()]]).all():  # nothing to merge, or keys collide
        return expected, bound
    order = np.argsort(first)
    keep, times = first[order], count[order].astype(np.float64)
    return tuple({**{k: lines[k][:, keep] * times for k in LINE_KEYS}, "phase": phase[:, keep]}  # type: ignore[return-value]
                 for lines in (expected, bound))


def _distinct(lines: list[Lines]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """`_merged` of the resolutions given (`one_block`'s), both estimates, kept on their block."""
    lines = one_block(lines)
    block = lines[0].block
    if block.merged is None:
        block.merged = _merged(block.expected, block.bound)
    return block.merged


def resolution_lines(rows: list[NodeRows], optimizer: Any, profile: Any, resolutions: int = 1) -> list[Lines] | None:
    """What `grid_times` evaluates, per resolution (R > 1: the rows of a
    `resolution_counts.Program`), for one (structure, dtype, optimizer) on a profile: rows of one
    block. A sweep keeps them per resolution, so a grid over the same resolutions again skips the
    graph, the trace and the per-node costs. None where the passes timed differ between the
    resolutions."""
    arrays = pass_arrays(rows, optimizer, resolutions)
    return None if arrays is None else arrays_lines(arrays, profile)


@functools.lru_cache(maxsize=16)
def _rates_of(profile: Any, estimate: str) -> Rates:
    """One `Rates` per (profile, estimate): its per-key rates worked out once for every sweep."""
    return Rates(profile, estimate)


def arrays_lines(arrays: dict[str, Any], profile: Any) -> list[Lines]:
    """`resolution_lines` of passes given as `arrays_of` arrays (a `resolution_counts.Program`'s)."""
    block = Block(pass_lines(arrays, _rates_of(profile, "expected")), pass_lines(arrays, _rates_of(profile, "bound")))
    if arrays.get("times") is not None:  # its equal passes merged already
        block.merged = block.expected, block.bound
    return [Lines(block, r) for r in range(len(arrays["counts"]))]


GRID_CHUNK = 1 << 20  # seconds a `grid_seconds` call works on at most: larger grids go by resolution chunks


def grid_times(lines: list[Lines], batches: np.ndarray, by_bound: bool = False) -> dict[str, np.ndarray]:
    """Per resolution (the `Lines` given) and batch, (R, B) each, both estimates:
    `forward_seconds` ... `step_seconds`, `images_per_second`, `limited_by` (index into BOUNDS:
    the bound holding most of the expected step), and the pure roofline's `bound_step_seconds`,
    `bound_images_per_second`; `by_bound`: the expected step's seconds by bound too, (R, B, 3)
    (what a job's step adds to: `sweep_job`). Resolutions in chunks of some million seconds (each
    resolution's figures are its own whatever the chunk: a large grid's temporaries stay small)."""
    b = batches.astype(np.float64)
    expected, bound = _distinct(lines)
    R, B = len(lines), len(b)
    names = [f"{phase}_seconds" for phase in PHASES] + ["step_seconds", "bound_step_seconds"]
    out: dict[str, np.ndarray] = {name: np.empty((R, B)) for name in names}
    out["limited_by"] = np.empty((R, B), dtype=np.int64)
    if by_bound:
        out["by_bound"] = np.empty((R, B, len(BOUNDS)))
    step = max(1, GRID_CHUNK // max(1, SLOTS * B))
    for lo in range(0, R, step):
        part = slice(lo, lo + step)
        seconds = grid_seconds(_part(expected, part), batches)
        for i, phase in enumerate(PHASES):
            out[f"{phase}_seconds"][part] = seconds[:, i]
        np.add(seconds[:, 0] + seconds[:, 1], seconds[:, 2], out=out["step_seconds"][part])
        compute, memory, launch = (seconds[:, len(PHASES) + j] for j in range(len(BOUNDS)))
        out["limited_by"][part] = np.where(compute >= memory, np.where(compute >= launch, 0, 2),
                                           np.where(memory >= launch, 1, 2))
        if by_bound:
            out["by_bound"][part] = seconds[:, len(PHASES):].transpose(0, 2, 1)
        out["bound_step_seconds"][part] = grid_seconds(_part(bound, part), batches, bounds=False)[:, 0]
    with np.errstate(divide="ignore"):
        out["images_per_second"] = b / out["step_seconds"]
        out["bound_images_per_second"] = b / out["bound_step_seconds"]
    return out


def _part(lines: dict[str, np.ndarray], part: slice) -> dict[str, np.ndarray]:
    """Some resolutions' pass lines (a phase per pass, (P,), is every resolution's)."""
    return {k: v if v.ndim == 1 else v[part] for k, v in lines.items()}


def lines_seconds(lines: Lines, batches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One resolution's seconds at each batch: the expected (B, SLOTS), the pure roofline's step
    (B, 1)."""
    return (grid_seconds(_rows([lines], "expected"), batches)[0].T,
            grid_seconds(_rows([lines], "bound"), batches, bounds=False)[0].T)
