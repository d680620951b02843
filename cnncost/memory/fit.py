"""The largest batch whose training step fits in a memory budget.

Every moment of a step holds `per_sample x batch + fixed` bytes, so the peak is the maximum of
straight lines in the batch: the answer is min over moments of floor((budget - fixed) / per_sample),
checked afterwards at that batch and the next.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import CnnCostError
from ..formatting import binary_bytes
from ..units import SIZE_UNITS as UNITS, SizeError, grouped, parse_size_text, size_text
from .step import Moment, StepMemory

__all__ = ["Fit", "largest_batch", "fit_global_batch", "parse_bytes", "parse_budget", "UNITS"]


def parse_bytes(text: str) -> int:
    """A memory budget with a unit -> bytes: '80GB' = 80 * 10^9 (SI), '80GiB' = 80 * 2^30 (IEC),
    '1.5TB'; letters are case-insensitive; a bare number is refused (see `cnncost.units`)."""
    return parse_budget(text)[0]


def parse_budget(text: str) -> tuple[int, str]:
    """(bytes, the budget as it reads back, '80 GB')."""
    try:
        return parse_size_text(text, unit_required=True, what="a memory size")
    except SizeError as error:
        raise CnnCostError(error.problem) from None


@dataclass(frozen=True)
class Fit:
    """`batch`: the largest that fits (0: not even one sample); `peak` the moment that limits it.
    `budget_of`: which figure the budget bounds (`device_fit.py`: allocated, reserved, nvidia-smi);
    `device`: the modelled GPU figures at `batch` (a `reserved.Reserved`; `cnncost.fit` sets them
    where the allocator model applies), else None."""

    architecture: str
    budget: int
    batch: int
    peak: Moment
    budget_text: str = field(default="", compare=False)  # the budget as written, '80 GB'
    step: Any = field(default=None, compare=False, repr=False)  # the StepMemory solved (its setup, its trace)
    # --- accumulate (`--accumulate K`, `--global-batch N`): `batch` is then the micro-batch ---
    accumulate: int = 1  # micro-steps per optimizer step
    global_batch: int | None = None  # samples per optimizer step asked for (--global-batch); else batch x K

    @property
    def samples_per_step(self) -> int:
        """The global batch: samples per optimizer step."""
        return self.global_batch if self.global_batch is not None else self.batch * self.accumulate

    @property
    def last_micro_batch(self) -> int:
        """The last micro-batch of a step (smaller than `batch` where the global batch asked for is
        not a multiple of it)."""
        return self.samples_per_step - self.batch * (self.accumulate - 1)

    def _accumulation_dict(self) -> dict[str, Any]:
        if self.accumulate == 1 and self.global_batch is None:
            return {}
        return {"accumulate": self.accumulate, "micro_batch": self.batch, "last_micro_batch": self.last_micro_batch,
                "global_batch": self.samples_per_step}
    # --- end accumulate ---
    budget_of: str = "allocated"
    device: Any = field(default=None, compare=False)

    @property
    def peak_bytes(self) -> int:
        """The peak at `batch` (at batch 1 when not even that fits)."""
        return self.peak.at(max(self.batch, 1))

    @property
    def budget_shown(self) -> str:
        """'80 GB = 80,000,000,000 B' (as written), or '8.00 GiB = 8,589,934,592 B' for a plain int."""
        return size_text(self.budget, self.budget_text or None)

    @property
    def breakdown(self) -> dict[str, int]:
        """What the limiting moment holds, part -> bytes, at `batch` (at 1 when not even that fits)."""
        batch = max(self.batch, 1)
        return {part: size.at(batch) for part, size in self.peak.parts.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain data, exact ints: architecture, budget_bytes, budget (as written), batch, peak_bytes, phase,
        breakdown."""
        return {"architecture": self.architecture, "budget_bytes": self.budget,
                "budget": self.budget_text or f"{self.budget} B", "batch": self.batch,
                "peak_bytes": self.peak_bytes, "phase": self.peak.phase, "breakdown": self.breakdown,
                **self._accumulation_dict()}

    def __repr__(self) -> str:
        """One readable line: the batch, the budget, and the moment that limits it."""
        if self.batch == 0:
            return (f"Fit({self.architecture}: not even batch 1 fits in {self.budget_shown}; "
                    f"batch 1 peaks at {_size(self.peak_bytes)} in {self.peak.phase})")
        if self.accumulate > 1:
            last = f", last {self.last_micro_batch}" if self.last_micro_batch != self.batch else ""
            return (f"Fit({self.architecture}: micro-batch {self.batch} x {self.accumulate} micro-steps{last} = "
                    f"global batch {self.samples_per_step} fits in {self.budget_shown}; peak "
                    f"{_size(self.peak_bytes)} in {self.peak.phase}, {_size(self.budget - self.peak_bytes)} to spare)")
        return (f"Fit({self.architecture}: batch {self.batch} fits in {self.budget_shown}; peak "
                f"{_size(self.peak_bytes)} in {self.peak.phase}, {_size(self.budget - self.peak_bytes)} to spare)")

    __str__ = __repr__

    # the time model at `batch` (`cnncost.fit(..., hardware=)`: a cnncost.timing.Timing; None without one)
    timing: Any = field(default=None, compare=False, repr=False)

    def _repr_html_(self) -> str:
        """A small table for notebooks: the answer, then what the limiting moment holds."""
        from html import escape
        batch = max(self.batch, 1)
        peak = self.peak_bytes
        head = (f"batch <b>{self.batch}</b> fits" if self.batch else "<b>not even batch 1</b> fits")
        rows = [("budget" + (f" ({self.budget_text})" if self.budget_text else ""), self.budget),
                (f"peak at batch {batch}", peak)]
        if self.batch:
            rows.append(("to spare", self.budget - peak))
        cells = "".join(f"<tr><td style='text-align:left'>{escape(name)}</td>"
                        f"<td style='text-align:right' title='{grouped(value)} bytes'>{escape(_size(value))}</td></tr>"
                        for name, value in rows)
        parts = "".join(f"<tr><td style='text-align:left'>&nbsp;&nbsp;{escape(part)}</td>"
                        f"<td style='text-align:right' title='{grouped(b.at(batch))} bytes'>{escape(_size(b.at(batch)))}</td>"
                        f"<td style='text-align:right'>{_share(b.at(batch), peak)}</td></tr>"
                        for part, b in self.peak.parts.items() if b.at(batch))
        return (f"<div><p><b>{escape(self.architecture)}</b>: {head} in {escape(self.budget_shown)}; the peak is "
                f"at <code>{escape(self.peak.phase)}</code></p><table>{cells}"
                f"<tr><td style='text-align:left' colspan='3'><i>held at the peak</i></td></tr>{parts}</table>"
                "<p style='font-size:smaller'>KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes; kB, MB, GB = 10^3, 10^6, "
                "10^9 bytes</p></div>")


def _size(value: int) -> str:
    """Bytes in the largest IEC unit that keeps the number at least 1 (2 decimals, exact)."""
    return binary_bytes(value) if abs(value) >= 2**10 else f"{grouped(value)} B"


def _share(part: int, whole: int) -> str:
    if not whole:
        return "n/a"
    tenths = (2000 * part + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


def largest_batch(step: StepMemory, budget: int, budget_text: str = "") -> Fit:
    """Solve for the batch directly, then verify it exactly. `budget_text`: the budget as the user
    wrote it ('80 GB'), shown back with the exact bytes."""
    if budget < 1:
        raise CnnCostError(f"the memory budget must be positive, got {budget} bytes")
    limits = []
    for per_sample, fixed in zip(*step.totals):
        if per_sample > 0:
            limits.append((budget - fixed) // per_sample)
        elif fixed > budget:
            limits.append(0)
    if not limits:
        raise CnnCostError("no part of this step grows with the batch; any batch fits")
    batch = max(0, min(limits))
    if batch and step.peak(batch).at(batch) > budget or step.peak(batch + 1).at(batch + 1) <= budget:
        raise AssertionError(f"fit: batch {batch} does not solve peak(batch) <= {budget}")  # a bug, not a user error
    return Fit(step.trace.name, budget, batch, step.peak(max(batch, 1)), budget_text, step, step.setup.accumulate)


def fit_global_batch(step_for: Callable[[int], StepMemory], global_batch: int, budget: int,
                     budget_text: str = "") -> Fit:
    """The fewest micro-steps K whose micro-batch fits, for `global_batch` samples N per optimizer
    step (`step_for(k)`: the step of k micro-steps): K = 1 when the whole batch fits in one step;
    else, with B the largest micro-batch of an accumulating step (any K > 1: its peak does not
    depend on K), K = ceil(N / B) and the micro-batch ceil(N / K) (balanced, at most B; the last
    micro-batch takes the rest, N - micro x (K - 1) >= 1, which may be smaller). Not even one
    sample: batch 0."""
    if isinstance(global_batch, bool) or not isinstance(global_batch, int) or global_batch < 1:
        raise CnnCostError(f"the global batch must be a positive integer, got {global_batch!r}")
    single = step_for(1)
    if single.peak(global_batch).at(global_batch) <= budget:
        return Fit(single.trace.name, budget, global_batch, single.peak(global_batch), budget_text, single, 1, global_batch)
    largest = largest_batch(step_for(2), budget, budget_text).batch
    if largest == 0:
        return Fit(single.trace.name, budget, 0, step_for(2).peak(1), budget_text, step_for(2), 1, global_batch)
    steps = -(-global_batch // largest)
    micro = -(-global_batch // steps)
    return Fit(single.trace.name, budget, micro, step_for(steps).peak(micro), budget_text, step_for(steps), steps, global_batch)
