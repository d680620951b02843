"""Throughput searches (docs/sweeps.md): the configuration with the most images per second under a
budget, on a hardware profile (the time model's columns of `cnncost.sweep(..., hardware=)`).

Images per second need not grow with the batch (the step time is piecewise linear in it, convex,
with a launch-bound start and a compute- or memory-bound tail), so every candidate batch is
evaluated: one vectorised sweep."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .errors import CnnCostError
from .net import Net
from .search import _MEMORY_MODEL, _budgets, _fits, largest_batch
from .sweeps import sweep
from .literals import DType, Device, MemoryConvention, Optimizer

OBJECTIVES = {"expected": "images_per_second", "bound": "bound_images_per_second"}
MAX_CANDIDATES = 65_536  # every batch up to this; past it, this many spread geometrically


def fastest(frame: Any, estimate: str = "expected", **budgets: Any) -> Any:
    """Per combination of input, width, depth and optimizer, the row of a sweep with time columns
    (`hardware=`) with the most images per second (`estimate`: "expected" or the roofline "bound")
    among those within every budget, over batch and dtype, e.g. `fastest(df, peak_bytes="80GiB")`.
    Combinations where nothing fits are left out."""
    if estimate not in OBJECTIVES:
        raise CnnCostError(f"estimate must be one of {', '.join(OBJECTIVES)}, got {estimate!r}")
    column = OBJECTIVES[estimate]
    if column not in frame.columns:
        raise CnnCostError("the sweep has no time columns: sweep with hardware= (--hardware)")
    fits = frame[_fits(frame, _budgets(budgets))]
    if fits.empty:
        return fits
    others = [c for c in ("width", "depth", "input", "optimizer") if c in fits.columns]
    best = fits.groupby(others, observed=True, sort=False)[column].idxmax()
    return fits.loc[sorted(best.tolist())]


def fastest_batch(arch: str | os.PathLike[str] | Net, hardware: Any, *, input: Any = None,
                  dtype: DType | list[DType] = "fp32", optimizer: Optimizer = "adam", memory: MemoryConvention | None = None,
                  device: Device = "cuda", torch_version: str | None = None, estimate: str = "expected",
                  parallel: dict[str, Any] | None = None, nodes: int | None = None,
                  network_bandwidth: int | str | None = None, reduce_dtype: str | None = None,
                  **budgets: Any) -> Any:
    """The batch (and dtype, where several are given) with the most images per second on
    `hardware` whose figures stay within every budget: the sweep's row (a pandas Series: batch,
    dtype, step_seconds, images_per_second, limited_by, peak_bytes, ...); None where not even batch 1
    fits. `memory` defaults to "autograd" when a budget names peak_bytes or saved_bytes.

    `parallel` (several GPUs, as in `cnncost.table`; the batch is per rank, the peak a rank's): each
    row's step gains the communication its compute does not hide (`communication_seconds`, and
    `bound_communication_seconds` for the roofline bound; `nodes`, `network_bandwidth` and
    `reduce_dtype` as in `table`), so a larger batch that hides the gradients' all-reduce wins
    where it should; images per second stay per rank (times the world size over all ranks).

    >>> from cnncost.search_time import fastest_batch
    >>> row = fastest_batch("resnet18", "a100-sxm4-80gb", dtype=["fp32", "bf16"], peak_bytes="8GiB")
    >>> row["dtype"], int(row["batch"]), row["limited_by"]
    ('bf16', 668, 'compute')
    """
    limits = _budgets(budgets)
    if memory is None:
        memory = "autograd" if _MEMORY_MODEL & set(limits) or parallel else "lecture"
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    upper = max(largest_batch(arch, input=input, dtype=d, optimizer=optimizer, memory=memory, device=device,
                              torch_version=torch_version, parallel=parallel, **budgets) for d in dtypes)
    if upper == 0:
        return None
    batches = (range(1, upper + 1) if upper <= MAX_CANDIDATES
               else np.unique(np.geomspace(1, upper, MAX_CANDIDATES).astype(np.int64)).tolist())
    frame = sweep(arch, batch=batches, input=input, dtype=dtypes, optimizer=optimizer, memory=memory,
                  device=device, torch_version=torch_version, hardware=hardware, parallel=parallel or None,
                  nodes=nodes, network_bandwidth=network_bandwidth, reduce_dtype=reduce_dtype)
    best = fastest(frame, estimate, **budgets)
    return None if best.empty else best.iloc[0]
