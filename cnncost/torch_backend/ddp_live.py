"""What one rank of a real DistributedDataParallel job holds on the CPU: the peak of one
steady-state step, measured per rank by the live-tensor tracker (`live._Tracker`), to check the
per-rank model of `cnncost.memory.sharding` without GPUs.

Each rank is a process (`torch.multiprocessing.spawn`, gloo over a file:// rendezvous). The tracker
runs from before DDP is constructed, so the reducer's buckets (made in its constructor, and remade
in gradient-ready order during the second iteration) and the optimizer state count; two warm-up
steps, then the third step's peak is read. The net's output is held until the next forward starts,
as a training loop's `out = model(x)` holds it (and as the model assumes). Without DDP (`world_size` 1) the same step is measured
on one process, as the single-device model predicts it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from .build import build
from .live import _storage_bytes, _Tracker
from .measure import make_optimizer


@dataclass(frozen=True)
class DdpCase:
    """One measurement: a built-in net at a per-rank batch and input, under DDP or alone."""

    arch: str
    batch: int
    input: tuple[int, ...]
    optimizer: str = "adam"
    ddp: bool = True
    gradient_as_bucket_view: bool = False
    bucket_cap_mb: int | None = None  # None: PyTorch's default (25 MiB, first bucket 1 MiB)


def _peak(case: DdpCase) -> tuple[int, int]:
    """The bytes this process holds at the peak of one steady-state step of `case`: during the
    forward and backward passes, and during the optimizer step."""
    from torch.nn.parallel import DistributedDataParallel
    torch.manual_seed(0)
    model = build(case.arch, input=case.input)
    x = torch.randn(case.batch, *case.input)
    held = [*model.parameters(), *model.buffers(), x]
    with _Tracker(held) as tracker:
        net = (DistributedDataParallel(model, gradient_as_bucket_view=case.gradient_as_bucket_view,
                                       bucket_cap_mb=case.bucket_cap_mb) if case.ddp else model)
        opt = make_optimizer(case.optimizer, iter(list(net.parameters())))
        net.train()

        kept: list[torch.Tensor] = []

        def step() -> tuple[int, int]:
            kept.clear()  # the previous step's output, freed as the next forward starts
            tracker.peak = tracker.live
            kept.append(net(x))
            loss = kept[0].float().mean()
            loss.backward()
            del loss
            passes, tracker.peak = tracker.peak, tracker.live
            opt.step()
            opt.zero_grad(set_to_none=True)
            return passes, tracker.peak
        step()
        step()  # DDP rebuilds its buckets in this one's forward
        passes, update = step()
    base = _storage_bytes(held)
    return base + passes, base + update


def _rank(rank: int, world_size: int, init_file: str, cases: list[DdpCase], out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        peaks = [_peak(case) for case in cases]
    finally:
        dist.destroy_process_group()
    with open(f"{out}.{rank}", "w") as handle:
        handle.write(" ".join(f"{a},{b}" for a, b in peaks))


def ddp_peaks(cases: list[DdpCase], world_size: int = 2) -> list[list[tuple[int, int]]]:
    """Per case, every rank's measured peaks (bytes; forward and backward, optimizer step):
    `world_size` gloo processes on this machine. Cases with `ddp=False` run in the same processes,
    each alone."""
    with tempfile.TemporaryDirectory() as folder:
        init_file, out = os.path.join(folder, "rendezvous"), os.path.join(folder, "peaks")
        mp.spawn(_rank, args=(world_size, init_file, cases, out), nprocs=world_size, join=True)
        per_rank: list[list[tuple[int, int]]] = []
        for rank in range(world_size):
            with open(f"{out}.{rank}") as handle:  # one "forward_backward,optimizer" pair per case
                per_rank.append([(int(a), int(b)) for a, b in (v.split(",") for v in handle.read().split())])
    return [[per_rank[r][i] for r in range(world_size)] for i in range(len(cases))]


def modelled_peaks(case: DdpCase, world_size: int = 2) -> tuple[int, int]:
    """The model's per-rank peaks for `case` on the CPU (fp32): over the forward and backward
    moments, and at the optimizer step."""
    from ..api import _compile, _step, _setup, load
    graph = _compile(load(case.arch, input=case.input), case.input, None)
    how: dict[str, Any] = {}
    if case.ddp:
        how = {"world_size": world_size, "sharding": "ddp", "gradient_as_bucket_view": case.gradient_as_bucket_view}
        if case.bucket_cap_mb is not None:
            how["bucket_cap_mb"] = case.bucket_cap_mb
    step = _step(graph, "fp32", _setup(case.optimizer, "train", **how), device="cpu")
    per_sample, fixed = step.totals
    values = [a * case.batch + c for a, c in zip(per_sample, fixed)]
    return max(values[:-1]), values[-1]
