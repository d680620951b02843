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

from .ops import FORWARD, WEIGHT_GRADIENT
from .passes import PassCost

BOUNDS = ("compute", "memory", "launch")
CONV_CLASSES = ("conv", "depthwise")
ESTIMATES = ("expected", "bound")
PER_CHANNEL = {"pool": "maxpool.fp32", "norm": "batchnorm.fp32", "depthwise": "depthwise.fp32"}  # calibrated rates


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


def measured_rate(measured: Any, op_class: str, dtype: str, reduction: int, gradient: int = FORWARD
                  ) -> float | None:
    """A calibrated profile's rate for this pass where it measured one. A conv's forward: at its
    reduction length, log-linear between the measured lengths (`conv.DTYPE.kK`; clamped at the
    ends); its gradients: that rate x the gradients' rate over the forward's, both measured on the
    same net-like convs (`conv_grad.DTYPE` / `conv_net.DTYPE`), else (older profiles) the weight
    gradient's `conv_weight_grad.DTYPE`. A pool, a norm, a depthwise conv: `maxpool.fp32`,
    `batchnorm.fp32`, `depthwise.fp32` (any dtype), their gradients `..._grad.fp32` where measured.
    None: not measured (the profile's fraction applies)."""
    if op_class in PER_CHANNEL:
        key = PER_CHANNEL[op_class]
        grad_key = key.replace(".", "_grad.")
        return float(measured[grad_key]) if gradient and grad_key in measured else measured.get(key)
    if op_class != "conv":
        return None
    if gradient and f"conv_grad.{dtype}" in measured and f"conv_net.{dtype}" in measured:
        forward = measured_rate(measured, op_class, dtype, reduction)
        return None if forward is None else forward * measured[f"conv_grad.{dtype}"] / measured[f"conv_net.{dtype}"]
    if gradient == WEIGHT_GRADIENT and f"conv_weight_grad.{dtype}" in measured:
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


ROWS_REDUCTION = 576  # calibrate's few-rows convs: 3x3, 64 -> 64 channels, batch 2 (`conv.fp32.mM`, M rows)


def rows_half(measured: Any) -> float:
    """The GEMM rows at which a conv runs at half its rate for its reduction length: the rate is
    taken as rate(K) x M / (M + M_half), M = batch x output positions, and M_half solved from each
    calibrated few-rows conv (`conv.fp32.mM`: M rows, reduction 576; its time less the per-call
    overhead, counted apart) against the rate of its reduction length, the mean over them.
    0: not calibrated (no correction)."""
    full = measured_rate(measured, "conv", "fp32", ROWS_REDUCTION)
    prefix = "conv.fp32.m"
    points = [(int(k[len(prefix):]), v) for k, v in measured.items() if k.startswith(prefix) and k[len(prefix):].isdigit()]
    if not points or not full:
        return 0.0
    halves = []
    for rows, rate in points:
        work = 2 * rows * ROWS_REDUCTION * 64  # its FLOPs; less the conv library's per-call overhead
        seconds = work / rate - measured.get("conv_call_ns", 0) / 1e9
        rate = work / seconds if seconds > 0 else full
        halves.append(rows * (full / rate - 1) if rate < full else 0.0)
    return sum(halves) / len(halves)


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
        self._ops: dict[tuple[str, str, int, int], float] = {}

    def ops(self, op_class: str, unit: str, dtype: str, reduction: int = 0, gradient: int = FORWARD) -> float:
        """Ops/s of an op class in a dtype on its unit (a dtype the part lacks: its fp32 rate).
        Expected estimate of a calibrated profile: the measured rate of the pass where there is one
        (`measured_rate`: a conv at its reduction length, a pool, a norm, a depthwise conv)."""
        key = (op_class, dtype, reduction, gradient)
        rate = self._ops.get(key)
        if rate is None:
            profile = self.profile
            peak = float(profile.peak(dtype, unit) or profile.peak("fp32", unit) or profile.peak("fp32", "vector"))
            if self.estimate == "bound":
                rate = peak
            else:
                measured = measured_rate(profile.measured, op_class, dtype, reduction, gradient)
                fraction = profile.achievable.get(op_class, profile.achievable["vector"])
                rate = min(peak, measured) if measured else peak * fraction
            self._ops[key] = rate
        return rate

    def rate(self, cost: PassCost) -> float:
        """`ops` of a pass (kept per rate key: a table looks up every pass once per estimate)."""
        key = (cost.op_class, cost.dtype, cost.reduction, cost.gradient)
        rate = self._ops.get(key)
        return rate if rate is not None else self.ops(cost.op_class, cost.unit, cost.dtype, cost.reduction,
                                                      cost.gradient)

    def time(self, cost: PassCost, batch: int) -> PassTime:
        if not cost.kernels:
            return ZERO
        w, r, o = cost.work, cost.read, cost.written  # (Amount.at inlined: a table times every pass twice)
        work = w.per_sample * batch + w.fixed
        compute = work / self.rate(cost) if work else 0.0
        if cost.positions and self.rows_half:  # a conv of few GEMM rows runs below its rate
            compute *= 1 + self.rows_half / (cost.positions * batch)
        memory = (r.per_sample * batch + r.fixed + o.per_sample * batch + o.fixed) / self.bandwidth
        if cost.fresh and self.page_fault:
            memory += cost.fresh / self.page_fault
        launch = cost.kernels * (self.conv_launch if self.conv_launch and cost.op_class in CONV_CLASSES
                                 else self.launch)
        return PassTime((compute if compute > memory else memory) + launch, compute, memory, launch)
