"""--input supplies a spec's missing `input:` (CLI and cnncost.table); without it the error says so."""
import json
from pathlib import Path

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


# --- any rank and several inputs (issue 18) ---

TWO = ("name: two\ninput: {left: [3, 8, 8], right: [3, 8, 8]}\nlayers:\n"
       "  - {name: a, type: conv, out: 4, kernel: 3}\n"
       "  - {name: b, type: conv, out: 4, kernel: 3, from: right}\n"
       "  - {name: sum, type: add, from: [a, b]}\n")


@pytest.fixture
def two(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    return str(path)


def first_line(capsys) -> str:
    return capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("args", [
    ["--input", "left=3x16x16", "--input", "right=3x16x16"],
    ["--input", "3x16x16", "--input", "3x16x16"],
], ids=["named", "in order"])
def test_several_inputs_on_the_command_line(capsys, two, args):
    assert main(["table", two, *args]) == 0
    assert first_line(capsys).startswith("two: inputs left 3x16x16, right 3x16x16, ")


def test_one_named_input_replaces_that_one(capsys, two):
    code = main(["table", two, "--input", "right=3x10x10"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot add tensors of different shapes: 4x6x6, 4x8x8" in err


@pytest.mark.parametrize("args, message", [
    (["--input", "3x8x8", "--input", "right=3x8x8"], "name every input (NAME=SHAPE) or none when giving several"),
    (["--input", "left=3x8x8", "--input", "left=3x8x8"], "input 'left' is given twice"),
    (["--input", "middle=3x8x8"], "the net has no input named 'middle'; its inputs: left, right"),
    (["--input", "3x8x8", "--input", "3x8x8", "--input", "3x8x8"], "3 input shapes given for a net with 2 inputs"),
    (["--input", "left=3xAx8"], "expected a shape like 3x224x224"),
])
def test_bad_several_inputs_are_one_clear_line(capsys, two, args, message):
    try:
        code = main(["table", two, *args])
    except SystemExit as exit_info:  # argparse's own refusals
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_a_spec_without_input_gets_several_from_the_command_line(capsys, spec):
    text = "name: late\nlayers:\n  - {name: a, type: relu, inplace: false}\n  - {name: s, type: add, from: [a, b]}\n"
    path = spec.replace("noin.yaml", "late.yaml")
    with open(path, "w") as file:
        file.write(text)
    assert main(["spec", path, "--input", "a0=3x4x4", "--input", "b=3x4x4"]) == 0
    assert "input:\n  a0: [3, 4, 4]\n  b: [3, 4, 4]\n" in capsys.readouterr().out


def test_any_rank_on_the_command_line(capsys, tmp_path):
    path = tmp_path / "vec.yaml"
    path.write_text("name: vec\nlayers: [{type: linear, out: 4}, {type: relu}]\n")
    assert main(["table", str(path), "--input", "768x"]) == 0
    assert first_line(capsys).startswith("vec: input 768, 3,076 params")  # 768 x 4 + 4
    path.write_text("name: clip\nlayers: [{type: relu}, {type: flatten}, {type: linear, out: 2}]\n")
    assert main(["table", str(path), "--input", "3x16x112x112", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["layers"][0]["output_shape"] == [3, 16, 112, 112] and "inputs" not in record


def test_fit_repeats_several_inputs_in_its_same_figures_line(capsys, two):
    assert main(["fit", two, "--budget", "1GB", "--input", "left=3x8x8", "--input", "right=3x8x8"]) == 0
    assert "--input left=3x8x8 --input right=3x8x8" in capsys.readouterr().out


def test_an_onnx_import_refuses_several_inputs(capsys):
    onnx_file = str(Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "plain_cnn.onnx")
    code = main(["import", onnx_file, "--input", "a=3x8x8", "--input", "b=3x8x8", "-o", "-"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "an ONNX model is imported at one input shape" in err


def test_a_torch_import_takes_several_inputs_by_the_forwards_names(capsys, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "pair.py"
    path.write_text("import torch.nn as nn\n"
                    "class Pair(nn.Module):\n"
                    "    def __init__(self):\n"
                    "        super().__init__()\n"
                    "        self.conv = nn.Conv2d(3, 4, 3)\n"
                    "    def forward(self, left, right):\n"
                    "        return self.conv(left) + self.conv(right)\n"
                    "def build():\n"
                    "    return Pair()\n")
    args = ["table", f"{path}:build", "--input", "right=3x8x8", "--input", "left=3x8x8", "--format", "json"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["inputs"] == [{"name": "left", "shape": [3, 8, 8]}, {"name": "right", "shape": [3, 8, 8]}]
    code = main(["table", f"{path}:build", "--input", "left=3x8x8", "--input", "middle=3x8x8"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Pair.forward has no argument 'middle'" in err


def test_a_python_spec_gets_the_mapping(capsys, tmp_path):
    path = tmp_path / "two.py"
    path.write_text("from cnncost import Net, Add\n"
                    "def build(input={'x': (3, 4, 4), 'y': (3, 4, 4)}):\n"
                    "    return Net('py2', input=input, layers=[Add(name='s', inputs=('x', 'y'))])\n")
    assert main(["table", f"{path}:build", "--input", "x=3x6x6", "--input", "y=3x6x6"]) == 0
    assert first_line(capsys).startswith("py2: inputs x 3x6x6, y 3x6x6, ")
