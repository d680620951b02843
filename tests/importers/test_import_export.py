"""`from_torch` through torch.export where torch.fx cannot trace: plain-PyTorch modules with Python
control flow on shapes import with the params, MACs and saved bytes of the real module (measured with
hooks and autograd's saved tensors, as tests/importers/test_import.py does), rows at the module paths, as the
fx import names them; a module called twice counted once; unknown ATen ops a one-line error or an
opaque node; and modules fx can trace still go through fx."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.spec import dump_spec, parse_spec

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

TESTS = Path(__file__).resolve().parents[1]


def _models():
    spec = importlib.util.spec_from_file_location("make_onnx_models_export", TESTS / "fixtures" / "onnx" / "make_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


MODELS = _models()


from import_figures import figures, measured  # noqa: E402  (tests/support)


def rows(net) -> list[tuple]:
    graph = cnncost.compile(net)
    return [(n.path, n.type, n.output_shape, n.params, n.macs, tuple(graph.nodes[i].path for i in n.inputs))
            for n in graph.nodes]


class Branchy(nn.Module):
    """A stem, a residual block whose conv is called twice, chunk + cat, a head; `if x.shape...`
    (fx: TraceError) unless `branch=False`."""

    def __init__(self, branch: bool = True):
        super().__init__()
        self.branch = branch
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.pool = nn.MaxPool2d(2)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.stem(x)
        if not self.branch or x.shape[-1] > 8:
            x = self.pool(x)
        y = self.conv(self.act(self.conv(x)))
        x = x + y
        a, b = x.chunk(2, dim=1)
        x = torch.cat([b, a], 1)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(x))


def test_shape_branch_imports_through_export_exactly() -> None:
    from cnncost.importers.torch_trace import from_torch
    model = Branchy()
    net = from_torch(model, (3, 16, 16))
    assert "traced with torch.export" in net.notes and "torch.fx cannot trace Branchy: TraceError" in net.notes
    assert figures(net) == measured(model, (3, 16, 16))
    paths = [r[0] for r in rows(net)]
    assert paths == ["input", "stem.0", "stem.1", "stem.2", "pool", "conv", "act", "conv@1", "add", "chunk",
                     "chunk_1", "concat", "avgpool", "flatten", "drop", "fc"]
    assert parse_spec(dump_spec(net)) == net


def test_export_rows_are_the_fx_rows() -> None:
    """The same module traced both ways: the same rows, types, shapes, params, MACs and edges."""
    from cnncost.importers.torch_trace import from_torch
    fx = from_torch(Branchy(branch=False), (3, 16, 16))
    exported = from_torch(Branchy(branch=True), (3, 16, 16))
    forced = from_torch(Branchy(branch=False), (3, 16, 16), tracer="export")
    assert "traced with torch.fx" in fx.notes and "torch.export" not in fx.notes
    assert "traced with torch.export" in forced.notes
    assert rows(exported) == rows(fx) == rows(forced)
    assert figures(exported) == figures(fx)


def test_fx_traceable_module_still_goes_through_fx() -> None:
    from cnncost.importers.torch.tracing import trace_module
    from cnncost.importers.torch_trace import from_torch
    model, shape = MODELS.build("plain_cnn")
    trace_module(model)  # fx traces it
    net = from_torch(model, shape)
    assert "traced with torch.fx" in net.notes and "torch.export" not in net.notes
    with pytest.raises(CnnCostError, match=r"torch\.fx cannot trace Branchy: TraceError"):
        from_torch(Branchy(), (3, 16, 16), tracer="fx")


def test_module_called_twice_is_shared_through_export() -> None:
    from cnncost.layers.imported import Shared
    from cnncost.importers.torch_trace import from_torch
    model = Branchy()
    graph = cnncost.compile(from_torch(model, (3, 16, 16)))
    by_path = {n.path: n for n in graph.nodes}
    assert by_path["conv"].params == 8 * 8 * 9 + 8 and by_path["conv@1"].params == 0
    assert isinstance(by_path["conv@1"].layer, Shared) and by_path["conv@1"].layer.of == "conv"
    assert by_path["conv@1"].macs == by_path["conv"].macs == 8 * 8 * 8 * 8 * 9
    assert sum(n.params for n in graph.nodes) == sum(p.numel() for p in model.parameters())


class Looped(nn.Module):
    """`range(int(x.size(1)))` (fx: TypeError on a Proxy): as many blocks as input channels."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=2), nn.BatchNorm2d(8),
                                                  nn.SiLU()) for _ in range(3))
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=2, dilation=2)
        self.head = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        n = int(x.size(1))
        x = self.stem(x)
        for i in range(n):
            x = self.blocks[i](x) + x
        return self.head(x.view(x.size(0), -1))


def test_loop_over_a_size_imports_through_export_exactly() -> None:
    from cnncost.importers.torch_trace import from_torch
    model = Looped()
    net = from_torch(model, (3, 8, 8))
    assert "torch.fx cannot trace Looped: TypeError" in net.notes
    assert figures(net) == measured(model, (3, 8, 8))
    from cnncost.importers.graphbuild import module_path
    paths = [module_path(r[0]) for r in rows(net)]  # blocks.1 reopens `blocks` after the add: blocks@1.1.0
    assert paths == ["input", "stem"] + [f"blocks.{i}.{j}" if j < 3 else "add" + (f"_{i}" if i else "")
                                         for i in range(3) for j in range(4)] + ["flatten", "head"]


class Zoo(nn.Module):
    """Many ops fx and export both know; `branch`: a shape-dependent `if`."""

    def __init__(self, branch: bool = True):
        super().__init__()
        self.branch = branch
        self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16, bias=False)
        self.up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.r6 = nn.ReLU6(inplace=True)
        self.hs, self.hsig, self.silu, self.gelu = nn.Hardswish(), nn.Hardsigmoid(), nn.SiLU(), nn.GELU()
        self.leaky, self.tanh = nn.LeakyReLU(0.2), nn.Tanh()
        self.avg = nn.AvgPool2d(2)
        self.ln = nn.LayerNorm([8, 8, 8])
        self.se = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = self.hs(self.conv(x))
        x = self.silu(self.dw(x))
        x = self.r6(self.gn(self.up(x)))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.avg(x)
        x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)
        if not self.branch or x.shape[-1] >= 16:
            x = F.max_pool2d(x, 2)
        x = self.ln(self.gelu(x))
        gate = torch.sigmoid(self.se(x.mean((2, 3), keepdim=True)))
        x = x * gate
        a, b = torch.split(x, 4, dim=1)
        x = torch.cat([self.leaky(a), self.tanh(b)], dim=1)
        x = torch.add(x, self.hsig(x), alpha=0.5)
        x = F.adaptive_avg_pool2d(x, 2).reshape(x.shape[0], -1)
        x = F.dropout(x, 0.1, training=self.training)
        return self.fc(x[:, :16])


def test_aten_vocabulary_gives_the_fx_import() -> None:
    from cnncost.importers.torch_trace import from_torch
    fx = from_torch(Zoo(branch=False), (3, 16, 16))
    exported = from_torch(Zoo(branch=True), (3, 16, 16))
    assert "traced with torch.fx" in fx.notes and "traced with torch.export" in exported.notes
    assert "opaque" not in exported.notes
    assert rows(exported) == rows(fx)
    model = Zoo()
    params, _, saved = measured(model, (3, 16, 16))
    assert (figures(exported)[0], figures(exported)[2]) == (params, saved)


class Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1))

    def forward(self, x):
        if x.shape[1] == 3:
            x = self.body(x)
        return torch.erf(x)


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Odd()
        self.tail = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        if x.shape[-1] > 2:
            x = self.block(x)
        return self.tail(x)


def test_unknown_aten_op_is_one_line_naming_op_and_module_path() -> None:
    from cnncost.importers.torch_trace import from_torch
    with pytest.raises(CnnCostError, match=r"unsupported operation aten\.erf\.default at module 'block'") as info:
        from_torch(Outer(), (3, 8, 8))
    assert "\n" not in str(info.value) and "allow-unknown" in str(info.value)


def test_unknown_aten_op_with_allow_unknown_is_an_opaque_node() -> None:
    from cnncost.layers.imported import Opaque
    from cnncost.importers.torch_trace import from_torch
    model = Outer()
    net = from_torch(model, (3, 8, 8), allow_unknown=True)
    graph = cnncost.compile(net)
    opaque = next(n for n in graph.nodes if isinstance(n.layer, Opaque))
    assert opaque.path == "block.erf" and opaque.output_shape == (4, 6, 6) and opaque.layer.op == "aten.erf.default"
    assert "1 opaque node" in net.notes and "traced with torch.export" in net.notes
    assert [n.path for n in graph.nodes] == ["input", "block.body.0", "block.body.1", "block.erf", "tail"]
    assert graph.nodes[-1].output_shape == (2, 6, 6)
    assert sum(n.params for n in graph.nodes) == sum(p.numel() for p in model.parameters())
    assert parse_spec(dump_spec(net)) == net


def test_value_dependent_branch_is_a_clear_error_naming_both_tracers() -> None:
    from cnncost.importers.torch_trace import from_torch

    class ByValue(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else x
    with pytest.raises(CnnCostError, match=r"torch\.fx cannot trace ByValue: TraceError.*; torch\.export cannot "
                                           r"trace ByValue either") as info:
        from_torch(ByValue(), (3, 8, 8))
    assert "\n" not in str(info.value)


def test_submodule_fx_cannot_trace_into_goes_through_export() -> None:
    """fx keeps an untraceable submodule as a leaf that maps to nothing: export traces through it."""
    from cnncost.importers.torch_trace import from_torch

    class Flexible(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.conv(x) if x.shape[-1] > 4 else x
    model = nn.Sequential(nn.Conv2d(3, 4, 1), Flexible(), nn.ReLU())
    net = from_torch(model, (3, 8, 8))
    assert "traced with torch.export" in net.notes and "torch.fx cannot trace into '1'" in net.notes
    assert [r[:2] for r in rows(net)] == [("input", "input"), ("0", "conv"), ("1", "conv"), ("2", "relu")]
    assert figures(net) == measured(model, (3, 8, 8))
    with pytest.raises(CnnCostError, match=r"unsupported operation .*Flexible at module '1'"):
        from_torch(model, (3, 8, 8), tracer="fx")


def test_export_leaves_the_module_untouched_and_its_mode_restored() -> None:
    from cnncost.importers.torch_trace import from_torch
    model = Branchy()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    from_torch(model, (3, 16, 16), train=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training
    evaluated = [r[1] for r in rows(from_torch(model, (3, 16, 16), train=False))]
    assert "dropout" not in evaluated and "batchnorm" in evaluated
    assert "dropout" in [r[1] for r in rows(from_torch(model, (3, 16, 16)))]
