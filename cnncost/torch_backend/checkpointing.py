"""Run regions of a built `Network` under PyTorch's non-reentrant activation checkpointing, as
`cnncost.memory.checkpoint` models it: each region (a block path, or 'A..B' from block A's first
row to block B's last) is one `torch.utils.checkpoint.checkpoint(fn, *inputs, use_reentrant=False)`
call whose `fn` runs the region's nodes in graph order (freeing each tensor after its last reader
inside) and returns the tensors read after the region. `save` (layer types, e.g. ('conv',))
turns it into selective checkpointing: the outputs of their ops are kept, the rest recomputed.
"""
from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import Any, Callable, Sequence, cast

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


ATEN_OPS = {"conv": ("convolution",), "linear": ("addmm", "mm", "bmm")}  # what a kept layer type runs as


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
    ops = tuple(op for kind in save for op in ATEN_OPS[kind])
    context: dict[str, Any] = ({} if not save else
                               {"context_fn": functools.partial(create_selective_checkpoint_contexts, _policy(ops))})

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
    started: dict[int, tuple[int, int]] = {}
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
    original, live._Tracker = live._Tracker, Tracker  # type: ignore[misc]  # the tracker class swapped for this run
    try:
        step = live.live_step(model, x, optimizer, autocast_dtype)
    finally:
        live._Tracker = original  # type: ignore[misc]
    return CheckpointedStep(step.peak_bytes, saved, extra, step.marks["after forward"])


@dataclass(frozen=True)
class Agreement:
    """Model against measurement for one checkpointed step (bytes at the batch): `saved` (predicted,
    measured); `after_forward`: the model's error after the forward pass, with and without the
    checkpoints (equal when checkpointing changes what is held exactly as PyTorch does); `recompute`:
    per region, the most its recompute holds beyond what was held when it started (predicted,
    measured; an op's own temporaries count here: the model leaves a few out); `peak`: (predicted, measured) and the model's error without checkpoints."""

    saved: tuple[int, int]
    saved_change: tuple[int, int]  # (predicted, measured) saved bytes with the checkpoints less without
    after_forward: tuple[int, int]
    recompute: dict[str, tuple[int, int]]
    peak: tuple[int, int]
    peak_error_without: int

    def mismatches(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.saved[0] != self.saved[1]:
            out["saved"] = self.saved
        if self.saved_change[0] != self.saved_change[1]:
            out["saved_change"] = self.saved_change
        if self.after_forward[0] != self.after_forward[1]:
            out["after_forward"] = self.after_forward
        out.update({f"recompute {k}": v for k, v in self.recompute.items() if v[0] != v[1]})
        return out


def agreement(graph: Graph, batch: int, names: Sequence[str], optimizer: str = "sgd", dtype: str = "fp32",
              save: Sequence[str] = ()) -> Agreement:
    """Predict (`cnncost.memory`, device cpu) and measure one step of `graph` with regions `names`
    (keeping the outputs of the layer types `save`: selective checkpointing). `saved` compares
    autograd's saved tensors: the model's saved bytes less the outputs selective checkpointing keeps
    (PyTorch's cache is not autograd's)."""
    from ..memory import Precision, Setup, step_memory, trace
    from ..memory.checkpoint import regions, saved
    low = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    traced = trace(graph, precision=Precision(dtype, "cpu"))
    torch.manual_seed(0)
    x = torch.randn(batch, *graph.nodes[0].output_shape)
    n = len(traced.steps)

    outputs = {t.id: t for t in traced.outputs}
    kept = sum(t.nbytes_per_sample * batch + t.nbytes_fixed for t in outputs.values())

    def part(moment: Any, name: str) -> int:
        return moment.parts[name].at(batch) if name in moment.parts else 0

    cast_size = 2 if low is not None else 0
    inside = {i for r in regions(traced, names) for i in range(r.first, r.stop)}

    def after_forward(step: Any, regions_on: bool) -> int:
        """Held once forward has returned: the last moment with its op's unsaved inputs freed (the
        outputs kept) and autocast's cast cache cleared (the copies saved outside regions kept)."""
        moment = step.moment(n - 1)
        casts = sum(s.weight_casts for i, s in enumerate(traced.steps) if not (regions_on and i in inside))
        return (moment.at(batch) - part(moment, "live activations") + kept - part(moment, "weight casts")
                + casts * cast_size)
    plain = step_memory(traced, Setup(optimizer))
    checked = step_memory(traced, Setup(optimizer, checkpoint=tuple(names), checkpoint_save=tuple(save)))
    cached = cast(Any, checked).cached  # the checkpointed step's (memory.checkpoint)
    cache = cached[0] * batch + cached[1]
    base = measure_checkpointed(graph, x, (), optimizer, low)
    got = measure_checkpointed(graph, x, names, optimizer, low, save)
    recomputed = checked.parts.get("recomputed", ([0] * checked.count, [0] * checked.count))
    index = {step.path: i for i, step in enumerate(traced.steps)}
    firsts = {r.name: r.first for r in regions(traced, names)}
    saved_part = checked.parts.get("saved for backward", ([0] * checked.count, [0] * checked.count))
    held: dict[str, int] = {}
    start: dict[str, int] = {}
    for i in range(checked.count):
        phase = checked.moment(i).phase
        if phase.startswith("recompute "):
            name, path = phase[len("recompute "):].split(", ")
            casts = sum(s.new_casts for s in traced.steps[firsts[name]:index[path] + 1]) * cast_size  # its cast cache
            # selective checkpointing's kept outputs, held at its start, are freed after their last reader in it
            saved_now = saved_part[0][i] * batch + saved_part[1][i]
            start.setdefault(name, saved_now)
            held[name] = max(held.get(name, 0), recomputed[0][i] * batch + recomputed[1][i] + casts
                             + saved_now - start[name])
    recompute = {r.name: (held.get(r.name, 0), got.recompute_bytes.get(r.first + 1, 0))
                 for r in regions(traced, names) if r.last is not None}
    return Agreement((saved(checked).at(batch) - cache, got.saved_bytes),
                     (saved(checked).at(batch) - cache - traced.saved().at(batch), got.saved_bytes - base.saved_bytes),
                     (base.after_forward - after_forward(plain, False), got.after_forward - after_forward(checked, True)),
                     recompute, (checked.peak(batch).at(batch), got.peak_bytes),
                     base.peak_bytes - plain.peak(batch).at(batch))
