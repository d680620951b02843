"""Computations on parameters alone (constants.py) count their MACs with FlopCounterMode and their
gradients' MACs with backward passes once per kind of call in an import (`op_work`): Swin V2's
position-bias MLP, one per block, counted once per shape. The counts are the same as counting
every call, and exact against PyTorch."""
from __future__ import annotations

import pytest

import cnncost

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn

from import_figures import assert_imports_exactly, figures  # noqa: E402  (tests/support)


class BiasBlock(nn.Module):
    """x + an MLP of a coordinates buffer (Swin V2's continuous position bias, in small)."""

    def __init__(self, heads: int):
        super().__init__()
        self.register_buffer("coords", torch.randn(1, 4, 4, 2))
        self.mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, heads, bias=False))
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        bias = torch.sigmoid(self.mlp(self.coords)).flatten(1, 2).transpose(1, 2)  # (1, heads, 16)
        return self.proj(x) + bias.sum(1, keepdim=True).transpose(1, 2)


class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(BiasBlock(2), BiasBlock(2), BiasBlock(4), BiasBlock(2))

    def forward(self, x):
        return self.blocks(x)


def test_repeated_computations_are_counted_once_per_kind_and_exactly(monkeypatch) -> None:
    from cnncost.importers.torch import op_work
    model = Blocks()
    counted: list[str] = []
    real = op_work._counting_class()

    class Watching(real):  # type: ignore[misc, valid-type]
        def __enter__(self):
            counted.append("flops")
            return super().__enter__()
    monkeypatch.setattr(op_work, "_counting_class", lambda: Watching)
    net = assert_imports_exactly(model, (16, 8), "auto", batches=(1, 2))
    counted.clear()
    cnncost.from_torch(model, (16, 8))
    once = len(counted)
    monkeypatch.setattr(op_work, "_key", lambda *args: None)  # every call counted
    counted.clear()
    every = cnncost.from_torch(model, (16, 8))
    assert once < len(counted)  # the blocks of equal shapes were counted once
    assert figures(net) == figures(every)
