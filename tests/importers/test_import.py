"""Bring your own model: PyTorch modules and ONNX files imported as cnncost graphs, and `check
--against` the real network.

Everywhere (torch only): the plain-PyTorch models of tests/fixtures/onnx/make_onnx.py import
exactly (params, conv/linear MACs and the bytes autograd saves at batch 2 on CPU equal the real
module's), and so do their committed ONNX exports, read with the onnx package alone. Where
torchvision (and timm) are installed: every model of tests/fixtures/torchvision_reference.json
imports exactly from the module and from its ONNX export, and `check --against` passes for the zoo's
twins and fails on a twin with one channel changed.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import re
import warnings
from pathlib import Path

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.spec import dump_spec, parse_spec

TESTS = Path(__file__).resolve().parents[1]
ONNX_DIR = TESTS / "fixtures" / "onnx"
EXPECTED = json.loads((ONNX_DIR / "expected.json").read_text())["models"]
REFERENCE = json.loads((TESTS / "fixtures" / "torchvision_reference.json").read_text())["models"]


def figures(net) -> tuple[int, int, int]:
    """(params, MACs per image, saved bytes at batch 2 on CPU): the fixture's three figures."""
    totals = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    return totals.params, totals.macs // 2, totals.saved_bytes


def expected(name: str) -> tuple[int, int, int]:
    e = EXPECTED[name]
    return e["params"], e["macs"], e["saved_b2"]


# ----------------------------------------------------------------------------- ONNX, no torch needed

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_onnx_fixture_imports_exactly(name: str) -> None:
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    net = from_onnx(ONNX_DIR / f"{name}.onnx")
    assert list(net.input) == EXPECTED[name]["input"]
    assert figures(net) == expected(name), name


def test_onnx_batchnorm_keeps_scale_and_bias_as_params_and_statistics_as_buffers() -> None:
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    graph = cnncost.compile(from_onnx(ONNX_DIR / "plain_cnn.onnx"))
    bn = next(n for n in graph.nodes if n.path == "stem.1")
    assert (bn.type, bn.params) == ("batchnorm", 2 * 16)  # not 4 x 16: mean and var are buffers


def test_onnx_paths_are_module_paths() -> None:
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    paths = [n.path for n in cnncost.compile(from_onnx(ONNX_DIR / "plain_cnn.onnx")).nodes]
    assert paths[:6] == ["input", "stem.0", "stem.1", "stem.2", "pool", "conv1"]
    assert "down.0" in paths and "head.3" in paths


def _tiny_onnx(tmp_path: Path, op: str = "Erf") -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), dtype=np.float32), "conv.weight")
    nodes = [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"], ["y"], name="/act/" + op)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_onnx_unknown_operator_is_one_line_naming_it(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    with pytest.raises(CnnCostError, match=r"unsupported ONNX operator Erf at 'act'") as info:
        from_onnx(_tiny_onnx(tmp_path))
    assert "\n" not in str(info.value) and "allow-unknown" in str(info.value)


def test_onnx_unknown_operator_as_opaque_node(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from cnncost.layers.imported import Opaque
    from cnncost.importers.onnx_graph import from_onnx
    net = from_onnx(_tiny_onnx(tmp_path), allow_unknown=True)
    node = cnncost.compile(net).nodes[-1]
    assert isinstance(node.layer, Opaque) and node.output_shape == (4, 8, 8) and node.path == "act"
    assert "UNKNOWN" in node.attrs and "opaque" in net.notes
    assert parse_spec(dump_spec(net)) == net


def test_onnx_import_needs_no_torch() -> None:
    """The ONNX importer and the package's import never load torch."""
    pytest.importorskip("onnx")
    import subprocess
    import sys
    code = ("import sys, cnncost, cnncost.importers; from cnncost.importers.onnx_graph import from_onnx; "
            f"net = from_onnx({str(ONNX_DIR / 'inplace_net.onnx')!r}); cnncost.table(net); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_missing_onnx_file_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from cnncost.resolve import resolve
    with pytest.raises(CnnCostError, match="no such ONNX file"):
        resolve(str(tmp_path / "nope.onnx"))


def test_builtin_specs_pass_through_the_resolver() -> None:
    from cnncost.resolve import resolve
    assert resolve("resnet18") == cnncost.load("resnet18")


# ----------------------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional


def _models():
    spec = importlib.util.spec_from_file_location("make_onnx_models", ONNX_DIR / "make_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


MODELS = _models()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plain_torch_models_import_exactly(name: str) -> None:
    """Shared modules, functional ops, in-place ops, chunk and split, nested containers."""
    from cnncost.importers.torch_trace import from_torch
    model, shape = MODELS.build(name)
    net = from_torch(model, shape)
    assert figures(net) == expected(name), name
    assert figures(net) == tuple(MODELS.measure(model, shape)[k] for k in ("params", "macs", "saved_b2"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_import_yaml_table_round_trip(name: str) -> None:
    from cnncost.importers.torch_trace import from_torch
    model, shape = MODELS.build(name)
    net = from_torch(model, shape)
    back = parse_spec(dump_spec(net))
    assert back == net
    assert figures(back) == figures(net)
    assert [(r.name, r.output_shape, r.params, r.macs) for r in cnncost.table(back, batch=1).rows] == \
        [(r.name, r.output_shape, r.params, r.macs) for r in cnncost.table(net, batch=1).rows]


def test_shared_module_counts_params_once_and_macs_per_call() -> None:
    from cnncost.layers.imported import Shared
    from cnncost.importers.torch_trace import from_torch
    conv = nn.Conv2d(4, 4, 3, padding=1)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), conv, nn.ReLU(), conv)
    graph = cnncost.compile(from_torch(model, (3, 8, 8)))
    rows = {n.path: n for n in graph.nodes}
    assert rows["1"].params == 4 * 4 * 9 + 4 and rows["1@1"].params == 0
    assert isinstance(rows["1@1"].layer, Shared) and rows["1@1"].layer.of == "1"
    assert rows["1@1"].macs == rows["1"].macs == 4 * 8 * 8 * 4 * 9
    assert sum(n.params for n in graph.nodes) == sum(p.numel() for p in model.parameters())


def test_paths_are_module_paths_and_edges_are_the_dag() -> None:
    from cnncost.importers.torch_trace import from_torch
    model, shape = MODELS.build("plain_cnn")
    graph = cnncost.compile(from_torch(model, shape))
    paths = [n.path for n in graph.nodes]
    assert paths[:6] == ["input", "stem.0", "stem.1", "stem.2", "pool", "conv1"]
    add = next(n for n in graph.nodes if n.type == "add")
    assert add.path == "add" and [graph.nodes[i].path for i in add.inputs] == ["bn2", "down.1"]
    assert [graph.nodes[i].path for i in graph.outputs] == ["head.3"]


def test_single_op_module_takes_the_module_path() -> None:
    """A module computing one functional op (torchvision's LayerNorm2d) is one row at its path."""
    from cnncost.importers.torch_trace import from_torch

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                                self.eps).permute(0, 3, 1, 2)
    model = nn.Sequential(nn.Conv2d(3, 8, 4, 4), LayerNorm2d(8, eps=1e-6))
    graph = cnncost.compile(from_torch(model, (3, 16, 16)))
    assert [(n.path, n.type, n.params) for n in graph.nodes[1:]] == [("0", "conv", 392), ("1", "layer_norm", 16)]
    assert graph.nodes[2].layer.over == "channels"


def test_unknown_op_is_one_line_naming_op_and_module_path() -> None:
    from cnncost.importers.torch_trace import from_torch

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 1))

        def forward(self, x):
            return torch.erf(self.body(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Odd()

        def forward(self, x):
            return self.block(x)
    with pytest.raises(CnnCostError, match=r"unsupported operation torch\.erf at module 'block'") as info:
        from_torch(Net(), (3, 8, 8))
    assert "\n" not in str(info.value)


def test_unknown_module_with_allow_unknown_is_an_opaque_node() -> None:
    from cnncost.layers.imported import Opaque
    from cnncost.importers.torch_trace import from_torch
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Dropout2d(0.1), nn.Conv2d(4, 2, 1))
    with pytest.raises(CnnCostError, match=r"unsupported operation torch\.nn\.modules\.dropout\.Dropout2d at module '1'"):
        from_torch(model, (3, 8, 8))
    net = from_torch(model, (3, 8, 8), allow_unknown=True)
    graph = cnncost.compile(net)
    opaque = graph.nodes[2]
    assert isinstance(opaque.layer, Opaque) and opaque.path == "1" and opaque.output_shape == (4, 6, 6)
    assert opaque.layer.counts_unknown == ("macs", "flops", "saved_bytes") and "UNKNOWN" in opaque.attrs
    assert "1 opaque node" in net.notes
    assert graph.nodes[3].output_shape == (2, 6, 6)
    assert parse_spec(dump_spec(net)) == net


def test_opaque_params_are_the_modules_own() -> None:
    from cnncost.importers.torch_trace import from_torch
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.PReLU(4))
    net = from_torch(model, (3, 5, 5), allow_unknown=True)
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in model.parameters())


def test_eval_mode_drops_dropout_and_train_mode_keeps_it() -> None:
    from cnncost.importers.torch_trace import from_torch
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 6 * 6, 2))
    train = [n.type for n in cnncost.compile(from_torch(model, (3, 8, 8))).nodes]
    evaluated = [n.type for n in cnncost.compile(from_torch(model, (3, 8, 8), train=False)).nodes]
    assert "dropout" in train and "dropout" not in evaluated
    assert model.training  # the module's own mode is restored


def test_tracing_leaves_the_module_untouched() -> None:
    from cnncost.importers.torch_trace import from_torch
    model, shape = MODELS.build("plain_cnn")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    from_torch(model, shape)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_every_spelling_in_the_torch_vocabulary_names_something_torch_has() -> None:
    # a misspelt row would never match a traced op and import it as unknown, silently
    from cnncost.importers.torch import tables
    assert [n for n in tables.FUNCTION_NAMES if tables.torch_function(n) is None] == []
    assert [m for m in tables.METHODS if not hasattr(torch.Tensor, m)] == []
    assert [op for op in tables.ATEN if not hasattr(torch.ops.aten, op)] == []


def test_shadowed_reference_gets_an_alias() -> None:
    """A block holding a node of the same relative path as an outer one (timm's blocks.0.0.bn1.act
    hides bn1.act) still reads the outer one."""
    from cnncost.importers.torch_trace import from_torch

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn1 = nn.Sequential(nn.Conv2d(4, 4, 1))

        def forward(self, x):
            return self.bn1(x) + x

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn1 = nn.Sequential(nn.Conv2d(3, 4, 1))
            self.blocks = nn.Sequential(Inner())

        def forward(self, x):
            return self.blocks(self.bn1(x))
    model = Outer()
    net = from_torch(model, (3, 4, 4))
    graph = cnncost.compile(net)
    add = next(n for n in graph.nodes if n.type == "add")
    assert sorted(graph.nodes[i].path for i in add.inputs) == ["blocks.0.bn1.0", "bn1.0_ref"]
    assert figures(net)[2] == MODELS.measure(model, (3, 4, 4))["saved_b2"]


def test_package_module_callable_source() -> None:
    from cnncost.resolve import resolve
    net = resolve("torch.nn:Identity", import_input=(3, 8, 8), allow_unknown=True)
    assert net.input == (3, 8, 8)
    with pytest.raises(CnnCostError, match="has no 'Nope'"):
        resolve("torch.nn:Nope")


def _cli(*argv: str) -> str:
    from cnncost.cli.importing import add_parser
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    out = args.run(args)
    return out if isinstance(out, str) else out[0]


def test_cli_import_writes_yaml_that_loads_back_to_the_same_numbers(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    out = tmp_path / "net.yaml"
    message = _cli("import", str(ONNX_DIR / "functional_net.onnx"), "-o", str(out))
    assert message.startswith(f"wrote {out}")
    assert figures(cnncost.load(str(out))) == expected("functional_net")
    printed = _cli("import", str(ONNX_DIR / "functional_net.onnx"))
    assert parse_spec(printed) == cnncost.load(str(out))


def test_check_against_passes_for_its_own_import_and_names_a_changed_layer() -> None:
    from cnncost.importers.torch_trace import from_torch
    from cnncost.torch_backend.against import check_against
    model, shape = MODELS.build("plain_cnn")
    net = from_torch(model, shape)
    result = check_against(net, model)
    assert result.ok, result.summary()
    wrong = parse_spec(dump_spec(net).replace("{name: conv1, type: conv, out: 32,", "{name: conv1, type: conv, out: 33,"))
    result = check_against(wrong, model)
    assert not result.ok
    assert result.first.spec_path == "conv1" and result.first.quantity == "shape"
    assert "layer 'conv1': shape 33x8x8 in the spec, 32x8x8 in the reference" in result.summary()


# ----------------------------------------------------------------------------- random specs round trip

def test_random_specs_round_trip_spec_torch_import_spec() -> None:
    """Random nets of the differential strategy: spec -> torch (cnncost's builder) -> import ->
    spec, with equal params, MACs and saved bytes (nets with a layer the importer does not map,
    such as a centre crop, are skipped)."""
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    import random_nets as diff  # tests/support
    from cnncost.importers.torch_trace import from_torch
    from cnncost.torch_backend import build

    @settings(max_examples=int(os.environ.get("CNNCOST_IMPORT_EXAMPLES", "40")), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(net=diff.specs())
    def round_trip(net) -> None:
        try:
            model = build(net, init=False)
        except CnnCostError:
            hypothesis.assume(False)
        try:
            imported = from_torch(model, net.input)
        except CnnCostError as error:  # an op the importer does not map, or a net PyTorch refuses to train
            hypothesis.assume("unsupported" not in str(error) and "does not run" not in str(error))
            raise
        assert figures(imported) == figures(net), diff.describe(net)
    round_trip()


# ----------------------------------------------------------------------------- torchvision and timm

def _torchvision():
    return pytest.importorskip("torchvision", reason="the real torchvision models need torchvision")


TORCHVISION = sorted(n for n, m in REFERENCE.items() if m.get("source") == "torchvision")
TIMM = sorted(n for n, m in REFERENCE.items() if m.get("source") == "timm")


def _train_figures(name: str) -> tuple[int, int, int]:
    m = REFERENCE[name]
    return m["params"], m["macs_train"]["total"], m["saved_b2"]["total"]


def _source(name: str) -> str:
    return f"timm:{name[5:]}" if name.startswith("timm/") else f"torchvision:{name}"


def _builder(name: str):
    """The fixture's own builder for models whose name is not a torchvision builder."""
    if name == "googlenet_no_aux":
        tv = _torchvision()
        return tv.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    return None


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_model_imports_exactly(name: str) -> None:
    _torchvision()
    from cnncost.importers.torch_trace import from_torch
    from cnncost.resolve import resolve
    module = _builder(name)
    net = from_torch(module, tuple(REFERENCE[name]["input"])) if module is not None else resolve(_source(name))
    assert list(net.input) == REFERENCE[name]["input"]
    assert figures(net) == _train_figures(name), name  # traced in train mode: aux heads, dropout included


@pytest.mark.parametrize("name", TIMM)
def test_timm_model_imports_exactly(name: str) -> None:
    pytest.importorskip("timm")
    from cnncost.resolve import resolve
    net = resolve(_source(name))
    assert figures(net) == _train_figures(name), name


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_onnx_export_imports_exactly(name: str, tmp_path: Path) -> None:
    """The TorchScript exporter in training mode, weights left out of the file (export_params=False:
    the importer needs only their shapes). googlenet's aux heads cannot be exported in training mode
    (an adaptive pool to 4x4 of 14x14): it is exported in eval mode and compared without them."""
    _torchvision()
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    from cnncost.importers.sources import resolve_module
    module = _builder(name)
    if module is None:
        module = resolve_module(_source(name))[0]
    m = REFERENCE[name]
    train = name != "googlenet"
    module.train(train)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, *m["input"]),), str(path), dynamo=False, export_params=False,
                          do_constant_folding=False,
                          training=torch.onnx.TrainingMode.TRAINING if train else torch.onnx.TrainingMode.EVAL)
    got = figures(from_onnx(path))
    if train:
        assert got == _train_figures(name), name
    else:
        assert got[:2] == (m["params"] - m["params_uncalled_eval"], m["macs"]["total"]), name


def _twin(name: str) -> str | None:
    names = {a.name for a in cnncost.list_archs()}
    special = {"timm/seresnet50": "seresnet50-timm", "googlenet_no_aux": "googlenet-tv"}
    if name in special:
        return special[name]
    if "/" in name or name == "googlenet":  # googlenet-tv is the network without the aux heads
        return None
    base = name.replace("_", "-")
    return next((c for c in (f"{base}-tv", base) if c in names), None)


TWINS = [(n, _twin(n)) for n in sorted(REFERENCE) if _twin(n)]


@pytest.mark.parametrize("name,twin", TWINS)
def test_check_against_passes_for_every_zoo_twin(name: str, twin: str) -> None:
    _torchvision()
    if name.startswith("timm/"):
        pytest.importorskip("timm")
    from cnncost.torch_backend.against import check_against
    source = _builder(name) or _source(name)
    result = check_against(twin, source, measure=False)
    assert result.ok, result.summary()


def test_check_against_fails_naming_the_layer_with_one_channel_changed() -> None:
    _torchvision()
    from cnncost.torch_backend.against import check_against
    text = dump_spec(cnncost.load("resnet18"))
    wrong = re.sub(r"(\{name: conv1, type: conv, out: )128(, kernel: 3, stride: 2)", r"\g<1>129\2", text, count=1)
    assert wrong != text
    result = check_against(parse_spec(wrong), "torchvision:resnet18")
    assert not result.ok
    first = result.first
    assert first.spec_path == "layer2.0.residual.conv1" and first.reference_path == "layer2.0.conv1"
    assert first.quantity == "shape" and first.spec == (129, 28, 28) and first.reference == (128, 28, 28)
    assert result.totals["params"][1] == REFERENCE["resnet18"]["params"]  # measured on the real network
