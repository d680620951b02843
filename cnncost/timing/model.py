"""The roofline time model: seconds of each pass from its work, bytes and kernels on a profile.

    time = max(work / rate of its unit, bytes / bandwidth) + kernels x launch overhead

with two sets of rates: the pure roofline `bound` (datasheet or calibrated peaks and bandwidth,
nothing lost: a lower bound on the time) and the `expected` estimate (each op class at the
profile's achievable fraction of its unit's peak, bandwidth at its fraction). A pass is bound by
the largest of its three terms: compute, memory or launch. Floats from here on (seconds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .passes import PassCost

BOUNDS = ("compute", "memory", "launch")
ESTIMATES = ("expected", "bound")


@dataclass(slots=True)  # read-only by convention (a frozen __init__ costs more than the arithmetic)
class PassTime:
    """Seconds of one pass and its three terms; `bound` names the largest."""

    seconds: float
    compute: float
    memory: float
    launch: float

    @property
    def bound(self) -> str:
        compute, memory, launch = self.compute, self.memory, self.launch
        if compute >= memory and compute >= launch:
            return "compute"
        return "memory" if memory >= launch else "launch"


ZERO = PassTime(0.0, 0.0, 0.0, 0.0)


class Rates:
    """What one estimate divides by: ops/s per (op class, dtype), bytes/s, seconds per kernel."""

    def __init__(self, profile: Any, estimate: str) -> None:
        if estimate not in ESTIMATES:
            raise ValueError(f"estimate must be one of {ESTIMATES}")
        self.profile, self.estimate = profile, estimate
        expected = estimate == "expected"
        self.bandwidth = profile.memory_bandwidth * (profile.achievable["bandwidth"] if expected else 1.0)
        self.launch = profile.launch_overhead_seconds
        self._ops: dict[tuple[str, str], float] = {}

    def ops(self, op_class: str, unit: str, dtype: str) -> float:
        """Ops/s of an op class in a dtype on its unit (a dtype the part lacks: its fp32 rate)."""
        key = (op_class, dtype)
        rate = self._ops.get(key)
        if rate is None:
            profile = self.profile
            peak = profile.peak(dtype, unit) or profile.peak("fp32", unit) or profile.peak("fp32", "vector")
            fraction = profile.achievable[op_class] if self.estimate == "expected" else 1.0
            rate = self._ops[key] = float(peak) * fraction
        return rate

    def time(self, cost: PassCost, batch: int) -> PassTime:
        if not cost.kernels:
            return ZERO
        w, r, o = cost.work, cost.read, cost.written  # (Amount.at inlined: a table times every pass twice)
        work = w.per_sample * batch + w.fixed
        compute = work / self.ops(cost.op_class, cost.unit, cost.dtype) if work else 0.0
        memory = (r.per_sample * batch + r.fixed + o.per_sample * batch + o.fixed) / self.bandwidth
        launch = cost.kernels * self.launch
        return PassTime((compute if compute > memory else memory) + launch, compute, memory, launch)
