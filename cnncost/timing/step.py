"""A training step's time on one hardware profile: per node and pass, and forward + backward +
optimizer for the batch, as the `expected` estimate and the pure roofline `bound`; images per
second, and an epoch's time and cost where the user gives its images and a price per hour."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .._gcpause import paused_gc
from .model import BOUNDS, CONV_CLASSES, ESTIMATES, ZERO, PassTime, Rates
from .optimizer import optimizer_cost
from .ops import UNIT
from .passes import IDLE, NodeCost, NodeRows, PassCost, costs_of, node_rows, pass_cost, pass_row

CONVENTION = ("time: roofline per op, max(work / peak of its unit, bytes / bandwidth) + kernels x launch "
              "overhead; 'expected' at the profile's achievable fractions, 'bound' at its peaks (a lower "
              "bound); step = forward + backward (input and weight gradients) + optimizer; no data loading, "
              "loss, communication or host overlap")
PARALLEL_CONVENTION = CONVENTION.replace("+ optimizer; no data loading, loss, communication or host overlap",
                                         "+ optimizer + the communication compute does not hide (ring collectives, "
                                         "docs/time.md); no data loading, loss or host overlap")


@dataclass(frozen=True)
class StepTime:
    """One estimate of a whole step at a batch: seconds per phase, and seconds by bound."""

    estimate: str  # expected or bound
    batch: int
    forward_seconds: float
    backward_seconds: float
    optimizer_seconds: float
    by_bound: dict[str, float] = field(compare=False)  # compute/memory/launch -> seconds of passes so bound
    recompute_seconds: float = 0.0  # of backward: checkpointed regions' forward run again
    micro_steps: int = 1  # forward and backward passes per optimizer step (gradient accumulation)
    communication: Any = None  # several GPUs: a `communication.CommTime` (None: one device, or not timed)

    @property
    def step_seconds(self) -> float:
        compute = self.forward_seconds + self.backward_seconds + self.optimizer_seconds
        return compute if self.communication is None else compute + self.communication.exposed_seconds

    @property
    def communication_seconds(self) -> float:
        """Communication the step waits for (what compute does not hide); 0.0 on one device."""
        return 0.0 if self.communication is None else self.communication.exposed_seconds

    @property
    def images_per_second(self) -> float:
        return self.batch / self.step_seconds if self.step_seconds > 0 else math.inf

    @property
    def bound(self) -> str:
        """The bound that holds most of the step's time."""
        return max(BOUNDS, key=lambda b: self.by_bound[b])

    def to_dict(self) -> dict[str, Any]:
        return {"forward_seconds": self.forward_seconds, "backward_seconds": self.backward_seconds,
                "optimizer_seconds": self.optimizer_seconds, "step_seconds": self.step_seconds,
                "images_per_second": self.images_per_second, "limited_by": self.bound,
                "seconds_by_bound": dict(self.by_bound), "recompute_seconds": self.recompute_seconds,
                "micro_steps": self.micro_steps,
                **({"communication_seconds": self.communication.exposed_seconds} if self.communication else {})}

    def with_recompute(self, seconds: float, by_bound: dict[str, float]) -> StepTime:
        """This step with checkpointed regions' forward passes run again in backward."""
        return replace(self, backward_seconds=self.backward_seconds + seconds, recompute_seconds=seconds,
                       by_bound={b: self.by_bound[b] + by_bound[b] for b in BOUNDS})

    def accumulated(self, micro_steps: int, last: StepTime, optimizer_bound: str) -> StepTime:
        """An optimizer step of `micro_steps` forward and backward passes: micro_steps - 1 of this
        one's batch, then `last` (the last micro-batch's; this one where it is the same), one
        optimizer pass (`optimizer_bound`: its bound, counted once)."""
        k = micro_steps - 1
        by_bound = {b: k * self.by_bound[b] + last.by_bound[b] for b in BOUNDS}
        by_bound[optimizer_bound] -= k * self.optimizer_seconds
        return StepTime(self.estimate, k * self.batch + last.batch, k * self.forward_seconds + last.forward_seconds,
                        k * self.backward_seconds + last.backward_seconds, self.optimizer_seconds, by_bound,
                        k * self.recompute_seconds + last.recompute_seconds, micro_steps)


@dataclass(frozen=True)
class Timing:
    """The time model's result for one net, dtype, optimizer, batch and profile. `nodes`: per graph
    node its three passes' costs (made on demand from `rows`, their ints); `node_seconds()`: the expected estimate's seconds per node;
    `expected_nodes` and `bound_nodes()`: each estimate's times per pass, made on demand (a table
    shows the per-node seconds only). Per node figures are one micro-step's (`node_batch`)."""

    profile: Any  # cnncost.hardware.HardwareProfile
    dtype: str
    optimizer_name: str
    batch: int
    rows: list[NodeRows]  # per graph node, its passes' counts (`passes.node_rows`)
    graph: Any = field(repr=False, compare=False)  # the graph the rows are of (`nodes` names them)
    optimizer: PassCost
    expected: StepTime
    bound: StepTime
    node_times: dict[str, list[float]] = field(repr=False)  # `node_seconds`' lists
    epoch_images: int | None = None
    price_per_hour: float | None = None
    micro_batch: int | None = None  # the batch of the per-node figures where it is not `batch` (accumulation)
    communication: Any = None  # several GPUs: the `communication.Plan` timed into both estimates (None: one device)

    @property
    def node_batch(self) -> int:
        return self.batch if self.micro_batch is None else self.micro_batch

    @cached_property
    def nodes(self) -> list[NodeCost]:
        """Per graph node, its three passes' costs (`IDLE` where a pass does nothing)."""
        return costs_of(self.graph, self.rows)

    @property
    def hardware(self) -> str:
        return self.profile.name

    @property
    def convention(self) -> str:
        timed = self.communication is not None and self.communication.timed
        return PARALLEL_CONVENTION if timed else CONVENTION

    def accumulated(self, micro_steps: int, last: Timing) -> Timing:
        """The optimizer step of gradient accumulation: `micro_steps` forward and backward passes (the
        last at `last`'s micro-batch), one optimizer pass; `batch` becomes the samples per step (per
        node times stay one micro-step's)."""
        if micro_steps == 1:
            return self
        estimates = {}
        for estimate in ESTIMATES:
            bound = Rates(self.profile, estimate).time(self.optimizer, self.batch).bound
            estimates[estimate] = getattr(self, estimate).accumulated(micro_steps, getattr(last, estimate), bound)
            if self.communication is not None and self.communication.timed:  # synced per step or micro-step
                from .communication import time_of
                micro, final, step = getattr(self, estimate), getattr(last, estimate), estimates[estimate]
                estimates[estimate] = replace(step, communication=time_of(
                    self.communication, estimate, micro.forward_seconds, micro.backward_seconds, step.optimizer_seconds,
                    micro_steps, (final.forward_seconds, final.backward_seconds)))
        return replace(self, batch=estimates["expected"].batch, micro_batch=self.node_batch, **estimates)

    def bound_nodes(self) -> list[tuple[PassTime, PassTime, PassTime]]:
        """Per node, the pure roofline's times of its three passes (made on demand: a table shows the
        bound's totals only)."""
        return _phase_times(Rates(self.profile, "bound"), self.nodes, self.node_batch)

    @cached_property
    def expected_nodes(self) -> list[tuple[PassTime, PassTime, PassTime]]:
        """Per node, the expected estimate's times of its three passes: forward, input gradient,
        weight gradient (`ZERO` where idle; made on demand, as `node_seconds` sums them)."""
        return _phase_times(Rates(self.profile, "expected"), self.nodes, self.node_batch)

    def epoch_seconds(self, estimate: str = "expected") -> float | None:
        """ceil(images / batch) steps (the last, partial batch counted as a full step)."""
        if self.epoch_images is None:
            return None
        return math.ceil(self.epoch_images / self.batch) * getattr(self, estimate).step_seconds

    def epoch_cost(self, estimate: str = "expected") -> float | None:
        seconds = self.epoch_seconds(estimate)
        if seconds is None or self.price_per_hour is None:
            return None
        return seconds / 3600 * self.price_per_hour

    def node_seconds(self) -> dict[str, list[float]]:
        """Per graph node, the expected estimate's seconds: forward, backward (both gradients), and
        their sum split by the bound of each pass (what a table's rows sum: `cnncost.costs`)."""
        return {name: list(values) for name, values in self.node_times.items()}

    def to_dict(self) -> dict[str, Any]:
        """The JSON `timing` object (docs/output.md): the expected estimate's fields at the top,
        the pure roofline's in `bound`."""
        out: dict[str, Any] = {"hardware": self.hardware, "hardware_origin": self.profile.origin,
                               "compute_dtype": self.dtype, "estimate": "expected", "batch": self.batch}
        out |= self.expected.to_dict()
        bound = self.bound.to_dict()
        if self.epoch_images is not None:
            out["epoch_images"] = self.epoch_images
            out["epoch_seconds"] = self.epoch_seconds("expected")
            bound["epoch_seconds"] = self.epoch_seconds("bound")
            if self.price_per_hour is not None:
                out["price_per_hour"] = self.price_per_hour
                out["epoch_cost"] = self.epoch_cost("expected")
                bound["epoch_cost"] = self.epoch_cost("bound")
        if self.communication is not None:  # several GPUs (docs/time.md)
            from .communication import plan_record
            for record, step in ((out, self.expected), (bound, self.bound)):
                record["communication"] = plan_record(self.communication, step.communication, self.batch,
                                                      step.step_seconds)
        out["bound"] = bound
        out["convention"] = self.convention
        return out


def _phase_times(rates: Rates, nodes: list[NodeCost], batch: int) -> list[tuple[PassTime, PassTime, PassTime]]:
    """One estimate's per-node times (forward, input gradient, weight gradient)."""
    time = rates.time
    idle = (ZERO, ZERO, ZERO)
    return [idle if node.forward is IDLE and node.input_grad is IDLE  # the input, a view: nothing to time
            else (time(node.forward, batch), time(node.input_grad, batch), time(node.weight_grad, batch))
            for node in nodes]


def _both_estimates(expected: Rates, bound: Rates, rows: list[NodeRows], optimizer: PassCost, batch: int
                    ) -> tuple[StepTime, dict[str, list[float]], StepTime]:
    """The expected step with its per-node seconds (`Timing.node_seconds`), and the pure roofline's
    step alone (a table shows the bound's totals only): one loop over the passes, each pass's work
    and bytes evaluated once for both, `Rates.time`'s arithmetic and `PassTime.bound` inlined and no
    per-pass objects made (a table times every pass of every node; `Timing.expected_nodes` makes
    them on demand)."""
    bw_e, bw_b, launch_e, launch_b = expected.bandwidth, bound.bandwidth, expected.launch, bound.launch
    conv_launch, page_fault, rows_half = expected.conv_launch, expected.page_fault, expected.rows_half
    rates: dict[tuple[str, str, int, int], tuple[float, float]] = {}  # rate key -> (bound's, expected's) ops/s
    phases_e, phases_b = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    by_e, by_b = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]  # compute, memory, launch (BOUNDS' order)
    n = len(rows)
    forward_s, backward_s = [0.0] * n, [0.0] * n
    split = ([0.0] * n, [0.0] * n, [0.0] * n)
    passes = [(i, row, phase) for i, node in enumerate(rows) for row, phase in zip(node, (0, 1, 1))
              if row is not None and row[8]]  # (a row of no kernels: not timed)
    if optimizer.kernels:
        passes.append((-1, pass_row(optimizer), 2))
    for i, row, phase in passes:
        klass, dtype, ws, wf, rs, rf, os_, of, kernels, reduction, fresh, positions, gradient = row
        work = ws * batch + wf
        moved = rs * batch + rf + os_ * batch + of
        if work:
            key = (klass, dtype, reduction, gradient)
            pair = rates.get(key)
            if pair is None:
                unit = UNIT.get(klass, "vector")
                pair = rates[key] = (bound.ops(klass, unit, dtype, reduction, gradient),
                                     expected.ops(klass, unit, dtype, reduction, gradient))
            rate_b, rate_e = pair
        # the pure roofline: peaks, bandwidth, the generic launch overhead
        compute = work / rate_b if work else 0.0
        memory, launch = moved / bw_b, kernels * launch_b
        seconds = (compute if compute > memory else memory) + launch
        phases_b[phase] += seconds
        by_b[0 if compute >= memory and compute >= launch else 1 if memory >= launch else 2] += seconds
        # expected: achievable or measured rates, and the calibrated refinements
        compute = work / rate_e if work else 0.0
        if rows_half and positions:  # a conv of few GEMM rows runs below its rate
            compute *= 1 + rows_half / (positions * batch)
        memory = moved / bw_e
        if page_fault and fresh:
            memory += fresh / page_fault
        launch = kernels * (conv_launch if conv_launch and klass in CONV_CLASSES else launch_e)
        seconds = (compute if compute > memory else memory) + launch
        phases_e[phase] += seconds
        bound_index = 0 if compute >= memory and compute >= launch else 1 if memory >= launch else 2
        by_e[bound_index] += seconds
        if i >= 0:
            if phase:
                backward_s[i] += seconds
            else:
                forward_s[i] = seconds
            split[bound_index][i] += seconds
    node_seconds = {"forward_seconds": forward_s, "backward_seconds": backward_s,
                    **{f"{b}_seconds": v for b, v in zip(BOUNDS, split)}}
    return (StepTime("expected", batch, phases_e[0], phases_e[1], phases_e[2], dict(zip(BOUNDS, by_e))),
            node_seconds, StepTime("bound", batch, phases_b[0], phases_b[1], phases_b[2], dict(zip(BOUNDS, by_b))))


def _forward_again(rates: Rates, rows: list[NodeRows], recompute: tuple[int, ...], batch: int
                   ) -> tuple[float, dict[str, float]]:
    """Seconds of the given nodes' forward passes, and by bound (a checkpointed region's recompute)."""
    by_bound = dict.fromkeys(BOUNDS, 0.0)
    for i in recompute:
        t = rates.time(pass_cost(rows[i][0]), batch)
        if t is not ZERO:
            by_bound[t.bound] += t.seconds
    return sum(by_bound.values()), by_bound


def compute_dtype(dtype: str, precision: Any) -> str:
    """What products compute in: tf32 where asked (fp32 storage), else the trace's matmul dtype."""
    return "tf32" if dtype == "tf32" else precision.matmul_dtype


def step_costs(graph: Any, trace: Any, dtype: str, optimizer: str, frozen: tuple[bool, ...] | None = None,
               foreach: bool = False) -> tuple[list[NodeRows], PassCost]:
    """Per node passes (`passes.node_rows`) and the optimizer pass: exact ints, batch-free (kept
    with the graph).
    `foreach`: the optimizer's multi-tensor kernels (a GPU's default)."""
    key = (trace.precision, dtype, optimizer, frozen, foreach)
    memo = graph.memo.setdefault("time costs", {})
    costs = memo.get(key)
    if costs is None:
        if len(memo) >= 8:
            memo.clear()
        costs = memo[key] = (node_rows(graph, trace, compute_dtype(dtype, trace.precision), frozen),
                             optimizer_cost(graph, optimizer, trace.precision.param_dtype, frozen, foreach))
    return costs


def time_step(graph: Any, trace: Any, profile: Any, *, dtype: str, optimizer: str, batch: int,
              frozen: tuple[bool, ...] | None = None, epoch_images: int | None = None,
              price_per_hour: float | None = None, recompute: tuple[int, ...] = (),
              communication: Any = None) -> Timing:
    """The time of one training step of `graph` (traced under `trace`'s precision) on `profile`;
    `recompute`: graph nodes whose forward runs again in backward (checkpointed regions);
    `communication`: several GPUs' `communication.Plan` (its exposed seconds join the step's)."""
    with paused_gc():  # its rows and sums hold no cycles: the collector's passes would only cost
        rows, optimizer_pass = step_costs(graph, trace, dtype, optimizer, frozen, foreach=profile.kind == "gpu")
        expected_rates, bound_rates = Rates(profile, "expected"), Rates(profile, "bound")
        expected, node_seconds, bound = _both_estimates(expected_rates, bound_rates, rows, optimizer_pass, batch)
    if recompute:
        expected, bound = (step.with_recompute(*_forward_again(rates, rows, recompute, batch))
                           for step, rates in ((expected, expected_rates), (bound, bound_rates)))
    if communication is not None and communication.timed:
        from .communication import time_of
        expected, bound = (replace(step, communication=time_of(communication, step.estimate, step.forward_seconds,
                                                               step.backward_seconds, step.optimizer_seconds))
                           for step in (expected, bound))
    return Timing(profile, dtype, optimizer, batch, rows, graph, optimizer_pass, expected, bound, node_seconds,
                  epoch_images, price_per_hour, communication=communication)
