"""Differential test of importing `repeat_interleave` (issue 18, GCViT's global query): random small
torch modules repeat a tensor along a random dim (the batch, a per-sample dim, negative dims, or a
dim of a tensor whose batch is folded with another dim, (N*k, ...)), of a contiguous tensor or a
permuted view, then a linear on the last dim and an element-wise op. Each is imported by a random
tracer and its params, MACs and saved bytes at batch 2 (CPU, fp32) equal PyTorch's measurement,
row by row (check_against).

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 12; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch", reason="the differential test builds every module in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "12"))


class Repeat(nn.Module):
    """x (N, *shape): optionally permuted (its last two dims swapped), optionally folded
    to (N*shape[0], *folded), repeated `repeats` times along torch dim `dim`, then a linear."""

    def __init__(self, features: int, repeats: int, dim: int, permuted: bool, folded: tuple[int, ...] | None) -> None:
        super().__init__()
        self.repeats, self.dim, self.permuted, self.folded = repeats, dim, permuted, folded
        self.fc = nn.Linear(features, 3)

    def forward(self, x):
        if self.permuted:
            x = x.transpose(-1, -2)
        if self.folded:
            x = x.reshape(-1, *self.folded)
        return torch.relu(self.fc(x.repeat_interleave(self.repeats, dim=self.dim)))


@st.composite
def cases(draw) -> tuple[Repeat, tuple[int, ...], str]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
    permuted = draw(st.booleans())
    folded = draw(st.booleans()) and len(shape) == 3
    rank = len(shape) + (not folded)  # the torch tensor's rank
    dim = draw(st.integers(-rank, rank - 1))
    tracer = draw(st.sampled_from(["fx", "export"]))
    repeats = draw(st.sampled_from([1, 3] if tracer == "export" else [1, 2, 3]))  # export: 2 is the batch's size
    seen = (*shape[:-2], shape[-1], shape[-2]) if permuted else shape
    features = seen[-1] * (repeats if dim % rank == rank - 1 else 1)
    return Repeat(features, repeats, dim, permuted, seen[1:] if folded else None), shape, tracer


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(cases())
def test_repeat_interleave_imports_exactly(case: tuple[Repeat, tuple[int, ...], str]) -> None:
    model, shape, tracer = case
    result = check_against(from_torch(model, shape, tracer=tracer), model)
    assert result.ok, result.summary()
    for q in ("params", "macs", "saved_bytes"):
        ours, theirs = result.totals[q]
        assert ours == theirs, q
