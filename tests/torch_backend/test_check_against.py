"""`check SPEC --against SOURCE` pairs rows by module path and by their place in the graph, not by
execution order: a correct spec of an FPN that lists its laterals before the top-down path (and
names its ops its own way) matches the model, and a wrong channel count is reported at its own row.
The text output shows the totals side by side; `--against FILE.py:callable` and `--allow-unknown`
work as in every other command."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from cnncost.cli import main  # noqa: E402
from cnncost.spec import parse_spec  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402

# The FPN of the docs (docs/import.md runs the same check): the model runs lat3 before lat2 before
# lat1; the spec, as a person writes it, lists every lateral first, then the top-down path, and
# names the functional ops r1.., up3.., p2.. instead of the import's relu, relu_1, upsample, add...
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FPN_SPEC = (EXAMPLES / "fpn.yaml").read_text()

ODD_MODULE = textwrap.dedent('''
    import torch
    import torch.nn as nn


    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.erf(self.conv(x))


    def build_odd():
        return Odd()
''')


@pytest.fixture()
def fpn_file() -> Path:
    return EXAMPLES / "fpn.py"


@pytest.fixture()
def odd_file(tmp_path: Path) -> Path:
    path = tmp_path / "odd.py"
    path.write_text(ODD_MODULE)
    return path


def _fpn_module(path: Path):
    import runpy
    return runpy.run_path(str(path))["build"]()


def test_spec_in_another_order_than_execution_matches_the_fpn(fpn_file: Path) -> None:
    model = _fpn_module(fpn_file)
    result = check_against(parse_spec(FPN_SPEC), model)
    assert result.ok, result.summary()
    # every total equals the real network's, measured by forward hooks and saved-tensor hooks
    params = sum(p.numel() for p in model.parameters())
    assert result.totals["params"] == (params, params) == (6796, 6796)
    assert result.totals["macs"][0] == result.totals["macs"][1]
    assert result.totals["saved_bytes"][0] == result.totals["saved_bytes"][1]
    assert result.totals_equal == {"params": True, "macs": True, "saved_bytes": True}
    pairs = {p.spec_path: (p.reference_path, p.matched_by) for p in result.pairs}
    assert pairs["lat1"] == ("lat1", "path") and pairs["lat3"] == ("lat3", "path")
    assert pairs["up3"] == ("upsample", "structure") and pairs["p1"] == ("add_1", "structure")


def test_a_changed_channel_is_reported_at_its_own_row_whatever_the_names(fpn_file: Path) -> None:
    wrong = (FPN_SPEC.replace("name: c2, type: conv, out: 16", "name: second, type: conv, out: 17")
             .replace("from: r2", "from: r2").replace("name: lat2,", "name: lateral_b,")
             .replace("[up3, lat2]", "[up3, lateral_b]"))
    result = check_against(parse_spec(wrong), _fpn_module(fpn_file))
    assert not result.ok
    first = result.first
    assert (first.spec_path, first.reference_path, first.quantity) == ("second", "c2", "shape")
    assert (first.spec, first.reference) == ((17, 8, 8), (16, 8, 8))
    rows = {(d.spec_path, d.reference_path) for d in result.differences}
    assert ("lateral_b", "lat2") in rows and ("r2", "relu_1") in rows


def test_cli_against_a_python_file_shows_the_totals_side_by_side(fpn_file: Path, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "fpn.yaml"
    spec.write_text(FPN_SPEC)
    assert main(["check", str(spec), "--against", f"{fpn_file}:build"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fpn-by-hand matches build: 14 layers")
    assert "params          6,796        6,796  yes" in out  # spec, reference (measured), equal
    assert "saved bytes" in out and "NO" not in out
    assert main(["check", str(spec), "--against", f"{fpn_file}:build", "--eval"]) == 0
    assert "(eval mode" in capsys.readouterr().out
    spec.write_text(FPN_SPEC.replace("out: 32, kernel: 3", "out: 33, kernel: 3"))
    assert main(["check", str(spec), "--against", f"{fpn_file}:build"]) == 1
    out = capsys.readouterr().out
    assert "params          6,949        6,796  NO" in out  # 6,796 + (16*9 + 1) (c3) + 8 (lat3)
    assert "c3            c3                 shape         33x4x4   32x4x4" in out


def test_cli_against_json_and_csv_carry_the_totals(fpn_file: Path, tmp_path: Path, capsys) -> None:
    import json
    spec = tmp_path / "fpn.yaml"
    spec.write_text(FPN_SPEC)
    assert main(["check", str(spec), "--against", f"{fpn_file}:build", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["totals"]["params"] == {"spec": 6796, "reference": 6796, "equal": True}
    assert main(["check", str(spec), "--against", f"{fpn_file}:build", "--format", "csv"]) == 0
    assert "total,,,params,6796,6796,True" in capsys.readouterr().out


def test_against_a_python_file_that_is_not_a_module_or_net_is_one_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def build():\n    return 3\n")
    spec = tmp_path / "fpn.yaml"
    spec.write_text(FPN_SPEC)
    assert main(["check", str(spec), "--against", f"{bad}:build"]) == 2
    err = capsys.readouterr().err
    assert "returned an int, not a cnncost Net" in err and "No module named" not in err


def test_check_allow_unknown_compares_what_is_known(odd_file: Path, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "odd.yaml"
    spec.write_text(textwrap.dedent('''
        name: odd
        input: [3, 8, 8]
        layers:
        - {name: conv, type: conv, out: 4, kernel: 3}
        - {name: erf, type: opaque, op: torch.erf, shape: [4, 6, 6]}
    '''))
    assert main(["check", str(spec), "--against", f"{odd_file}:build_odd"]) == 2
    assert "unsupported operation torch.erf" in capsys.readouterr().err
    assert main(["check", str(spec), "--against", f"{odd_file}:build_odd", "--allow-unknown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("odd matches build_odd: 2 layers, params at batch 2 equal; MACs and saved bytes unknown")
    assert "params           112          112  yes" in out  # 4*3*3*3 + 4
    assert "MACs         unknown        7,776  unknown" in out  # the real conv's, by FlopCounterMode: 2*4*6*6*27
    assert "opaque row(s) erf have unknown figures" in out
