"""Recording a trace's shapes (`importers/torch/tracing.record`): on meta tensors with the shape
rules, else fake tensors, else real ones; every way gives every node the same shape, so the import
does not depend on which one ran."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

from cnncost.importers.torch import meta_shapes, tracing  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402

ONNX_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "onnx"


def _models():
    spec = importlib.util.spec_from_file_location("make_onnx_models", ONNX_DIR / "make_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


MODELS = _models()


class Mixed(nn.Module):
    """Every module rule and most function rules, with a tied weight and a functional conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.acts = nn.Sequential(nn.ReLU(inplace=True), nn.ReLU6(), nn.Hardswish(), nn.SiLU(), nn.GELU(),
                                  nn.Hardsigmoid(), nn.Mish(), nn.Sigmoid(), nn.Tanh(), nn.Hardtanh(-2.0, 2.0))
        self.drop = nn.Dropout(0.1)
        self.pool = nn.AdaptiveAvgPool2d((2, None))
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 4)
        self.idle = nn.Identity()
        self.mix = nn.Parameter(torch.randn(8, 16, 1, 1))

    def forward(self, x):
        y = self.acts(self.bn(self.conv(x)))
        y = F.conv2d(torch.cat([y, y * 0.5], 1), self.mix)
        y = self.drop(y) * torch.sigmoid(y).mean((2, 3), keepdim=True) + 1.0
        y = self.pool(self.idle(y)).permute(0, 2, 3, 1)
        return self.fc(F.gelu(self.norm(y)))


def _shape(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_shape(v) for v in value) if type(value) in (list, tuple) else tuple(map(_shape, value))
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return value


def _shapes(results: dict) -> dict:
    return {n.name: _shape(v) for n, v in results.items()}


def _record(model: nn.Module, shape: tuple, ways: tuple) -> dict:
    trace, _ = tracing.trace_module(model.train())
    results: dict = {}
    for way in ways:
        try:
            way(trace, shape, results)
            return _shapes(results)
        except Exception:  # noqa: BLE001 - as record: the next way
            results.clear()
    raise AssertionError("no way ran")


@pytest.mark.parametrize("name", sorted(MODELS.MODELS))
def test_meta_fake_and_real_recordings_agree(name: str) -> None:
    model, shape = MODELS.build(name)
    meta = _record(model, shape, (tracing._on_meta,))
    assert meta == _record(model, shape, (tracing._on_fake,)) == _record(model, shape, (tracing._on_real,))


def test_mixed_model_recordings_agree_and_rules_answer() -> None:
    model = Mixed()
    calls = []
    real_module_result = meta_shapes.module_result

    def counted(m, args, kwargs):
        value = real_module_result(m, args, kwargs)
        calls.append((type(m).__name__, value is not None))
        return value

    meta_shapes.module_result = counted
    try:
        meta = _record(model, (3, 8, 8), (tracing._on_meta,))
    finally:
        meta_shapes.module_result = real_module_result
    assert meta == _record(model, (3, 8, 8), (tracing._on_fake,)) == _record(model, (3, 8, 8), (tracing._on_real,))
    assert [name for name, answered in calls if not answered] == []  # every leaf module by its rule
    assert len(calls) == 17


def test_the_real_fallback_keeps_the_trace_nodes() -> None:
    """The real-tensor way (a copy of the module) records the values of the trace's own nodes."""
    model, shape = MODELS.build("plain_cnn")
    trace, _ = tracing.trace_module(model.train())
    results: dict = {}
    tracing._on_real(trace, shape, results)
    assert set(results) == set(trace.graph.nodes)


def test_import_is_the_same_whichever_way_recorded(monkeypatch) -> None:
    model, shape = MODELS.build("plain_cnn")
    fast = from_torch(model, shape)

    def refuse(*args):
        raise RuntimeError("not this way")

    monkeypatch.setattr(tracing, "_on_meta", refuse)
    assert from_torch(model, shape) == fast  # fake tensors
    monkeypatch.setattr(tracing, "_on_fake", refuse)
    assert from_torch(model, shape) == fast  # real tensors


def test_module_rules_give_what_the_module_gives_on_meta() -> None:
    """Each module rule against the module itself, run on meta tensors."""
    cases = [
        (nn.Conv2d(8, 4, 3, stride=2, padding=1), (2, 8, 9, 9)),
        (nn.Conv2d(8, 8, 5, padding="same", groups=8, bias=False), (2, 8, 9, 9)),
        (nn.Conv2d(8, 4, 3, padding_mode="reflect", padding=1), (2, 8, 9, 9)),  # left to the module
        (nn.BatchNorm2d(8), (2, 8, 5, 5)),
        (nn.BatchNorm1d(8, affine=False, track_running_stats=False), (2, 8)),
        (nn.BatchNorm2d(8).eval(), (2, 8, 5, 5)),
        (nn.Linear(8, 3), (2, 5, 8)),
        (nn.LayerNorm((5, 8)), (2, 5, 8)),
        (nn.ReLU(inplace=True), (2, 8, 5, 5)),
        (nn.ReLU6(inplace=True), (2, 8, 5, 5)),
        (nn.GELU(approximate="tanh"), (2, 8)),
        (nn.Dropout(0.3, inplace=True), (2, 8)),
        (nn.AdaptiveAvgPool2d(1), (2, 8, 5, 5)),
        (nn.Identity(), (2, 8)),
    ]
    for module, shape in cases:
        module = module.to("meta")
        x = torch.empty(*shape, device="meta")
        got = meta_shapes.module_result(module, (x,), {})
        expected = module(x)
        if got is not None:
            assert (tuple(got.shape), got.stride(), got.dtype) == (tuple(expected.shape), expected.stride(),
                                                                   expected.dtype), module
            assert (got is x) == (expected is x), module
    bn = nn.BatchNorm2d(8).to("meta")
    with pytest.raises(ValueError):  # a 2-D input: the module's own error
        meta_shapes.module_result(bn, (torch.empty(2, 8, device="meta"),), {})


def test_hooks_and_subclasses_are_left_to_the_module() -> None:
    relu = nn.ReLU().to("meta")
    relu.register_forward_hook(lambda m, args, out: out * 2)
    x = torch.empty(2, 8, device="meta")
    assert meta_shapes.module_result(relu, (x,), {}) is None

    class Wider(nn.ReLU):
        def forward(self, x):
            return torch.cat([x, x], 1)

    assert meta_shapes.module_result(Wider().to("meta"), (x,), {}) is None


@pytest.mark.parametrize("way", ["meta", "fake"])
def test_recording_leaves_the_buffers_as_they_were(monkeypatch, way):
    """A train-mode recording moves no running statistic: the meta run reads meta twins of the
    buffers; where fake tensors run it, the buffers are copied first and put back."""
    if way == "fake":
        def no_meta(*args):
            raise RuntimeError("meta tensors cannot run this")
        monkeypatch.setattr(tracing, "_on_meta", no_meta)
    model = Mixed().train()
    before = {name: b.clone() for name, b in model.named_buffers()}
    trace, _ = tracing.trace_module(model)
    tracing.record(trace, (3, 8, 8))
    assert all(torch.equal(before[name], b) for name, b in model.named_buffers())
