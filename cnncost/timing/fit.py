"""`cnncost.fit(..., hardware=)`: the time model's training step at the batch that fits (its
throughput), on the same trace the memory model solved: a checkpointed step's recompute in its
backward, gradient accumulation's K micro-steps before one optimizer pass."""
from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import CnnCostError


def with_timing(result: Any, graph: Any, traced: Any, hardware: Any, dtype: str, optimizer: str, mode: str,
                frozen: tuple[bool, ...] | None = None, setup: Any = None, links: dict[str, Any] | None = None) -> Any:
    """`result` (a `memory.fit.Fit`) with `timing` at its batch (None where not even batch 1 fits);
    `traced`: the memory model's trace the fit solved; `frozen`: per graph node, no weight gradient;
    `setup`: the job (on several GPUs its communication is timed, `links` the plan's keywords)."""
    from ..hardware import load_profile
    from .step import time_step
    if mode != "train":
        raise CnnCostError("the time model times a training step: --hardware needs --mode train")
    if dtype not in ("fp32", "tf32", "fp16", "bf16"):
        raise CnnCostError(f"the time model needs a training dtype (fp32, tf32, fp16, bf16), got '{dtype}'")
    profile = load_profile(hardware)
    if not result.batch:
        return result
    recompute = recomputed_nodes(graph, traced, getattr(result.step, "recomputed", ()))
    from .communication import communication_plan
    plan = communication_plan(traced, setup, profile, **(links or {})) if setup is not None else None

    def at(batch: int) -> Any:
        return time_step(graph, traced, profile, dtype=dtype, optimizer=optimizer, batch=batch, frozen=frozen,
                         recompute=recompute, communication=plan)
    timing = at(result.batch)
    if result.accumulate > 1:  # K micro-steps, then one optimizer pass
        last = result.last_micro_batch
        timing = timing.accumulated(result.accumulate, timing if last == result.batch else at(last))
    return dataclasses.replace(result, timing=timing)


def recomputed_nodes(graph: Any, traced: Any, steps: Any) -> tuple[int, ...]:
    """The graph nodes of the trace steps a checkpointed step runs again in backward (each once)."""
    if not steps:
        return ()
    from .passes import steps_by_node
    owner = {id(step): i for i, node_steps in enumerate(steps_by_node(graph, traced)) for step in node_steps}
    return tuple(sorted({owner[id(traced.steps[k])] for k in steps if id(traced.steps[k]) in owner}))
