"""Issue 21, item 2: an error raised by a module's own forward is reported at once, without the
slow second tracer (torch.export runs the same forward again and cannot succeed)."""
from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers import torch_trace  # noqa: E402


class RaisesAtTop(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        self.bn(self.conv(x))
        raise RuntimeError("the model's own error")


class Inner(nn.Module):
    def forward(self, x):
        raise ValueError("inner module's error")


class RaisesInside(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), Inner())

    def forward(self, x):
        return self.body(x)


@pytest.mark.parametrize("model,message", [
    (RaisesAtTop, "RaisesAtTop's forward raises on a 3x16x16 input: RuntimeError: the model's own error"),
    (RaisesInside, "RaisesInside's forward raises on a 3x16x16 input: ValueError: inner module's error"),
])
def test_the_forwards_own_error_is_final_without_torch_export(monkeypatch, model, message):
    def no_export(*args, **kwargs):
        raise AssertionError("torch.export was tried for a forward that raises by itself")
    monkeypatch.setattr(torch_trace, "from_exported", no_export)
    module = model()
    before = [b.clone() for b in module.buffers()]
    start = time.perf_counter()
    with pytest.raises(CnnCostError) as info:
        torch_trace.from_torch(module, (3, 16, 16))
    assert str(info.value) == message
    assert time.perf_counter() - start < 10
    assert all(torch.equal(a, b) for a, b in zip(before, module.buffers()))  # running stats untouched
