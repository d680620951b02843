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
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
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


def largest_batch(step: StepMemory, budget: int) -> Fit:
    """Solve for the batch directly, then verify it exactly."""
    if budget < 1:
        raise CnnCostError(f"the memory budget must be positive, got {budget} bytes")
    limits = []
    for moment in step.moments:
        per_sample = sum(b.per_sample for b in moment.parts.values())
        fixed = sum(b.fixed for b in moment.parts.values())
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
