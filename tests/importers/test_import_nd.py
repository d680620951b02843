"""Importing torch models with 1-D and 3-D maps and token layouts (issue 18): each small module
below is imported by both tracers, and its params, MACs and saved bytes equal the real module's
(check_against measures them: parameter count, FlopCounterMode's MACs, autograd's saved tensors at
batch 2, CPU fp32)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402


def _exact(model: nn.Module, shape: tuple[int, ...], tracer: str) -> cnncost.Net:
    net = from_torch(model, shape, tracer=tracer)
    result = check_against(net, model)
    assert result.ok, result.summary()
    for q in ("params", "macs", "saved_bytes"):
        ours, theirs = result.totals[q]
        assert ours == theirs > 0, q
    return net


class Video(nn.Module):
    """A tiny video net: Conv3d, BatchNorm3d, MaxPool3d, trilinear and nearest upsampling, an
    adaptive 3-D pool; then a Conv1d / BatchNorm1d / AvgPool1d on the flattened map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
        self.bn = nn.BatchNorm3d(8)
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.up = nn.Upsample(scale_factor=2, mode="trilinear")
        self.gap = nn.AdaptiveAvgPool3d(1)
        self.conv1 = nn.Conv1d(8, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(4)
        self.avg1 = nn.AvgPool1d(2)

    def forward(self, x):
        y = self.pool(torch.relu(self.bn(self.conv(x))))
        z = self.up(y)
        u = F.interpolate(y, scale_factor=(1, 2, 2), mode="nearest")
        v = self.gap(z).flatten(1) + self.gap(u).flatten(1)
        w = self.avg1(self.bn1(self.conv1(y.flatten(2))))
        return v, w


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_a_video_net_with_3d_and_1d_maps_imports_exactly(tracer: str) -> None:
    net = _exact(Video(), (3, 4, 16, 16), tracer)
    types = [n.type for n in cnncost.compile(net).nodes]
    assert types.count("conv") == 2 and "upsample" in types and "adaptive_avgpool" in types
    # 8 x 3 x 3 x 5 x 5 + 8 (conv3d) + 16 (bn3d) + 4 x 8 x 3 + 4 (conv1d) + 8 (bn1d): the module's own count
    assert cnncost.table(net, batch=1).totals.params == 1932
