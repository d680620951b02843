"""`cnncost.fit(..., hardware=)`: the time model's training step at the batch that fits (its
throughput), on the same trace the memory model solved."""
from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import CnnCostError


def with_timing(result: Any, graph: Any, traced: Any, hardware: Any, dtype: str, optimizer: str, mode: str,
                frozen: tuple[bool, ...] | None = None) -> Any:
    """`result` (a `memory.fit.Fit`) with `timing` at its batch (None where not even batch 1 fits);
    `traced`: the memory model's trace the fit solved; `frozen`: per graph node, no weight gradient."""
    from ..hardware import load_profile
    from .step import time_step
    if mode != "train":
        raise CnnCostError("the time model times a training step: --hardware needs --mode train")
    if dtype not in ("fp32", "tf32", "fp16", "bf16"):
        raise CnnCostError(f"the time model needs a training dtype (fp32, tf32, fp16, bf16), got '{dtype}'")
    profile = load_profile(hardware)
    if not result.batch:
        return result
    timing = time_step(graph, traced, profile, dtype=dtype, optimizer=optimizer, batch=result.batch, frozen=frozen)
    return dataclasses.replace(result, timing=timing)
