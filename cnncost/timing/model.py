"""The roofline time model: seconds of each pass from its work, bytes and kernels on a profile.

    time = max(work / rate of its unit, bytes / bandwidth) + kernels x launch overhead

with two sets of rates: the pure roofline `bound` (datasheet or calibrated peaks and bandwidth,
nothing lost: a lower bound on the time) and the `expected` estimate (each op class at the
profile's achievable fraction of its unit's peak, bandwidth at its fraction). A pass is bound by
the largest of its three terms: compute, memory or launch. Floats from here on (seconds).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .ops import WEIGHT_GRADIENT
from .passes import PassCost

BOUNDS = ("compute", "memory", "launch")
CONV_CLASSES = ("conv", "depthwise")
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


def measured_rate(measured: Any, op_class: str, dtype: str, reduction: int) -> float | None:
    """A calibrated profile's rate for this op where it measured one: a conv's at its reduction
    length, log-linear between the measured lengths (`conv.DTYPE.kK`; clamped at the ends), its
    weight gradient's (`conv_weight_grad.DTYPE`), a pool's and a norm's (`maxpool.fp32`,
    `batchnorm.fp32`, any dtype). None: not measured (the profile's fraction applies)."""
    if op_class in ("pool", "norm"):
        return measured.get("maxpool.fp32" if op_class == "pool" else "batchnorm.fp32")
    if op_class != "conv":
        return None
    if reduction == WEIGHT_GRADIENT and f"conv_weight_grad.{dtype}" in measured:
        return float(measured[f"conv_weight_grad.{dtype}"])
    prefix = f"conv.{dtype}.k"
    points = sorted((int(k[len(prefix):]), v) for k, v in measured.items()
                    if k.startswith(prefix) and k[len(prefix):].isdigit())
    if not points:
        return None
    if reduction <= 0 or reduction >= points[-1][0]:
        return float(points[-1][1])
    if reduction <= points[0][0]:
        return float(points[0][1])
    for (k0, r0), (k1, r1) in zip(points, points[1:]):
        if reduction <= k1:
            share = (math.log(reduction) - math.log(k0)) / (math.log(k1) - math.log(k0))
            return r0 + (r1 - r0) * share
    return float(points[-1][1])


SMALL_CONV = (196, 288)  # calibrate's small conv: 32 -> 32 channels, 3x3, 14x14, batch 1: rows, reduction


def rows_half(measured: Any) -> float:
    """The GEMM rows at which a conv runs at half its rate for its reduction length: the rate is
    taken as rate(K) x M / (M + M_half), M = batch x output positions, and M_half solved from the
    calibrated small conv (196 rows; its time less the per-call overhead, counted apart) against
    the rate of its reduction length (288). 0: not calibrated (no correction)."""
    small = measured.get("conv.fp32.small")
    full = measured_rate(measured, "conv", "fp32", SMALL_CONV[1])
    if not small or not full:
        return 0.0
    work = 2 * SMALL_CONV[0] * SMALL_CONV[1] * 32  # its FLOPs; less the conv library's per-call overhead
    seconds = work / small - measured.get("conv_call_ns", 0) / 1e9
    small = work / seconds if seconds > 0 else full
    if small >= full:
        return 0.0
    return SMALL_CONV[0] * (full / small - 1)


class Rates:
    """What one estimate divides by: ops/s per (op class, dtype), bytes/s, seconds per kernel."""

    def __init__(self, profile: Any, estimate: str) -> None:
        if estimate not in ESTIMATES:
            raise ValueError(f"estimate must be one of {ESTIMATES}")
        self.profile, self.estimate = profile, estimate
        expected = estimate == "expected"
        self.bandwidth = profile.memory_bandwidth * (profile.achievable["bandwidth"] if expected else 1.0)
        self.launch = profile.launch_overhead_seconds
        measured = profile.measured
        # a conv's own per-call overhead (oneDNN's, cuDNN's: a tiny conv's time), and the rate of first
        # writes to fresh pages (CPU): the expected estimate's, where calibrated
        self.conv_launch = measured.get("conv_call_ns", 0) / 1e9 if expected else 0.0
        self.page_fault = measured.get("page_fault", 0) if expected and profile.kind == "cpu" else 0
        self.rows_half = rows_half(measured) if expected else 0.0
        self._ops: dict[tuple[str, str, int], float] = {}

    def ops(self, op_class: str, unit: str, dtype: str, reduction: int = 0) -> float:
        """Ops/s of an op class in a dtype on its unit (a dtype the part lacks: its fp32 rate).
        Expected estimate of a calibrated profile: a conv at its reduction length's measured rate,
        a pool at the measured maxpool rate (`measured_rate`)."""
        key = (op_class, dtype, reduction)
        rate = self._ops.get(key)
        if rate is None:
            profile = self.profile
            peak = float(profile.peak(dtype, unit) or profile.peak("fp32", unit) or profile.peak("fp32", "vector"))
            if self.estimate == "bound":
                rate = peak
            else:
                measured = measured_rate(profile.measured, op_class, dtype, reduction)
                fraction = profile.achievable.get(op_class, profile.achievable["vector"])
                rate = min(peak, measured) if measured else peak * fraction
            self._ops[key] = rate
        return rate

    def time(self, cost: PassCost, batch: int) -> PassTime:
        if not cost.kernels:
            return ZERO
        w, r, o = cost.work, cost.read, cost.written  # (Amount.at inlined: a table times every pass twice)
        work = w.per_sample * batch + w.fixed
        compute = work / self.ops(cost.op_class, cost.unit, cost.dtype, cost.reduction) if work else 0.0
        if cost.positions and self.rows_half:  # a conv of few GEMM rows runs below its rate
            compute *= 1 + self.rows_half / (cost.positions * batch)
        memory = (r.per_sample * batch + r.fixed + o.per_sample * batch + o.fixed) / self.bandwidth
        if cost.fresh and self.page_fault:
            memory += cost.fresh / self.page_fault
        launch = cost.kernels * (self.conv_launch if self.conv_launch and cost.op_class in CONV_CLASSES
                                 else self.launch)
        return PassTime((compute if compute > memory else memory) + launch, compute, memory, launch)
