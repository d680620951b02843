"""An ONNX export whose batch norms the exporter folded into its convolutions is recognised from the
file and said so: in the net's notes (`Net.warnings`), the text table, the JSON and `cnncost
import`'s stderr, with the exporter call that keeps them.

`folded_plain_cnn.onnx` is make_onnx.py's `plain_cnn` exported by torch's default exporter
(`dynamo=True`, `training=TrainingMode.TRAINING`; tests/fixtures/onnx/make_folded_onnx.py: torch
2.14.1, onnxscript 0.7.2, which the test environment lacks); `plain_cnn.onnx` is the same model
exported by the TorchScript exporter in training mode, which keeps them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

onnx = pytest.importorskip("onnx")

import cnncost  # noqa: E402
from cnncost.cli import main  # noqa: E402
from cnncost.importers.onnx.folding import KEEPING_CALL  # noqa: E402
from cnncost.importers.onnx_graph import from_onnx  # noqa: E402

ONNX_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "onnx"
FOLDED = ONNX_DIR / "folded_plain_cnn.onnx"
EXPECTED = json.loads((ONNX_DIR / "expected.json").read_text())["models"]["plain_cnn"]


def test_a_folded_export_is_recognised_and_names_the_call_that_keeps_the_norms() -> None:
    net = from_onnx(FOLDED)
    (warning,) = net.warnings
    assert warning.startswith("the exporter folded 4 batch norm(s) into the convolutions before them")
    assert "stem.1.weight, stem.1.bias" in warning and KEEPING_CALL in warning
    assert "dynamo=False" in KEEPING_CALL and "TrainingMode.TRAINING" in KEEPING_CALL
    # what the warning is about: the norms' scale and bias, 2 x (16 + 32 + 32 + 32) = 224 params, are missing
    # (expected.json: the real plain_cnn's params, measured on the module)
    assert cnncost.table(net, batch=1).totals.params == EXPECTED["params"] - 224
    assert not from_onnx(ONNX_DIR / "plain_cnn.onnx").warnings  # the TorchScript export keeps them


def test_the_graph_signature_alone_is_enough(tmp_path: Path) -> None:
    """Without the rewriter's node metadata: the parameters the signature lists but the file lacks."""
    model = onnx.load(str(FOLDED))
    for node in model.graph.node:
        keep = [p for p in node.metadata_props if p.key != "pkg.onnxscript.rewriter.rule_name"]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    path = tmp_path / "stripped.onnx"
    onnx.save(model, str(path))
    (warning,) = from_onnx(path).warnings
    assert warning.startswith("the exporter folded 4 batch norm(s)")


def test_the_warning_is_in_text_json_and_import(tmp_path: Path, capsys) -> None:
    assert main(["table", str(FOLDED)]) == 0
    assert "\nWarning: the exporter folded 4 batch norm(s)" in capsys.readouterr().out
    assert main(["table", str(FOLDED), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["warnings"]) == 1 and KEEPING_CALL in data["warnings"][0]
    assert main(["table", str(ONNX_DIR / "plain_cnn.onnx"), "--format", "json"]) == 0
    assert "warnings" not in json.loads(capsys.readouterr().out)
    out = tmp_path / "folded.yaml"
    assert main(["import", str(FOLDED), "-o", str(out)]) == 0
    assert "cnncost: warning: the exporter folded 4 batch norm(s)" in capsys.readouterr().err
    assert cnncost.load(str(out)).warnings == from_onnx(FOLDED).warnings  # kept in the spec's notes


def test_check_against_a_folded_export_says_so() -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend.against import check_against
    result = check_against(str(ONNX_DIR / "plain_cnn.onnx"), str(FOLDED))
    assert any(note.startswith("the reference: the exporter folded 4 batch norm(s)") for note in result.notes)
    assert result.totals["params"] == (EXPECTED["params"], EXPECTED["params"] - 224)  # the norms' scale and bias
    assert result.first.quantity in ("row", "params", "shape", "saved_bytes")
