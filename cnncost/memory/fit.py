"""The largest batch whose training step fits in a memory budget.

Every moment of a step holds `per_sample x batch + fixed` bytes, so the peak is the maximum of
straight lines in the batch: the answer is min over moments of floor((budget - fixed) / per_sample),
checked afterwards at that batch and the next.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CnnCostError
from .step import Moment, StepMemory

# cnncost's convention throughout: MB = 2^20, GB = 2^30 (an "80 GB" GPU holds 80 GiB).
UNITS = {"b": 1, "kb": 2**10, "mb": 2**20, "gb": 2**30, "tb": 2**40,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """'80GiB' or '80GB' -> 85899345920 (GB = GiB = 2^30, as everywhere in cnncost); a unit is required."""
    match = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([a-zA-Z]*)\s*", str(text)[:200])
    unit = match.group(2).lower() if match else None
    if match is None or unit not in UNITS:
        raise CnnCostError(f"expected a memory size with a unit, like 80GiB, got '{text}'; units: "
                           + ", ".join(UNITS) + " (GB = GiB = 2^30 bytes)")
    number = match.group(1)
    whole, _, frac = number.partition(".")
    return (int(whole) * UNITS[unit]) + (int(frac) * UNITS[unit]) // 10 ** len(frac) if frac else int(whole) * UNITS[unit]


@dataclass(frozen=True)
class Fit:
    """`batch`: the largest that fits (0: not even one sample); `peak` the moment that limits it."""

    architecture: str
    budget: int
    batch: int
    peak: Moment

    @property
    def peak_bytes(self) -> int:
        """The peak at `batch` (at batch 1 when not even that fits)."""
        return self.peak.at(max(self.batch, 1))

    def __repr__(self) -> str:
        """One readable line: the batch, the budget, and the moment that limits it."""
        if self.batch == 0:
            return (f"Fit({self.architecture}: not even batch 1 fits in {_size(self.budget)}; "
                    f"batch 1 peaks at {_size(self.peak_bytes)} in {self.peak.phase})")
        return (f"Fit({self.architecture}: batch {self.batch} fits in {_size(self.budget)}; peak "
                f"{_size(self.peak_bytes)} in {self.peak.phase}, {_size(self.budget - self.peak_bytes)} to spare)")

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """A small table for notebooks: the answer, then what the limiting moment holds."""
        from html import escape
        batch = max(self.batch, 1)
        peak = self.peak_bytes
        head = (f"batch <b>{self.batch}</b> fits" if self.batch else "<b>not even batch 1</b> fits")
        rows = [("budget", self.budget), (f"peak at batch {batch}", peak)]
        if self.batch:
            rows.append(("to spare", self.budget - peak))
        cells = "".join(f"<tr><td style='text-align:left'>{escape(name)}</td>"
                        f"<td style='text-align:right' title='{value:,} bytes'>{escape(_size(value))}</td></tr>"
                        for name, value in rows)
        parts = "".join(f"<tr><td style='text-align:left'>&nbsp;&nbsp;{escape(part)}</td>"
                        f"<td style='text-align:right' title='{b.at(batch):,} bytes'>{escape(_size(b.at(batch)))}</td>"
                        f"<td style='text-align:right'>{100 * b.at(batch) / peak:.1f}%</td></tr>"
                        for part, b in self.peak.parts.items() if b.at(batch))
        return (f"<div><p><b>{escape(self.architecture)}</b>: {head} in {escape(_size(self.budget))}; the peak is "
                f"at <code>{escape(self.peak.phase)}</code></p><table>{cells}"
                f"<tr><td style='text-align:left' colspan='3'><i>held at the peak</i></td></tr>{parts}</table>"
                "<p style='font-size:smaller'>KiB, MiB, GiB = 2^10, 2^20, 2^30 bytes</p></div>")


def _size(value: int) -> str:
    """Bytes in the largest IEC unit that keeps the number at least 1 (2 decimals)."""
    for size, name in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= size:
            return f"{value / size:.2f} {name}"
    return f"{value} bytes"


def largest_batch(step: StepMemory, budget: int) -> Fit:
    """Solve for the batch directly, then verify it exactly."""
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
    return Fit(step.trace.name, budget, batch, step.peak(max(batch, 1)))
