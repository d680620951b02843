"""`--freeze` and `--accumulate` against PyTorch on the CPU: saved bytes per layer with the frozen
layers' parameters `requires_grad_(False)` (`measure.saved_tensors`), and a whole step measured by
the live-tensor tracker (`live.live_step`). Imports torch: only tests and benchmarks import this module."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..api import load
from ..graph import compile
from ..memory.setup import Setup
from ..memory.step import step_memory
from ..memory.tensors import Precision, torch_release
from ..memory.trace import frozen_paths, trace
from ..net import Net
from ..shapes import Shape
from .build import build
from .check import SAVED_BASIS, TORCH_DTYPES
from .example_inputs import example_inputs
from .live import live_step
from .measure import saved_tensors


def freeze_modules(model: nn.Module, paths: frozenset[str]) -> None:
    """requires_grad_(False) on the parameters of the modules at `paths` (row paths = module paths)."""
    for name, module in model.named_modules():
        if name in paths:
            for p in module.parameters(recurse=False):
                p.requires_grad_(False)


@dataclass(frozen=True)
class FrozenComparison:
    architecture: str
    frozen: frozenset[str]
    by_path: dict[str, tuple[int, int]]  # saved bytes per module path: (predicted, measured)
    predicted_peak: int | None = None
    measured_peak: int | None = None
    predicted_gradients: int | None = None  # gradient bytes held after the backward pass
    measured_gradients: int | None = None   # the tracker's 'after backward' minus its baseline

    @property
    def predicted(self) -> int:
        return sum(p for p, _ in self.by_path.values())

    @property
    def measured(self) -> int:
        return sum(m for _, m in self.by_path.values())

    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {p: v for p, v in self.by_path.items() if v[0] != v[1]}


def _prepared(arch: "str | Net", input: Shape | None, dtype: str, freeze: tuple[str, ...]):
    net = load(arch)
    if input is not None:
        net = net.with_input(input)
    graph = compile(net)
    precision = Precision(dtype, device="cpu", torch=torch_release(torch.__version__))
    frozen = frozen_paths(graph, freeze)
    return net, graph, precision, frozen, trace(graph, precision=precision, frozen=frozen)


def compare_frozen(arch: "str | Net", freeze: tuple[str, ...], *, batch: int = 2, input: Shape | None = None,
                   dtype: str = "fp32", optimizer: str = "sgd", accumulate: int = 1,
                   live: bool = False) -> FrozenComparison:
    """Saved bytes per layer of `arch` with the layers `freeze` matches frozen, predicted and
    measured; with `live`, also the step's peak (the model at `batch` on the CPU against
    `live_step`) and the gradient bytes after backward."""
    net, graph, precision, frozen, traced = _prepared(arch, input, dtype, freeze)
    predicted = traced.saved_by_module(batch)
    model = build(net, init=False)
    store = torch.float32 if precision.autocast else TORCH_DTYPES[dtype]
    model.to(dtype=store)
    freeze_modules(model, frozen)
    xs = example_inputs(graph, batch, store)
    x = xs if len(xs) > 1 else xs[0]
    half = TORCH_DTYPES[dtype] if precision.autocast else None
    measured = saved_tensors(model, x, half).by_path(SAVED_BASIS)
    paths = list(predicted) + [p for p in measured if p not in predicted]
    by_path = {p: (predicted.get(p, 0), measured.get(p, 0)) for p in paths}
    if not live:
        return FrozenComparison(net.name, frozen, by_path)
    step = step_memory(traced, Setup(optimizer, freeze=freeze, accumulate=accumulate))
    measured_step = live_step(model, x, optimizer, half, accumulate=accumulate)
    after = "after backward 1" if accumulate > 1 else "after backward"
    gradients = sum(s.trainable_params for s in traced.steps) * 4  # fp32 parameters
    return FrozenComparison(net.name, frozen, by_path, step.peak(batch).at(batch), measured_step.peak_bytes,
                            gradients, measured_step.marks[after] - measured_step.baseline_bytes)
