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

from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import figures, measured_run  # noqa: E402  (tests/support)

BATCH = 2


def _measured(model: nn.Module, shapes: list[tuple[int, ...]]) -> tuple[int, int, int]:
    """(params, MACs per sample, saved bytes at batch 2) of the real module, train mode."""
    torch.manual_seed(0)
    return measured_run(model, *(torch.randn(BATCH, *s) for s in shapes))


def _ours(model: nn.Module, shapes: list[tuple[int, ...]], tracer: str) -> tuple[int, int, int]:
    return figures(from_torch(model, input=shapes, train=True, tracer=tracer))


def assert_exact(model: nn.Module, shapes: list[tuple[int, ...]], tracers: tuple[str, ...] = ("fx", "export")) -> None:
    """The tracers' imports give PyTorch's figures (RAFT imports through torch.export: torch.fx
    cannot trace torch.tensor(c) of a traced size, nor its checks of shapes)."""
    expected = _measured(model, shapes)
    for tracer in tracers:
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


def coords_grid(batch: int, h: int, w: int) -> torch.Tensor:
    """torchvision's make_coords_grid: (x, y) of every position, made once and repeated over the batch."""
    coords = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack(coords[::-1], dim=0).float()[None].repeat(batch, 1, 1, 1)


class Lookup(nn.Module):
    """RAFT's correlation lookup, one pyramid level: the all-pairs correlation of two feature maps
    (a per-sample bmm) viewed with the batch merged into its rows, (N*h*w, 1, h, w); a coordinate
    grid made from torch.arange, repeated over the batch; the 3x3 neighbourhood of each centroid
    read with grid_sample; the flow updated `updates` times from a conv of what was read, the
    coordinates detached each time."""

    def __init__(self, updates: int = 2, mode: str = "bilinear") -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 8, 3, padding=1)
        self.update = nn.Conv2d(9 + 2, 2, 3, padding=1)
        self.updates, self.mode = updates, mode

    def forward(self, image1, image2):
        f1, f2 = self.features(image1), self.features(image2)
        n, c, h, w = f1.shape
        corr = torch.matmul(f1.view(n, c, h * w).transpose(1, 2), f2.view(n, c, h * w))
        corr = (corr / torch.sqrt(torch.tensor(c))).reshape(n * h * w, 1, h, w)
        d = torch.linspace(-1, 1, 3)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 3, 3, 2)
        coords0 = coords_grid(n, h, w)
        coords1 = coords_grid(n, h, w)
        flows = []
        for _ in range(self.updates):
            coords1 = coords1.detach()
            centroids = coords1.permute(0, 2, 3, 1).reshape(n * h * w, 1, 1, 2) + delta
            x, y = centroids.split([1, 1], dim=-1)
            grid = torch.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1)
            looked = F.grid_sample(corr, grid, mode=self.mode, align_corners=True).view(n, h, w, -1)
            flow = coords1 - coords0
            delta_flow = self.update(torch.cat([looked.permute(0, 3, 1, 2), flow], dim=1))
            coords1 = coords1 + delta_flow
            flows.append(coords1 - coords0)
        return flows


@pytest.mark.parametrize("updates,mode", [(1, "bilinear"), (3, "bilinear"), (2, "nearest")])
def test_correlation_lookup_with_grid_sample(updates, mode):
    assert_exact(Lookup(updates, mode), [(3, 6, 5), (3, 6, 5)], tracers=("export",))


class ScaledMask(nn.Module):
    """RAFT's mask predictor then upsample_flow: 0.25 * conv(x), viewed (a product, then the view),
    softmax over the 9 taps of a 3x3 unfold of the flow, summed and reshaped to the finer grid."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = nn.Conv2d(4, 2 * 2 * 9, 1)
        self.flow = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        n, _, h, w = x.shape
        mask = torch.softmax((0.25 * self.mask(x)).view(n, 1, 9, 2, 2, h, w), dim=2)
        flow = F.unfold(2 * self.flow(x), kernel_size=3, padding=1).view(n, 2, 9, 1, 1, h, w)
        up = torch.sum(mask * flow, dim=2)
        return up.permute(0, 1, 4, 2, 5, 3).reshape(n, 2, 2 * h, 2 * w)


def test_upsampling_with_a_learned_mask():
    assert_exact(ScaledMask(), [(4, 5, 6)])


class NormBoth(nn.Module):
    """RAFT's feature encoder norm: InstanceNorm2d on both images as one batch of 2N."""

    def __init__(self, affine: bool, track: bool) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(3, affine=affine, track_running_stats=track)

    def forward(self, a, b):
        x, y = torch.chunk(torch.relu(self.norm(torch.cat([a, b], dim=0))), 2, dim=0)
        return x * y


@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (True, True)])
def test_instance_norm_on_both_images(affine, track):
    assert_exact(NormBoth(affine, track), [(3, 6, 5), (3, 6, 5)])


class RepeatedConstant(nn.Module):
    """A constant repeated to 2 rows (the traced batch's size) that lines up with a per-sample dim,
    not the batch: one tensor for every sample, not a grid made per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x):
        c = torch.arange(4.0).view(1, 4).repeat(2, 1)  # (2, 4): x's (N, 2, 4) broadcasts it over N
        return self.proj(x) + c


def test_a_constant_repeated_to_the_batch_size_along_another_dim():
    assert_exact(RepeatedConstant(), [(2, 4)], tracers=("export",))
