"""The time model's step of a whole job, on the trace the memory model solved: a checkpointed
step's recompute in its backward, gradient accumulation's K micro-steps before one optimizer pass,
several GPUs' communication. `cnncost.fit(..., hardware=)` times it at the batch that fits (its
throughput), `cnncost.table(..., hardware=)` at its batch (`time_job`: the same step for both)."""
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
    if mode != "train":
        raise CnnCostError("the time model times a training step: --hardware needs --mode train")
    if dtype not in ("fp32", "tf32", "fp16", "bf16"):
        raise CnnCostError(f"the time model needs a training dtype (fp32, tf32, fp16, bf16), got '{dtype}'")
    profile = load_profile(hardware)
    if not result.batch:
        return result
    timing = time_job(graph, traced, profile, dtype=dtype, optimizer=optimizer, batch=result.batch, frozen=frozen,
                      recomputed=getattr(result.step, "recomputed", ()), setup=setup, links=links,
                      micro_steps=result.accumulate, last_micro_batch=result.last_micro_batch)
    return dataclasses.replace(result, timing=timing)


def time_job(graph: Any, traced: Any, profile: Any, *, dtype: str, optimizer: str, batch: int,
             frozen: tuple[bool, ...] | None = None, recomputed: Any = (), setup: Any = None,
             links: dict[str, Any] | None = None, micro_steps: int = 1, last_micro_batch: int | None = None,
             epoch_images: int | None = None, price_per_hour: float | None = None) -> Any:
    """The `Timing` of one optimizer step of the job at micro-batch `batch`: `recomputed`, the trace
    steps a checkpointed step runs again (`memory.step`'s `recomputed`), timed in backward; `setup`
    on several GPUs (a sharding): its communication (`links`: `communication_plan`'s keywords);
    `micro_steps` K > 1: K micro-steps (the last of `last_micro_batch`, default `batch`) before one
    optimizer pass, `batch` of the result then the samples per step."""
    from .step import time_step
    plan = None
    if setup is not None and getattr(setup, "sharding", None) is not None:  # several GPUs: their communication
        from .communication import communication_plan
        plan = communication_plan(traced, setup, profile, **(links or {}))
    recompute = recomputed_nodes(graph, traced, recomputed)

    def at(micro_batch: int) -> Any:
        return time_step(graph, traced, profile, dtype=dtype, optimizer=optimizer, batch=micro_batch, frozen=frozen,
                         recompute=recompute, communication=plan, epoch_images=epoch_images,
                         price_per_hour=price_per_hour)
    timing = at(batch)
    if micro_steps > 1:  # K micro-steps, then one optimizer pass
        last = batch if last_micro_batch is None else last_micro_batch
        timing = timing.accumulated(micro_steps, timing if last == batch else at(last))
    return timing


def recomputed_nodes(graph: Any, traced: Any, steps: Any) -> tuple[int, ...]:
    """The graph nodes of the trace steps a checkpointed step runs again in backward (each once)."""
    if not steps:
        return ()
    from .passes import steps_by_node
    owner = {id(step): i for i, node_steps in enumerate(steps_by_node(graph, traced)) for step in node_steps}
    return tuple(sorted({owner[id(traced.steps[k])] for k in steps if id(traced.steps[k]) in owner}))
