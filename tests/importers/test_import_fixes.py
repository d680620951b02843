"""Importer fixes of issue 18: an imported `reshape` row under `--memory autograd`; a buffer used as
a conv weight (a blur filter) is not params; under `--allow-unknown` an unknown call's parameters
are counted however they are passed, its unknown figures are named in every output, and a view
that merges the batch dimension gives a spec that compiles; every imported model round-trips
through `cnncost import -o x.yaml` and `cnncost table x.yaml`.

Each model here is also measured on the real network (`check_against` runs it: parameters,
FlopCounterMode's MACs, autograd's saved tensors at batch 2, CPU fp32)."""
from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.cli import main  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.spec import dump_spec, parse_spec  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
ONNX_DIR = TESTS / "fixtures" / "onnx"


class Unflatten(nn.Module):
    """A plain reshape to another per-sample shape: 8x8x8 seen as 2x32x8, then a conv on it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(2, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        return self.conv2(y.reshape(y.shape[0], 2, 32, 8))


class Blur(nn.Module):
    """An anti-aliasing blur (as timm's BlurPool2d): a fixed [1, 2, 1] x [1, 2, 1] / 16 filter
    registered as a buffer, applied depthwise with stride 2 by F.conv2d."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("filt", ((k[:, None] * k[None, :]) / 16)[None, None].repeat(channels, 1, 1, 1))
        self.channels = channels

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=self.channels)


class Blurred(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.blur = Blur(8)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.head(self.blur(torch.relu(self.conv(x))))


class Unknowns(nn.Module):
    """torch.prelu is not in the importer's vocabulary: its weight passed by keyword and by
    position must both be counted."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.by_keyword = nn.Parameter(torch.rand(8))
        self.by_position = nn.Parameter(torch.rand(8))

    def forward(self, x):
        y = self.conv(x)
        y = F.prelu(y, weight=self.by_keyword)
        return F.prelu(y, self.by_position)


class BatchRows(nn.Module):
    """A linear over the channels written with the batch merged into the rows, position-major
    (H*W*N, C): the batch is not the outermost factor, so the view is refused (batch-major rows,
    (N*H*W, C), import exactly: test_import_fold.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        t = self.fc(y.permute(2, 3, 0, 1).reshape(-1, c))
        return t.view(h, w, n, c).permute(2, 3, 0, 1).contiguous()


def _figures(net) -> tuple[int, int | None, int | None]:
    """(params, MACs per image, saved bytes at batch 2): None where a figure is unknown."""
    totals = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    return (totals.params, None if "macs" in totals.unknown else totals.macs // 2,
            None if "saved_bytes" in totals.unknown else totals.saved_bytes)


# ----------------------------------------------------------------------------- reshape, --memory autograd

def test_imported_reshape_row_under_autograd_memory_is_exact() -> None:
    model = Unflatten()
    net = from_torch(model, (3, 8, 8))
    assert [n.type for n in cnncost.compile(net).nodes[1:]] == ["conv", "reshape", "conv"]
    # the autograd model runs on the reshape row, and equals the real network's saved tensors
    result = check_against(net, model)
    assert result.ok, result.summary()
    assert result.totals["saved_bytes"][0] == result.totals["saved_bytes"][1] > 0


def test_onnx_reshape_row_under_autograd_memory(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from cnncost.importers.onnx_graph import from_onnx
    path = tmp_path / "unflatten.onnx"
    torch.onnx.export(Unflatten().train(), (torch.randn(2, 3, 8, 8),), str(path), dynamo=False,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False, export_params=False)
    net = from_onnx(path)
    assert "reshape" in [n.type for n in cnncost.compile(net).nodes]
    assert _figures(net) == _figures(from_torch(Unflatten(), (3, 8, 8)))


# ----------------------------------------------------------------------------- buffers are never params

def test_a_buffer_used_as_conv_weight_is_not_params() -> None:
    model = Blurred()
    net = from_torch(model, (3, 8, 8))
    blur = next(n for n in cnncost.compile(net).nodes if n.path == "blur.conv")
    assert blur.type == "fixed" and blur.params == 0
    assert blur.macs == 8 * 4 * 4 * 9  # |output| x 1 x 3 x 3: still a convolution's MACs
    params = sum(p.numel() for p in model.parameters())
    assert cnncost.table(net, batch=1).totals.params == params == 224 + 36  # conv1 + head, no filter
    result = check_against(net, model)  # params, FlopCounterMode's MACs and saved bytes of the real network
    assert result.ok, result.summary()


def test_a_fixed_conv_has_no_weight_gradient_and_rebuilds_with_buffer_weights() -> None:
    from cnncost.counting.training import training
    from cnncost.torch_backend import check
    net = from_torch(Blurred(), (3, 8, 8))
    graph = cnncost.compile(net)
    step = training(graph, batch=1)
    i = next(k for k, n in enumerate(graph.nodes) if n.path == "blur.conv")
    assert step.weight_grad[i] == 0 and step.input_grad[i] == step.forward[i] == 2 * graph.nodes[i].macs
    assert check(net, batch=2).ok  # the rebuilt network: a Conv2d whose weights are buffers
    spec = dump_spec(net)
    assert "type: fixed, layer: {type: conv, out: 8, kernel: 3, stride: 2, groups: 8, bias: false}" in spec


# ----------------------------------------------------------------------------- --allow-unknown

def test_unknown_call_counts_its_parameters_by_keyword_and_by_position() -> None:
    model = Unknowns()
    with pytest.raises(CnnCostError, match="unsupported operation torch.prelu"):
        from_torch(model, (3, 8, 8))
    net = from_torch(model, (3, 8, 8), allow_unknown=True)
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in model.parameters()) == 224 + 16
    assert "never used" not in net.notes


def test_unknown_figures_are_named_in_every_output(tmp_path: Path) -> None:
    net = from_torch(Unknowns(), (3, 8, 8), allow_unknown=True)
    report = cnncost.table(net, batch=2, memory="autograd", device="cpu")
    assert {"macs", "saved_bytes"} <= set(report.totals.unknown)
    text = report.to_text()
    assert "per image >= " in text and "training step peak >= " in text
    assert "| prelu" not in text and "?" in text.split("prelu ", 1)[1].splitlines()[0]
    data = json.loads(report.to_json())
    assert data["total"]["macs"] is None and data["total"]["saved_bytes"] is None
    assert data["unknown_counts"]["macs"] == ["prelu", "prelu_1"]
    row = next(r for r in data["layers"] if r["name"] == "prelu")
    assert row["macs"] is None and "macs" in row["unknown"]
    csv = report.to_csv().splitlines()
    header = csv[0].split(",")
    prelu = next(line for line in csv if line.startswith("prelu,"))
    assert prelu.split(",")[header.index("macs")] == "" and "macs" in prelu.split(",")[header.index("unknown")]
    pandas = pytest.importorskip("pandas")
    frame = report.to_dataframe()
    assert isinstance(frame, pandas.DataFrame)
    assert frame.loc[frame.name == "prelu", "macs"].isna().all() and "macs" in frame.loc[frame.name == "prelu", "unknown"].iloc[0]


def test_views_that_merge_the_batch_give_a_spec_that_compiles() -> None:
    model = BatchRows()
    with pytest.raises(CnnCostError, match=r"Tensor.reshape at module '\(top level\)' \(view of a tensor whose batch is "
                       "dim 2: the batch would not be the outermost factor"):
        from_torch(model, (3, 8, 8))
    net = from_torch(model, (3, 8, 8), allow_unknown=True)
    back = parse_spec(dump_spec(net))
    graph = cnncost.compile(back)
    rows = {n.path: n for n in graph.nodes}
    assert rows["reshape"].output_shape == (64, 8)  # (N*H*W, C) per sample: H*W rows of C
    assert rows["fc"].params == 8 * 8 + 8
    assert graph.nodes[-1].output_shape == (8, 8, 8)
    assert cnncost.table(back, batch=1).totals.params == sum(p.numel() for p in model.parameters())


class AveragedHeads(nn.Module):
    """Two heads averaged at the output, `(a + b) / 2` (timm's distilled LeViT and DeiT)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return (self.a(x) + self.b(x)) / 2


class ConstantPositions(nn.Module):
    """A positional map made from constants without the batch (timm's XCiT), projected and repeated."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.proj = nn.Conv2d(2, 4, 1)

    def forward(self, x):
        n, _, h, w = x.shape
        ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1).expand(1, 1, h, w)
        xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w).expand(1, 1, h, w)
        pos = self.proj(torch.cat([ys, xs], dim=1))
        return self.conv(x) + pos.repeat(n, 1, 1, 1)


def test_a_scaled_output_is_its_own_arith_row() -> None:
    model = AveragedHeads()
    net = from_torch(model, (3, 8, 8))
    assert cnncost.compile(net).nodes[-1].type == "arith"
    assert check_against(net, model).ok
    assert cnncost.table(parse_spec(dump_spec(net)), batch=1).totals.params == 2 * (3 * 4 + 4)


def test_a_projection_made_once_then_repeated_over_the_batch_is_exact() -> None:
    """The projection runs once per forward on the constant map (its MACs once, whatever the
    batch); the repeat makes the result per sample."""
    model = ConstantPositions()
    net = from_torch(model, (3, 8, 8))
    for batch in (2, 3):
        result = check_against(net, model, batch=batch)
        assert result.ok, result.summary()
    made = [n.layer for n in cnncost.compile(net).nodes if n.type == "computed"]
    assert [(m.op, m.macs_once, m.weights) for m in made] == [("expand", 8 * 8 * 2 * 4, 2 * 4 + 4)]
    spec = parse_spec(dump_spec(net))
    assert cnncost.table(spec, batch=3).totals.figures == cnncost.table(net, batch=3).totals.figures


# ----------------------------------------------------------------------------- import -o x.yaml, table x.yaml

MODULES = {"unflatten": Unflatten, "blurred": Blurred, "unknowns": Unknowns, "batch_rows": BatchRows,
           "averaged_heads": AveragedHeads, "constant_positions": ConstantPositions}


def _sources(tmp_path: Path) -> list[tuple[str, str, list[str]]]:
    """(label, SOURCE, its --input option) of every model the importer tests use: the plain models of
    tests/fixtures/onnx/make_onnx.py (as FILE.py:callable), their committed ONNX exports, and this
    file's models."""
    spec = importlib.util.spec_from_file_location("make_onnx_models", ONNX_DIR / "make_onnx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    names = sorted(json.loads((ONNX_DIR / "expected.json").read_text())["models"])
    lines = [f"import importlib.util, sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})",
             f"spec = importlib.util.spec_from_file_location('m', {str(ONNX_DIR / 'make_onnx.py')!r})",
             "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)",
             "from test_import_fixes import " + ", ".join(c.__name__ for c in MODULES.values())]
    lines += [f"def {n}():\n    return m.build({n!r})[0]" for n in names]
    lines += [f"def {n}():\n    return {c.__name__}()" for n, c in MODULES.items()]
    (tmp_path / "models.py").write_text("\n".join(lines) + "\n")
    shapes = {n: module.MODELS[n][1] for n in names} | dict.fromkeys(MODULES, (3, 8, 8))
    out = [(n, f"{tmp_path / 'models.py'}:{n}", ["--input", "x".join(map(str, shapes[n]))]) for n in shapes]
    onnx_files = sorted(ONNX_DIR.glob("*.onnx")) if importlib.util.find_spec("onnx") else []
    return out + [(p.stem + ".onnx", str(p), []) for p in onnx_files]


def test_every_imported_model_round_trips_through_import_and_table(tmp_path: Path, capsys) -> None:
    checked = []
    for label, source, shape in _sources(tmp_path):
        target = tmp_path / f"{label}.yaml"
        assert main(["import", source, "--allow-unknown", "-o", str(target), *shape]) == 0, label
        capsys.readouterr()
        outputs = []
        for arch in (source, str(target)):
            code = main(["table", arch, "--allow-unknown", "--batch", "2", "--memory", "autograd", "--format", "json",
                         *shape])
            assert code == 0, (label, arch, capsys.readouterr().err)
            data = json.loads(capsys.readouterr().out)
            outputs.append((data["total"], [(r["name"], r["output_shape"], r["params"], r["macs"], r.get("saved_bytes"))
                                            for r in data["layers"]]))
        assert outputs[0] == outputs[1], label
        checked.append(label)
    assert len(checked) >= 11 + (6 if importlib.util.find_spec("onnx") else 0)


def test_every_peer_tool_counts_a_fixed_conv_as_its_convention_says() -> None:
    """Live, where the peer tools are installed (the side venv: tests/fixtures/measure_tools.py):
    cnncost's own torch build of a `fixed` conv (weights as buffers) measured by each tool equals
    that tool's convention (all 16 figures agreed with torch 2.14.1 and the tools' versions there)."""
    import tools_live
    tools_live.require()
    net = parse_spec(textwrap.dedent("""
        name: fixed-live
        input: [8, 16, 16]
        layers:
        - {name: conv, type: conv, out: 8, kernel: 3, padding: 1}
        - {name: blur, type: fixed, layer: {type: conv, out: 8, kernel: 3, stride: 2, padding: 1, groups: 8, bias: false}}
        - {name: blurb, type: fixed, layer: {type: conv, out: 8, kernel: 3, padding: 1, groups: 8, bias: true}}
        - {name: head, type: conv, out: 4, kernel: 1}
    """))
    measured = tools_live.assert_tools_count_as_their_conventions(net, sizes=True)
    assert len(measured) >= 16
