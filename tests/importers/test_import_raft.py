"""Importing the constructs of torchvision's RAFT (optical flow, two images) without torchvision:
the two images through one encoder as a batch of 2N (torch.cat along dim 0, then chunk back), the
correlation volume viewed with the batch merged into its rows, and grid_sample lookups. Each tiny
module is compared with PyTorch itself: parameters, MACs (FlopCounterMode, FLOPs / 2) and the
bytes autograd saves (cnncost.torch_backend.measure.saved_tensors) at batch 2, CPU fp32."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.torch_backend.measure import saved_tensors  # noqa: E402

BATCH = 2


def _measured(model: nn.Module, shapes: list[tuple[int, ...]]) -> tuple[int, int, int]:
    """(params, MACs per sample, saved bytes at batch 2) of the real module, train mode."""
    torch.manual_seed(0)
    xs = tuple(torch.randn(BATCH, *s) for s in shapes)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model(*xs)
    saved = saved_tensors(model, xs if len(xs) > 1 else xs[0]).total()
    return params, counter.get_total_flops() // 2 // BATCH, saved


def _ours(model: nn.Module, shapes: list[tuple[int, ...]], tracer: str) -> tuple[int, int, int]:
    net = from_torch(model, input=shapes, train=True, tracer=tracer)
    report = cnncost.table(net, batch=BATCH, dtype="fp32", memory="autograd", device="cpu")
    return report.totals.params, report.totals.macs // BATCH, report.totals.saved_bytes


def assert_exact(model: nn.Module, shapes: list[tuple[int, ...]]) -> None:
    """Both tracers' imports give PyTorch's figures (RAFT imports through torch.export)."""
    expected = _measured(model, shapes)
    for tracer in ("fx", "export"):
        assert _ours(model, shapes, tracer) == expected, tracer


class SharedEncoder(nn.Module):
    """RAFT's feature encoder call: both inputs as one batch of 2N, the halves taken back with
    torch.chunk (or torch.split), then correlated."""

    def __init__(self, split: bool = False) -> None:
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8))
        self.split = split

    def forward(self, a, b):
        both = self.encode(torch.cat([a, b], dim=0))
        f1, f2 = torch.split(both, [a.shape[0], b.shape[0]], dim=0) if self.split else torch.chunk(both, 2, dim=0)
        return torch.matmul(f1, f2.transpose(1, 2)) + f1.sum(-1, keepdim=True)


@pytest.mark.parametrize("split", [False, True])
def test_cat_along_the_batch_runs_once_on_both_and_comes_apart(split):
    assert_exact(SharedEncoder(split), [(5, 6), (5, 6)])


def test_cat_of_three_along_the_batch_and_one_piece_unused():
    class Three(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(6, 4)

        def forward(self, a, b):
            x, y, _ = torch.chunk(self.proj(torch.cat([a, b, a], dim=0)).relu(), 3, dim=0)
            return x * y
    assert_exact(Three(), [(5, 6), (5, 6)])
