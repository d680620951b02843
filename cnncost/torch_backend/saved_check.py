"""Predicted saved-for-backward bytes against PyTorch's, per layer and in total. Imports torch:
only tests and benchmarks import this module.

Basis: every storage autograd saves, counted once and charged to the module that saved it first,
of kinds activation, input and parameter-cast (weight copies made by autocast), the basis of
`check`'s saved bytes too. A merge row `<block>.concat|add|mul` is compared with what the
block's own forward saved.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..api import load
from ..graph import compile
from ..memory.tensors import Precision, torch_release
from ..memory.trace import trace
from ..shapes import Shape
from .build import build
from .check import SAVED_BASIS, TORCH_DTYPES
from .example_inputs import example_inputs
from .measure import saved_tensors



@dataclass(frozen=True)
class SavedComparison:
    architecture: str
    batch: int
    dtype: str
    input: Shape
    predicted: int
    measured: int
    by_path: dict[str, tuple[int, int]]  # path -> (predicted, measured)

    @property
    def rel_error(self) -> float:
        """(measured - predicted) / measured."""
        return (self.measured - self.predicted) / self.measured

    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {p: v for p, v in self.by_path.items() if v[0] != v[1]}


def compare_saved(arch: str, *, batch: int = 2, input: Shape | None = None, dtype: str = "fp32") -> SavedComparison:
    """Trace and measure one architecture on CPU.

    >>> compare_saved("alexnet", batch=1).rel_error
    0.0
    """
    net = load(arch)
    if input is not None:
        net = net.with_input(input)
    precision = Precision(dtype, device="cpu", torch=torch_release(torch.__version__))
    traced = trace(net, precision=precision)
    predicted = traced.saved_by_module(batch)
    model = build(net, init=False)
    store = torch.float32 if precision.autocast else TORCH_DTYPES[dtype]
    model.to(dtype=store)
    xs = example_inputs(compile(net), batch, store)
    x = xs if len(xs) > 1 else xs[0]
    half = TORCH_DTYPES[dtype] if precision.autocast else None
    measured = saved_tensors(model, x, half).by_path(SAVED_BASIS)
    paths = list(predicted) + [p for p in measured if p not in predicted]
    by_path = {p: (predicted.get(p, 0), measured.get(p, 0)) for p in paths}
    return SavedComparison(net.name, batch, dtype, net.input, sum(predicted.values()), sum(measured.values()),
                           by_path)
