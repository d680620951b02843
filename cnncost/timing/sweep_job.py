"""A sweep's time columns for the job's step, not only a plain one (`cnncost.sweep(..., hardware=)`
under memory='autograd' with checkpoint, accumulate or parallel): what `table` and `fit` time
(`timing.fit.time_job`) on top of the plain step's lines (`timing.sweep`), vectorised over batches.

Per configuration (resolution, dtype, optimizer) the memory model's solved step gives the parts
(`JobParts`): the checkpointed regions' forward passes run again in backward (per resolution: a
policy such as sqrt may pick other regions at another size), timed as lines in the batch as the
step is; gradient accumulation's K micro-steps before one optimizer pass; several GPUs'
communication plan (`communication.exposed_seconds` of the phases)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import BOUNDS, Rates
from .passes import IDLE
from .sweep import PHASES, Lines, arrays_lines, lines_seconds, passes_arrays, timed_passes

# the job's columns beside the plain step's (`sweep_time.TIME_COLUMNS`), and when a sweep has them
RECOMPUTE_COLUMNS = ("recompute_seconds",)  # a checkpointed step (expected; in backward_seconds)
MICRO_STEP_COLUMNS = ("micro_steps",)  # gradient accumulation
COMMUNICATION_COLUMNS = ("communication_seconds", "bound_communication_seconds")  # several GPUs
PLAIN_JOB: dict[str, Any] = {"recompute_seconds": 0.0, "micro_steps": 1, "communication_seconds": 0.0,
             "bound_communication_seconds": 0.0}  # those columns of a plain step


@dataclass(frozen=True)
class JobParts:
    """What one configuration's job adds to its plain step: `micro_steps`; `plan`, several GPUs'
    `communication.Plan` (None on one device); `recompute`, the lines of the forward passes a
    checkpointed step runs again (expected with its bounds' slots, bound; None where none);
    `optimizer_bound` (index into BOUNDS) and `bound_optimizer_seconds`: the optimizer pass's,
    counted once per optimizer step; `checkpointed`: the step has checkpointed regions."""

    micro_steps: int
    plan: Any
    recompute: Lines | None
    optimizer_bound: int
    bound_optimizer_seconds: float
    checkpointed: bool

    @property
    def plain(self) -> bool:
        """Nothing beyond a plain step (its columns then the plain step's, as they were)."""
        return self.micro_steps == 1 and self.plan is None and self.recompute is None


def job_parts(graph: Any, step: Any, dtype: str, optimizer: str, profile: Any, frozen: tuple[bool, ...] | None,
              checkpointed: bool, links: dict[str, Any] | None = None) -> JobParts:
    """The parts of a memory step (`memory.step_memory` of the configuration, as `table` solves it)."""
    from .communication import communication_plan
    from .fit import recomputed_nodes
    from .step import step_costs
    micro_steps = step.setup.accumulate
    plan = communication_plan(step.trace, step.setup, profile, **(links or {}))
    recompute = recomputed_nodes(graph, step.trace, getattr(step, "recomputed", ()))
    if not recompute and micro_steps == 1:
        return JobParts(1, plan, None, 0, 0.0, checkpointed)
    rows, optimizer_pass = step_costs(graph, step.trace, dtype, optimizer, frozen, foreach=profile.kind == "gpu")
    lines = None
    again = [(rows[i][0], None, None) for i in recompute]
    passes = timed_passes(again, IDLE)  # type: ignore[arg-type]  # (forward rows only)
    if passes:
        lines = arrays_lines(passes_arrays(passes), profile)[0]
    expected_optimizer = Rates(profile, "expected").time(optimizer_pass, 1)
    return JobParts(micro_steps, plan, lines, BOUNDS.index(expected_optimizer.bound),
                    Rates(profile, "bound").time(optimizer_pass, 1).seconds, checkpointed)


def job_times(plain: dict[str, np.ndarray], parts: JobParts, batches: np.ndarray) -> dict[str, np.ndarray]:
    """The job's columns at each batch (the micro-batch, per rank) from the plain step's
    (`timing.sweep.grid_times` with `by_bound`, one resolution's): as `StepTime.with_recompute`, `Timing.accumulated`
    and `communication.time_of` make them for `table` and `fit`."""
    from .communication import exposed_seconds
    forward, backward, optimizer = plain["forward_seconds"], plain["backward_seconds"], plain["optimizer_seconds"]
    by_bound, bound_step = plain["by_bound"], plain["bound_step_seconds"]
    recompute = bound_recompute = np.zeros(len(batches))
    if parts.recompute is not None:  # one micro-step's backward runs the regions' forward again
        seconds, bound_seconds = lines_seconds(parts.recompute, batches)
        recompute, bound_recompute = seconds[:, 0], bound_seconds[:, 0]  # (forward passes only)
        backward = backward + recompute
        by_bound = by_bound + seconds[:, len(PHASES):]
        bound_step = bound_step + bound_recompute
    micro_forward, micro_backward = forward, backward  # one micro-step's (its communication overlaps these)
    bound_micro = bound_step - parts.bound_optimizer_seconds  # the pure roofline's forward + backward
    k = parts.micro_steps - 1
    if k:  # K micro-steps, one optimizer pass
        forward, backward, recompute = (k * v + v for v in (forward, backward, recompute))
        by_bound = k * by_bound + by_bound
        by_bound[:, parts.optimizer_bound] -= k * optimizer
        bound_step = k * bound_micro + bound_micro + parts.bound_optimizer_seconds
    step = forward + backward + optimizer
    out = {"forward_seconds": forward, "backward_seconds": backward, "optimizer_seconds": optimizer}
    if parts.plan is not None:  # several GPUs: what compute does not hide
        shape = step.shape
        out["communication_seconds"] = np.broadcast_to(exposed_seconds(
            parts.plan, "expected", micro_forward, micro_backward, optimizer, micro_steps=parts.micro_steps),
            shape).astype(np.float64)
        out["bound_communication_seconds"] = np.broadcast_to(exposed_seconds(
            parts.plan, "bound", bound_micro, 0.0, parts.bound_optimizer_seconds, micro_steps=parts.micro_steps),
            shape).astype(np.float64)
        step = step + out["communication_seconds"]
        bound_step = bound_step + out["bound_communication_seconds"]
    else:
        out["communication_seconds"] = out["bound_communication_seconds"] = np.zeros(len(batches))
    samples = (k + 1) * batches.astype(np.float64)
    with np.errstate(divide="ignore"):
        out |= {"step_seconds": step, "images_per_second": samples / step, "limited_by": np.argmax(by_bound, axis=1),
                "bound_step_seconds": bound_step, "bound_images_per_second": samples / bound_step}
    out["recompute_seconds"] = recompute
    out["micro_steps"] = np.full(len(batches), k + 1, dtype=np.int64)
    return out


def job_columns(jobs: list[Any] | None) -> tuple[str, ...]:
    """The columns a sweep's jobs add (`jobs`: per structure, [resolution][dtype][optimizer] parts)."""
    cells = [parts for job in jobs or () for row in job for cell in row for parts in cell]
    return ((RECOMPUTE_COLUMNS if any(p.checkpointed for p in cells) else ())
            + (MICRO_STEP_COLUMNS if any(p.micro_steps > 1 for p in cells) else ())
            + (COMMUNICATION_COLUMNS if any(p.plan is not None for p in cells) else ()))
