"""The bytes a real CPU step holds, tensor by tensor: a live-tensor tracker to check the memory
model's timeline (its peak and what is held at named points) without a GPU.

Every op runs under a `TorchDispatchMode` (backward ops too: autograd carries the mode to the ops it
runs); each storage an op returns is counted once, from that op until the storage dies (a weakref
finalizer on the storage, which PyTorch keeps alive exactly as long as the storage itself, whether
Python, a view or autograd's saved tensors hold it). The peak is read after every op, when its
outputs exist and its inputs are still alive: what an eager step holds at its fullest. Workspaces
an op allocates and frees inside itself are not tensors and are not counted (the model leaves
them out too: docs/memory.md).

- `live_peak(fn)`: the largest total of storages made by `fn` and alive at once.
- `live_step(model, x, optimizer, ...)`: one steady-state training step (after a warm-up step, so
  the optimizer state exists), or one inference pass: the peak over everything held (parameters,
  buffers, optimizer state, the input batch and every storage alive), the baseline held before the
  step, and the bytes alive at named points.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, cast

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .measure import autocast, inputs_of, make_optimizer


class _Tracker(TorchDispatchMode):
    """Bytes of the storages ops made that are still alive, and the most ever alive at once."""

    def __init__(self, held: Any = ()) -> None:
        """`held`: tensors alive before (parameters, state, input): their storages, and views of
        them (a weight's transpose), are not new."""
        super().__init__()
        self.live = 0
        self.peak = 0
        self._held = {t.untyped_storage()._cdata for t in held if isinstance(t, torch.Tensor)}
        self._seen: set[int] = set()

    def _freed(self, key: int, nbytes: int) -> None:
        self._seen.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                storage = t.untyped_storage()
                key = storage._cdata  # the storage itself, shared by its views
                if key not in self._seen and key not in self._held and storage.nbytes():
                    self._seen.add(key)
                    self.live += storage.nbytes()
                    weakref.finalize(storage, self._freed, key, storage.nbytes())
        if self.live > self.peak:
            self.peak = self.live
        return out


def live_peak(fn: Callable[[], Any], held: Any = ()) -> int:
    """The most bytes of storages made by `fn` (and its backward, if it runs one) alive at once;
    storages of the tensors `held` (made before) are not counted."""
    with _Tracker(held) as tracker:
        fn()
    return tracker.peak


def _storage_bytes(tensors: Any) -> int:
    """Bytes of the distinct storages of `tensors` (views and shared weights counted once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            storage = t.untyped_storage()
            seen[storage._cdata] = storage.nbytes()
    return sum(seen.values())


def _state_tensors(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v for state in opt.state.values() for v in state.values() if isinstance(v, torch.Tensor)]


@dataclass(frozen=True)
class LiveStep:
    """One measured step: `peak_bytes` = `baseline_bytes` + the most the step's own storages held."""

    peak_bytes: int
    baseline_bytes: int  # parameters, buffers, optimizer state and the input batch, before the step
    marks: dict[str, int] = field(default_factory=dict)  # bytes held at named points, baseline included


def live_step(model: nn.Module, x: torch.Tensor | tuple[torch.Tensor, ...], optimizer: str = "adam",
              autocast_dtype: torch.dtype | None = None, mode: str = "train",
              setup_hook: Callable[[nn.Module], Any] | None = None, accumulate: int = 1) -> LiveStep:
    """Measure one step of `model` on the CPU. train: `accumulate` forward/backward passes on `x`,
    then the optimizer step and `zero_grad(set_to_none=True)`; the second of two such steps is
    measured. inference: `model.eval()` and one forward under `torch.no_grad()`. `setup_hook(model)`
    runs first (freeze parameters, wrap blocks in checkpoints, ...). The loss is the sum of each
    output's mean (in fp32), as `measure.train_step_peak` takes it on CUDA."""
    if setup_hook is not None:
        setup_hook(model)
    inputs = inputs_of(x)
    if mode == "inference":
        return _inference(model, inputs, autocast_dtype)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(optimizer, iter(trainable))
    model.train()
    marks: dict[str, int] = {}

    def outputs() -> list[torch.Tensor]:
        forward_all = getattr(model, "forward_all", None)  # a built net: every output
        return forward_all(*inputs) if forward_all is not None else [model(*inputs)]

    def step(tracker: _Tracker | None, base: int) -> None:
        for k in range(accumulate):
            with autocast("cpu", autocast_dtype):
                loss = cast(torch.Tensor, sum(o.float().mean() for o in outputs()))  # never the start 0
            if tracker is not None:
                marks[f"after forward {k + 1}" if accumulate > 1 else "after forward"] = base + tracker.live
            loss.backward()
            del loss
            if tracker is not None:
                marks[f"after backward {k + 1}" if accumulate > 1 else "after backward"] = base + tracker.live
        opt.step()
        opt.zero_grad(set_to_none=True)

    step(None, 0)  # the optimizer makes its state at its first step
    held = [*model.parameters(), *model.buffers(), *_state_tensors(opt), *inputs]
    baseline = _storage_bytes(held)
    with _Tracker(held) as tracker:
        step(tracker, baseline)
    marks["after the step"] = baseline + tracker.live
    return LiveStep(baseline + tracker.peak, baseline, marks)


def _inference(model: nn.Module, inputs: tuple[torch.Tensor, ...], autocast_dtype: torch.dtype | None) -> LiveStep:
    model.eval()
    held = [*model.parameters(), *model.buffers(), *inputs]
    baseline = _storage_bytes(held)
    with torch.no_grad(), _Tracker(held) as tracker, autocast("cpu", autocast_dtype):
        forward_all = getattr(model, "forward_all", None)  # a built net: every output
        out = forward_all(*inputs) if forward_all is not None else model(*inputs)
        held = baseline + tracker.live
    del out
    return LiveStep(baseline + tracker.peak, baseline, {"after forward": held})
