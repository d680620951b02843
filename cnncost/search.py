"""Searches over sweeps (docs/sweeps.md): the largest batch or input size under a memory or FLOPs
budget, the Pareto front of a sweep, and compound scaling as the EfficientNet paper did it.

Every search evaluates exact counts (`cnncost.sweep`); budgets are compared as integers. Memory
budgets take a unit ("80GiB"; GB = GiB = 2^30 bytes, as everywhere in cnncost) or a byte count.
"""
from __future__ import annotations

import math
import os
from typing import Any, Iterable, Sequence

import numpy as np

from .columns import sweep_columns
from .errors import CnnCostError
from .net import Net
from .sweeps import sweep
from .literals import DType, Device, MemoryConvention, Optimizer

MAX_BATCH = 2**40
_MEMORY_MODEL = {c.name for c in sweep_columns(autograd=True) if c.needs}  # saved and peak bytes


def _budget(column: str, value: Any) -> int:
    limits = [c.name for c in sweep_columns(autograd=True)]  # a budget on any figure a sweep has
    if column not in limits:
        raise CnnCostError(f"unknown budget column '{column}'; allowed: {', '.join(limits)}")
    if isinstance(value, str):
        if column.endswith("bytes"):
            from .memory import parse_bytes
            return parse_bytes(value)
        try:
            return int(float(value)) if "e" in value.lower() else int(value.replace(",", "").replace("_", ""))
        except ValueError:
            raise CnnCostError(f"budget {column}={value!r} is not a number") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CnnCostError(f"budget {column}={value!r} is not finite")
        return int(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise CnnCostError(f"budget {column}={value!r} must be a number (or a size with a unit for bytes)")


def _budgets(budgets: dict[str, Any]) -> dict[str, int]:
    if not budgets:
        raise CnnCostError("name at least one budget, e.g. memory_bytes='80GiB' or flops=10**12")
    return {column: _budget(column, value) for column, value in budgets.items()}


def _fits(frame: Any, limits: dict[str, int]) -> Any:
    ok = np.ones(len(frame), dtype=bool)
    for column, limit in limits.items():
        if column not in frame.columns:
            raise CnnCostError(f"the sweep has no column '{column}' (peak_bytes and saved_bytes need memory='autograd')")
        values = frame[column].to_numpy()
        ok &= np.array([v <= limit for v in values.tolist()]) if values.dtype == object else values <= limit
    return ok


def largest(frame: Any, axis: str = "batch", **budgets: Any) -> Any:
    """Per combination of the other configuration columns, the row of a sweep with the largest
    `axis` ("batch" or "input": the largest H x W) whose figures are all within the budgets, e.g.
    `largest(df, "batch", peak_bytes="80GiB")`. Combinations where nothing fits are left out.

    >>> import cnncost
    >>> from cnncost.search import largest
    >>> df = cnncost.sweep("resnet50", batch=[64, 128, 256, 512], input=[224, 288])
    >>> largest(df, "batch", memory_bytes="32GiB")[["input", "batch"]].to_string(index=False)
    '    input  batch\\n3x224x224    128\\n3x288x288     64'
    """
    import pandas as pd
    limits = _budgets(budgets)
    if axis not in ("batch", "input"):
        raise CnnCostError(f"axis must be 'batch' or 'input', got {axis!r}")
    fits = frame[_fits(frame, limits)]
    if fits.empty:
        return fits
    key = fits["batch"].tolist() if axis == "batch" else [_pixels(s)[0] for s in fits["input"].astype(str)]
    others = [c for c in ("width", "depth", "input", "batch", "dtype", "optimizer") if c in fits.columns and c != axis]
    order = fits.assign(_key=key).sort_values("_key", kind="stable")
    best = order.groupby(others, observed=True, sort=False).tail(1).drop(columns="_key")
    return best.sort_index() if isinstance(best, pd.DataFrame) else best


def _pixels(label: str) -> tuple[int, int]:
    dims = [int(v) for v in label.split("x")]
    return (math.prod(dims[1:]), dims[-1])


def largest_batch(arch: str | os.PathLike[str] | Net, *, input: Any = None, dtype: DType = "fp32",
                  optimizer: Optimizer = "adam", memory: MemoryConvention | None = None, device: Device = "cuda",
                  torch_version: str | None = None, parallel: dict[str, Any] | None = None, **budgets: Any) -> int:
    """The largest batch whose figures stay within every budget (0: not even batch 1), exact. Every
    count is non-decreasing in the batch, so a bisection finds it; each round is one vectorised
    sweep over 64 batches, so even 2^40 needs a handful of rounds.

    `memory` defaults to "autograd" when a budget names peak_bytes or saved_bytes; `device`,
    `torch_version` and `parallel` (several GPUs: the peak per rank) as in `cnncost.table`.

    >>> from cnncost.search import largest_batch
    >>> largest_batch("vgg16", peak_bytes="80GiB", dtype="bf16", optimizer="adamw")   # = cnncost fit
    1924
    """
    limits = _budgets(budgets)
    if memory is None:
        memory = "autograd" if _MEMORY_MODEL & set(limits) else "lecture"

    def within(batches: list[int]) -> list[bool]:
        frame = sweep(arch, batch=batches, input=input, dtype=dtype, optimizer=optimizer, memory=memory,
                      device=device, torch_version=torch_version, parallel=parallel or None)
        return _fits(frame, limits).tolist()

    if not within([1])[0]:
        return 0
    lo, hi = 1, None  # lo fits; hi (if known) does not
    while hi is None or hi - lo > 1:
        if hi is None:
            candidates = [min(lo * 2**k, MAX_BATCH) for k in range(1, 41)]
        else:
            step = max(1, (hi - lo) // 64)
            candidates = list(range(lo + step, hi, step))[:64] or [lo + 1]
        candidates = sorted(set(c for c in candidates if c > lo and (hi is None or c < hi)))
        if not candidates:
            break
        ok = within(candidates)
        fitting = [c for c, good in zip(candidates, ok) if good]
        failing = [c for c, good in zip(candidates, ok) if not good]
        if fitting:
            lo = max(fitting)
        if failing:
            hi = min(f for f in failing if f > lo) if any(f > lo for f in failing) else hi
        elif hi is None and lo >= MAX_BATCH:
            return MAX_BATCH
    return lo


def largest_input(arch: str | os.PathLike[str] | Net, sizes: Iterable[int] = range(32, 4097, 8), *,
                  batch: int = 1, dtype: DType = "fp32", optimizer: Optimizer = "adam", memory: MemoryConvention | None = None,
                  device: Device = "cuda", channels: int | None = None, torch_version: str | None = None,
                  **budgets: Any) -> tuple[int, ...] | None:
    """The largest square input (of the candidate `sizes`) that the net accepts and whose figures
    at `batch` stay within every budget; None if none does. Sizes the net cannot run are skipped.

    >>> from cnncost.search import largest_input
    >>> largest_input("resnet50", range(64, 1025, 32), batch=32, flops="2e12")
    (3, 608, 608)
    """
    limits = _budgets(budgets)
    if memory is None:
        memory = "autograd" if _MEMORY_MODEL & set(limits) else "lecture"
    from .api import load
    net = load(arch)
    if len(net.input) < 3:
        raise CnnCostError(f"the largest input is a search over the height and width of a map input; "
                           f"{net.name}'s input {'x'.join(map(str, net.input))} has none")
    lead = (channels or net.input[0], *net.input[1:-2])  # a video's C and D stay; H and W are searched
    frame = sweep(net, batch=batch, input=[(*lead, s, s) for s in sizes], dtype=dtype, optimizer=optimizer,
                  memory=memory, device=device, torch_version=torch_version, invalid="drop")
    fits = frame[_fits(frame, limits)]
    if fits.empty:
        return None
    best = max((_pixels(s), s) for s in fits["input"].astype(str))[1]
    return tuple(int(v) for v in best.split("x"))


def pareto(frame: Any, columns: Sequence[str] = ("params", "macs", "memory_bytes"),
           maximize: Sequence[str] = ()) -> Any:
    """The rows of a sweep that no other row beats: no other row is at least as good in every
    column and better in one (smaller is better; larger for the columns in `maximize`, e.g. the
    `input` resolution or the `width` bought with them). Exact integer comparisons; rows with
    equal figures are all kept.

    >>> import cnncost
    >>> from cnncost.search import pareto
    >>> df = cnncost.sweep("mobilenet-v2", width=[0.5, 0.75, 1.0], input=[128, 160, 192, 224], batch=1)
    >>> len(pareto(df, ["params", "macs"])) <= len(df)
    True
    """
    if frame.empty:
        return frame
    points = []
    for column in list(columns) + [m for m in maximize if m not in columns]:
        if column not in frame.columns:
            raise CnnCostError(f"the frame has no column '{column}'")
        values = frame[column].tolist()
        if column == "input":  # an input label compares by its pixels (H x W), then its width
            values = [_pixels(str(v)) for v in values]
            if column in maximize:
                values = [(-a, -b) for a, b in values]
        elif column in maximize:
            values = [-v for v in values]
        points.append(values)
    rows = list(zip(*points))
    order = sorted(range(len(rows)), key=lambda i: rows[i])
    front: list[tuple] = []
    keep = []
    for i in order:
        p = rows[i]
        dominated = False
        for q in front:
            if q != p and all(a <= b for a, b in zip(q, p)):
                dominated = True
                break
        if not dominated:
            front.append(p)
            keep.append(i)
    return frame.iloc[sorted(keep)]


# --- compound scaling (Tan & Le 2019, section 3.3) ---

def compound_grid(arch: str, *, alphas: Iterable[float] | None = None, betas: Iterable[float] | None = None,
                  gammas: Iterable[float] | None = None, target: float = 2.0, tolerance: float = 0.1,
                  resolution: int | None = None, batch: int = 1, dtype: DType = "fp32",
                  optimizer: Optimizer = "adam") -> Any:
    """Step 1 of compound scaling: with phi = 1, every (alpha, beta, gamma) of the grid (depth,
    width and resolution multipliers, each >= 1) with alpha x beta^2 x gamma^2 within `tolerance`
    of `target` (2: "twice the FLOPs"), and the exact figures of the network so scaled: depth x
    alpha, width x beta, resolution round(r x gamma). Sorted by how close the exact FLOPs ratio
    comes to the target.

    The paper then trains each candidate and keeps the most accurate (for EfficientNet-B0:
    alpha 1.2, beta 1.1, gamma 1.15). cnncost cannot train: it gives what the constraint stands
    for, the exact cost of each candidate, where the rounding of channels (to multiples of 8),
    blocks (up) and pixels makes the real ratio differ from alpha x beta^2 x gamma^2.
    """
    import pandas as pd
    from .api import load
    grid = [round(1 + 0.05 * i, 2) for i in range(0, 21)]
    alphas, betas, gammas = list(alphas or grid), list(betas or grid), list(gammas or grid)
    base = load(arch)
    r0 = resolution or base.input[-2]  # the height of a map input
    candidates = [(a, b, g) for a in alphas for b in betas for g in gammas
                  if abs(a * b * b * g * g - target) <= tolerance]
    if not candidates:
        raise CnnCostError(f"no (alpha, beta, gamma) of the grid has alpha x beta^2 x gamma^2 within "
                           f"{tolerance:g} of {target:g}")
    ref = sweep(arch, batch=batch, input=r0, width=1.0, depth=1.0, dtype=dtype, optimizer=optimizer).iloc[0]
    rows = []
    for a, b, g in candidates:
        r = round(r0 * g)
        row = sweep(arch, batch=batch, input=r, width=b, depth=a, dtype=dtype, optimizer=optimizer,
                    invalid="drop")
        if row.empty:
            continue
        row = row.iloc[0]
        rows.append({"alpha": a, "beta": b, "gamma": g, "constraint": a * b * b * g * g, "input": row["input"],
                     "params": int(row["params"]), "flops": int(row["flops"]), "memory_bytes": int(row["memory_bytes"]),
                     "flops_ratio": _ratio(int(row["flops"]), int(ref["flops"])),
                     "params_ratio": _ratio(int(row["params"]), int(ref["params"]))})
    out = pd.DataFrame(rows)
    out["_off"] = (out["flops_ratio"] - target).abs()
    out = out.sort_values(["_off", "alpha", "beta", "gamma"], kind="stable").drop(columns="_off")
    return _int_columns(out.reset_index(drop=True), ("params", "flops", "memory_bytes"))


def compound_family(arch: str, alpha: float, beta: float, gamma: float, phis: Iterable[float] = range(8), *,
                    resolution: int | None = None, batch: int = 1, dtype: DType = "fp32",
                    optimizer: Optimizer = "adam", memory: MemoryConvention = "lecture") -> Any:
    """Step 2: the scaled family. For each compound coefficient phi: depth alpha^phi, width
    beta^phi, resolution round(r x gamma^phi), the network's exact figures, and its FLOPs as a
    multiple of phi = 0's next to the 2^phi the constraint aims at.

    >>> from cnncost.search import compound_family
    >>> fam = compound_family("efficientnet-b0", 1.2, 1.1, 1.15, phis=[0, 1])
    >>> fam[["phi", "input", "params"]].to_string(index=False)
    ' phi     input  params\\n   0 3x224x224 5288548\\n   1 3x258x258 9109994'
    """
    import pandas as pd
    from .api import load
    base = load(arch)
    r0 = resolution or base.input[-2]  # the height of a map input
    rows = []
    ref_flops = None
    for phi in phis:
        width, depth = round(beta ** phi, 6), round(alpha ** phi, 6)
        r = round(r0 * gamma ** phi)
        frame = sweep(arch, batch=batch, input=r, width=width, depth=depth, dtype=dtype, optimizer=optimizer,
                      memory=memory)
        row = frame.iloc[0]
        flops = int(row["flops"])
        ref_flops = flops if ref_flops is None else ref_flops
        record = {"phi": phi, "width": width, "depth": depth, "input": row["input"], "params": int(row["params"]),
                  "macs": int(row["macs"]), "flops": flops, "memory_bytes": int(row["memory_bytes"])}
        if memory == "autograd":
            record["peak_bytes"] = int(row["peak_bytes"])
        record["flops_ratio"] = _ratio(flops, ref_flops)
        record["target_ratio"] = float((alpha * beta * beta * gamma * gamma) ** phi)
        rows.append(record)
    counts = ("params", "macs", "flops", "memory_bytes") + (("peak_bytes",) if memory == "autograd" else ())
    return _int_columns(pd.DataFrame(rows), counts)


def _ratio(num: int, den: int) -> float:
    from .formatting import finite_ratio
    value = finite_ratio(num, den) if den else None
    return float("nan") if value is None else value


def _int_columns(frame: Any, columns: Iterable[str]) -> Any:
    from .formatting import count_column
    for column in columns:
        if column in frame.columns:
            frame[column] = count_column([int(v) for v in frame[column].tolist()])
    return frame


def scaled(arch: str, width: float = 1.0, depth: float = 1.0) -> Net:
    """The net a family's scaling hook builds (`register_arch(..., scale=...)`)."""
    from .zoo.registry import arch_info
    hook = arch_info(arch).scale
    if hook is None:
        raise CnnCostError(f"'{arch}' has no width/depth scaling hook")
    return hook(width, depth)


