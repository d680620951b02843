"""Run regions of a built `Network` under PyTorch's non-reentrant activation checkpointing, as
`cnncost.memory.checkpoint` models it: each region (a block path, or 'A..B' from block A's first
row to block B's last) is one `torch.utils.checkpoint.checkpoint(fn, *inputs, use_reentrant=False)`
call whose `fn` runs the region's nodes in graph order (freeing each tensor after its last reader
inside) and returns the tensors read after the region. `save` (op names, e.g. ('convolution',))
turns it into selective checkpointing: those ops' outputs are saved, the rest recomputed.
"""
from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from ..graph import Graph
from .modules import Network

SEPARATOR = ".."


def node_range(graph: Graph, name: str) -> tuple[int, int]:
    """Graph node indices first, stop of a region name."""
    def span(path: str) -> tuple[int, int]:
        prefix = path + "."
        inside = [i for i, n in enumerate(graph.nodes) if n.path == path or n.path.startswith(prefix)]
        if not inside:
            raise ValueError(f"no block '{path}' in {graph.name}")
        return inside[0], inside[-1] + 1
    if SEPARATOR in name:
        a, b = name.split(SEPARATOR, 1)
        return span(a)[0], span(b)[1]
    return span(name)


def _policy(save: tuple[str, ...]) -> Any:
    def policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
        name = str(op).split(".")[1] if str(op).startswith("aten.") else str(op)
        return CheckpointPolicy.MUST_SAVE if name in save else CheckpointPolicy.PREFER_RECOMPUTE
    return policy


def apply_checkpoints(model: Network, graph: Graph, names: Sequence[str], save: Sequence[str] = (),
                      observer: Callable[[str, int], None] | None = None) -> Network:
    """Make `model.forward_all` run the regions `names` under checkpoint (in place; returns model).
    `observer(event, first)` is told 'start' and 'end' of each recompute (a region's function run
    during backward), `first` the region's first node."""
    ranges = sorted(node_range(graph, name) for name in names)
    n = len(model._steps)
    last_read = {i: i for i in range(n + 1)}
    for step, (_, inputs) in enumerate(model._steps, start=1):
        for i in inputs:
            last_read[i] = step
    for i in model._outputs:
        last_read[i] = n + 1
    regions = {}
    for first, stop in ranges:
        ext = sorted({i for s in range(first, stop) for i in model._steps[s - 1][1] if i < first})
        outs = [i for i in range(first, stop) if last_read[i] >= stop]
        regions[first] = (stop, ext, outs)
    context = {} if not save else {"context_fn": functools.partial(create_selective_checkpoint_contexts,
                                                                   _policy(tuple(save)))}

    def run_region(first: int, stop: int, ext: list[int], outs: list[int], *args: torch.Tensor) -> tuple:
        if observer is not None and torch._C._current_graph_task_id() != -1:  # in backward: a recompute
            observer("start", first)
            try:
                return _run(first, stop, ext, outs, *args)
            finally:
                observer("end", first)
        return _run(first, stop, ext, outs, *args)

    def _run(first: int, stop: int, ext: list[int], outs: list[int], *args: torch.Tensor) -> tuple:
        local: dict[int, Any] = dict(zip(ext, args))
        del args
        for s in range(first, stop):
            module, inputs = model._steps[s - 1]
            local[s] = module(*[local[i] for i in inputs])
            for i in inputs:
                if i >= first and last_read[i] == s and i not in outs:
                    local.pop(i, None)
        return tuple(local[i] for i in outs)

    def forward_all(self: Network, *xs: torch.Tensor) -> list[torch.Tensor]:
        env: list[Any] = [xs[0]]
        more = iter(xs[1:])
        step = 1
        while step <= n:
            if step in regions:
                stop, ext, outs = regions[step]
                results = checkpoint(functools.partial(run_region, step, stop, ext, outs), *[env[i] for i in ext],
                                     use_reentrant=False, **context)
                made = dict(zip(outs, results))
                del results
                for s in range(step, stop):
                    env.append(made.pop(s, None))
                for s in range(step, stop):
                    for i in self._free_after[s]:
                        env[i] = None
                step = stop
                continue
            module, inputs = self._steps[step - 1]
            env.append(module(*[env[i] for i in inputs]) if inputs else module(next(more)))
            for i in self._free_after[step]:
                env[i] = None
            step += 1
        return [env[i] for i in self._outputs]

    model.forward_all = types.MethodType(forward_all, model)  # type: ignore[method-assign]
    return model


@dataclass(frozen=True)
class CheckpointedStep:
    """One measured training step with checkpointed regions (CPU, `live.live_step`): the peak, the
    saved bytes of its forward, and per region (its first node) the most its recompute held over
    what was held when it started."""

    peak_bytes: int
    saved_bytes: int
    recompute_bytes: dict[int, int]
    after_forward: int  # bytes held once the forward pass has returned (the loss included)


def measure_checkpointed(graph: Graph, x: torch.Tensor, names: Sequence[str], optimizer: str = "sgd",
                         autocast_dtype: torch.dtype | None = None, save: Sequence[str] = ()) -> CheckpointedStep:
    """Build `graph`, checkpoint `names` and measure one step (saved tensors and live bytes)."""
    from . import live
    from .build import build_graph
    from .measure import saved_tensors
    torch.manual_seed(0)
    model = build_graph(graph)
    extra: dict[int, int] = {}
    started: dict[int, int] = {}
    trackers: list[Any] = []

    class Tracker(live._Tracker):  # the live tracker, remembered so the observer can read it
        def __init__(self, held: Any = ()) -> None:
            super().__init__(held)
            trackers.append(self)

    def observe(event: str, first: int) -> None:
        if not trackers:
            return
        tracker = trackers[-1]
        if event == "start":
            started[first] = (tracker.live, tracker.peak)
            tracker.peak = tracker.live
        else:
            live_at_start, peak_before = started.pop(first)
            extra[first] = tracker.peak - live_at_start
            tracker.peak = max(tracker.peak, peak_before)
    apply_checkpoints(model, graph, names, save, observe)
    saved = saved_tensors(model, x, autocast_dtype).total()
    original, live._Tracker = live._Tracker, Tracker
    try:
        step = live.live_step(model, x, optimizer, autocast_dtype)
    finally:
        live._Tracker = original
    return CheckpointedStep(step.peak_bytes, saved, extra, step.marks["after forward"])
