"""--input supplies a spec's missing `input:` (CLI and cnncost.table); without it the error says so."""
import json

import pytest

import cnncost
from cnncost.cli import main

NO_INPUT = "name: noin\nlayers: [{type: conv, out: 4, kernel: 3}, {type: relu}]\n"


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "noin.yaml"
    path.write_text(NO_INPUT)
    return str(path)


def test_without_input_the_error_names_the_option(capsys, spec):
    assert main(["table", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing top-level key 'input'" in err and "--input CxHxW" in err


@pytest.mark.parametrize("argv", [
    ["table", "{s}", "--input", "3x8x8"],
    ["fit", "{s}", "--budget", "1GB", "--input", "3x8x8"],
    ["compare", "{s}", "alexnet", "--input", "3x224x224"],
    ["spec", "{s}", "--input", "3x8x8"],
    ["sweep", "{s}", "--input", "3x8x8,3x16x16"],
], ids=["table", "fit", "compare", "spec", "sweep"])
def test_input_option_fills_it_in(capsys, spec, argv):
    assert main([a.format(s=spec) for a in argv]) == 0
    assert "noin" in capsys.readouterr().out


def test_spec_prints_the_input_it_was_given(capsys, spec):
    assert main(["spec", spec, "--input", "3x8x8"]) == 0
    assert "input: [3, 8, 8]" in capsys.readouterr().out


def test_check_fills_it_in(capsys, spec):
    pytest.importorskip("torch")
    assert main(["check", spec, "--input", "3x8x8", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema_version"] >= 1


def test_python_api(spec):
    assert cnncost.table(spec, input=(3, 8, 8)).totals.params == 112
    assert cnncost.table(spec, input="3x8x8", batch=1).totals.output_shape == (4, 6, 6)
    assert cnncost.fit(spec, "1GB", input=(3, 8, 8)).batch > 0
    with pytest.raises(cnncost.CnnCostError, match="--input CxHxW"):
        cnncost.table(spec)
