"""Time columns of a sweep (`cnncost.sweep(..., hardware=)`): per configuration the expected step's
seconds by phase, images per second, the bound holding most of the step (`limited_by`), and the pure
roofline's step seconds and images per second. One memory-model trace and one pass of the time
model's per-node costs per (structure, resolution, dtype, optimizer); batches are vectorised
(`cnncost.timing.sweep`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import CnnCostError

TIME_COLUMNS = ("forward_seconds", "backward_seconds", "optimizer_seconds", "step_seconds", "images_per_second",
                "limited_by", "bound_step_seconds", "bound_images_per_second")
TRAINING_DTYPES = ("fp32", "tf32", "fp16", "bf16")


def time_columns(nets_inputs: list[tuple[Any, list[Any]]], dtypes: list[str], optimizers: list[str],
                 batches: np.ndarray, hardware: Any, device: str, release: tuple[int, int],
                 freeze: tuple[str, ...]) -> dict[str, Any]:
    """Each column laid out C-order over (resolution, batch, dtype, optimizer) per structure, the
    structures one after another (as `sweeps.sweep`'s count columns)."""
    import pandas as pd

    from .conventions import memory_dtype
    from .counting.training import frozen_nodes
    from .graph import compile
    from .hardware import load_profile
    from .memory import Precision, trace
    from .timing.model import BOUNDS
    from .timing.step import step_costs
    from .timing.sweep import batch_times
    wrong = [d for d in dtypes if d not in TRAINING_DTYPES]
    if wrong:
        raise CnnCostError(f"the time model needs training dtypes ({', '.join(TRAINING_DTYPES)}), got {wrong[0]!r}")
    profile = load_profile(hardware)
    B, D, O = len(batches), len(dtypes), len(optimizers)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in TIME_COLUMNS}
    for net, inputs in nets_inputs:
        block = {name: np.empty((len(inputs), B, D, O), dtype=np.int64 if name == "limited_by" else np.float64)
                 for name in TIME_COLUMNS}
        for r, shape in enumerate(inputs):
            graph = compile(net, shape)
            frozen = frozen_nodes(graph, freeze) if freeze else None
            for d, dtype in enumerate(dtypes):
                traced = trace(graph, precision=Precision(memory_dtype(dtype), device, release))
                for o, optimizer in enumerate(optimizers):
                    nodes, step = step_costs(graph, traced, dtype, optimizer, frozen, foreach=profile.kind == "gpu")
                    for name, values in batch_times(nodes, step, profile, batches).items():
                        block[name][r, :, d, o] = values
        for name in TIME_COLUMNS:
            parts[name].append(block[name].reshape(-1))
    columns: dict[str, Any] = {name: np.concatenate(parts[name]) for name in TIME_COLUMNS}
    columns["limited_by"] = pd.Categorical.from_codes(columns["limited_by"], categories=list(BOUNDS))  # type: ignore[call-overload]  # stubs: an Index
    return columns
