"""Time columns of a sweep (`cnncost.sweep(..., hardware=)`): per configuration the expected step's
seconds by phase, images per second, the bound holding most of the step (`limited_by`), and the pure
roofline's step seconds and images per second. The per-pass counts of every new resolution come
from closed forms in the input's sizes kept on the net, one per (structure, dtype, optimizer,
setup), recorded by the first sweep from one compile of the net at all its resolutions and one
trace per dtype (`cnncost.timing.resolution_counts`); where they cannot be, each resolution is
compiled, traced and costed alone. The piecewise-linear step lines are kept on the net per
resolution (a later sweep over the same resolutions evaluates its batches only); batches are
vectorised (`cnncost.timing.sweep`). A job's step (checkpoint, accumulate, several GPUs) runs the
same passes per micro-step, so those lines and closed forms serve it too, whatever the job; what
it adds (the recompute of the regions each resolution's solved step chose, the micro-steps, the
communication) comes per configuration from the memory model's step (`cnncost.timing.sweep_job`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import CnnCostError

TIME_COLUMNS = ("forward_seconds", "backward_seconds", "optimizer_seconds", "step_seconds", "images_per_second",
                "limited_by", "bound_step_seconds", "bound_images_per_second")
INT_COLUMNS = ("limited_by", "micro_steps")
TRAINING_DTYPES = ("fp32", "tf32", "fp16", "bf16")
KEPT_LINES = 2048  # (resolution, dtype, optimizer, ...) entries a net keeps (rows of blocks: resnet50: 9-31 kB each)


def time_columns(nets_inputs: list[tuple[Any, list[Any]]], dtypes: list[str], optimizers: list[str],
                 batches: np.ndarray, hardware: Any, device: str, release: tuple[int, int],
                 freeze: tuple[str, ...], jobs: list[Any] | None = None) -> dict[str, Any]:
    """Each column laid out C-order over (resolution, batch, dtype, optimizer) per structure, the
    structures one after another (as `sweeps.sweep`'s count columns). `jobs`: per structure, the
    `timing.sweep_job.JobParts` of each (resolution, dtype, optimizer) where the step is more than a
    plain one (checkpoint, accumulate, several GPUs: `job_step_parts`), its columns then the job's
    step's, with its own columns (`sweep_job.job_columns`)."""
    import pandas as pd

    from .conventions import memory_dtype
    from .counting.training import frozen_nodes
    from .graph import compile
    from .hardware import load_profile
    from .memory import Precision, trace
    from .timing.model import BOUNDS
    from .timing.step import step_costs
    from .timing.sweep import grid_times, one_block, resolution_lines
    wrong = [d for d in dtypes if d not in TRAINING_DTYPES]
    if wrong:
        raise CnnCostError(f"the time model needs training dtypes ({', '.join(TRAINING_DTYPES)}), got {wrong[0]!r}")
    profile = load_profile(hardware)
    foreach = profile.kind == "gpu"
    from .timing.sweep_job import PLAIN_JOB, job_columns, job_times
    B, D, O = len(batches), len(dtypes), len(optimizers)
    names = TIME_COLUMNS + job_columns(jobs)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for s, (net, inputs) in enumerate(nets_inputs):
        job = None if jobs is None else jobs[s]
        block = {name: np.empty((len(inputs), B, D, O), dtype=np.int64 if name in INT_COLUMNS else np.float64)
                 for name in names}
        kept = net.memo.setdefault("time lines", {})  # per resolution, dtype, optimizer, setup and profile
        keys = [[[(tuple(shape), dtype, optimizer, freeze, device, release, profile) for optimizer in optimizers]
                 for dtype in dtypes] for shape in inputs]
        fresh = _vectorised(net, inputs, keys, kept, dtypes, optimizers, profile, device, release, freeze, foreach)
        for r, shape in enumerate(inputs):  # the graph, its trace and costs, made only where not kept
            graph, frozen = None, None
            for d, dtype in enumerate(dtypes):
                traced = None
                for o, optimizer in enumerate(optimizers):
                    key = keys[r][d][o]
                    if key in kept or key in fresh:
                        continue
                    if graph is None:
                        graph = compile(net, shape)
                        frozen = frozen_nodes(graph, freeze) if freeze else None
                    if traced is None:
                        traced = trace(graph, precision=Precision(memory_dtype(dtype), device, release))
                    rows, step = step_costs(graph, traced, dtype, optimizer, frozen, foreach=foreach)
                    if len(kept) >= KEPT_LINES:
                        kept.clear()
                    fresh[key] = kept[key] = resolution_lines(rows, step, profile)[0]  # type: ignore[index]  # one resolution
        for d in range(D):  # every resolution at once per (dtype, optimizer)
            for o in range(O):
                each = one_block([fresh.get(keys[r][d][o]) or kept[keys[r][d][o]] for r in range(len(inputs))])
                for r, lines in enumerate(each):  # (the same grid again: one block, its distinct passes kept)
                    key = keys[r][d][o]
                    if kept.get(key) is not None:
                        kept[key] = lines
                cells = [None if job is None else job[r][d][o] for r in range(len(inputs))]
                values = grid_times(each, batches, by_bound=any(c is not None and not c.plain for c in cells))
                for name in names:  # (a job's columns another job's step has not: 0, 1)
                    block[name][:, :, d, o] = values[name] if name in values else PLAIN_JOB[name]
                for r, cell in enumerate(cells):
                    if cell is not None and not cell.plain:  # recompute, micro-steps, communication on the plain step
                        job_values = job_times({name: v[r] for name, v in values.items()}, cell, batches)
                        for name in names:
                            block[name][r, :, d, o] = job_values[name]
        for name in names:
            parts[name].append(block[name].reshape(-1))
    columns: dict[str, Any] = {name: parts[name][0] if len(parts[name]) == 1 else np.concatenate(parts[name])
                               for name in names}  # (one structure: its block as it is)
    columns["limited_by"] = pd.Categorical.from_codes(columns["limited_by"], categories=pd.Index(list(BOUNDS)))
    return columns


def job_step_parts(hardware: Any, freeze: tuple[str, ...], links: dict[str, Any] | None = None) -> Any:
    """What `sweeps._autograd` calls on each configuration's memory step, (graph, dtype, optimizer,
    step, checkpointed) -> its `timing.sweep_job.JobParts` (the job's step as `table` times it)."""
    from .counting.training import frozen_nodes
    from .hardware import load_profile
    from .timing.sweep_job import job_parts
    profile = load_profile(hardware)

    def parts(graph: Any, dtype: str, optimizer: str, step: Any, checkpointed: bool) -> Any:
        frozen = frozen_nodes(graph, freeze) if freeze else None
        return job_parts(graph, step, dtype, optimizer, profile, frozen, checkpointed, links)
    return parts


PROGRAMS = 16  # (input kind, dtype, optimizer, setup) closed forms a net keeps (`resolution_counts`)


def _vectorised(net: Any, inputs: list[Any], keys: list[list[list[Any]]], kept: dict[Any, Any], dtypes: list[str],
                optimizers: list[str], profile: Any, device: str, release: tuple[int, int], freeze: tuple[str, ...],
                foreach: bool) -> dict[Any, Any]:
    """The lines of every (resolution, dtype, optimizer) not kept, from the closed forms of the
    counts kept on the net (per input rank and fixed sizes, dtype, optimizer and setup), evaluated
    at all those resolutions at once, or, where there are none yet or they do not hold there, from
    one compile of the net at all those resolutions and one trace per dtype, recorded as the new
    closed forms (`timing.resolution_counts`). The lines are kept on the net as the per-resolution
    path keeps them. Where neither can be done, none: each resolution then runs alone."""
    from .timing.resolution_counts import record
    fresh: dict[Any, Any] = {}
    programs = net.memo.setdefault("time programs", {})
    groups: dict[Any, list[int]] = {}
    for r, shape in enumerate(inputs):
        if any(k not in kept for row in keys[r] for k in row):
            groups.setdefault((len(shape), *shape[:-2]), []).append(r)
    for kind, members in groups.items():
        shapes = [tuple(inputs[r]) for r in members]
        setups = [(dtype, optimizer) for dtype in dtypes for optimizer in optimizers]
        made: dict[tuple[str, str], Any] = {}  # per (dtype, optimizer): the lines per resolution (None: not made)
        for setup in setups:
            program = programs.get((kind, setup, freeze, device, release, foreach))
            if program is not None:
                made[setup] = program.lines(shapes, profile)
        missing = [setup for setup in setups if made.get(setup) is None]
        if missing and len(members) > 1:
            recorded = record(net, shapes, missing, freeze, device, release, foreach, profile) or {}
            for setup, (program, lines) in recorded.items():
                if len(programs) >= PROGRAMS:
                    programs.clear()
                programs[(kind, setup, freeze, device, release, foreach)] = program
                made[setup] = lines
        for (dtype, optimizer), lines in made.items():
            if lines is None:
                continue
            d, o = dtypes.index(dtype), optimizers.index(optimizer)
            for r, each in zip(members, lines):
                fresh[keys[r][d][o]] = each
    for key, lines in fresh.items():
        if len(kept) >= KEPT_LINES:
            kept.clear()
        kept[key] = lines
    return fresh
