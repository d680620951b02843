"""`FILE.py:callable` as a spec in every command, and its one-line errors."""
import json
import textwrap

import pytest

import cnncost
from cnncost.cli import main

SOURCE = textwrap.dedent('''
    from cnncost import Net, Conv, ReLU, MaxPool

    def build(input=(3, 32, 32)):
        return Net("pynet", input=input, layers=[Conv(out=8, kernel=3, padding=1), ReLU(), MaxPool(kernel=2)])

    NET = build()

    class Zoo:
        @staticmethod
        def small():
            return build((3, 16, 16))

    def boom():
        raise KeyError("width")

    def wrong():
        return "vgg16"

    def needs(width):
        return build()

    def torch_model():
        import torch.nn as nn
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
''')


@pytest.fixture
def pyfile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mynet.py").write_text(SOURCE)
    return "mynet.py"


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv", [
    ["table", "{f}:build", "--batch", "2"],
    ["table", "{f}:NET"],
    ["table", "./{f}:Zoo.small"],
    ["fit", "{f}:build", "--budget", "1GB"],
    ["compare", "{f}:build", "{f}:Zoo.small"],
    ["spec", "{f}:build"],
    ["sweep", "{f}:build", "--batch", "1,2"],
], ids=["table", "a-net", "dotted", "fit", "compare", "spec", "sweep"])
def test_every_command_takes_a_python_spec(capsys, pyfile, argv):
    code, out, err = _run(capsys, *(a.format(f=pyfile) for a in argv))
    assert code == 0 and err == "" and "pynet" in out


def test_the_numbers_are_the_nets(pyfile):
    direct = cnncost.table(cnncost.load("mynet.py:build"), batch=1).totals
    assert direct.params == 224 and cnncost.table("mynet.py:build", batch=1).totals == direct


def test_input_reaches_a_callable_that_takes_it(capsys, pyfile):
    code, out, _ = _run(capsys, "table", "mynet.py:build", "--input", "3x64x64", "--format", "json")
    assert code == 0 and json.loads(out)["layers"][0]["output_shape"] == [3, 64, 64]


def test_check_takes_a_python_spec(capsys, pyfile):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, "check", "mynet.py:build", "--input", "3x8x8")
    assert code == 0 and "all exact quantities agree" in out


def test_an_nn_module_is_imported(capsys, pyfile):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, "table", "mynet.py:torch_model", "--input", "3x16x16", "--batch", "1", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["params"] == 3 * 8 * 9 + 8


def test_import_traces_a_returned_module_at_the_given_input(capsys, pyfile):
    pytest.importorskip("torch")
    code, out, _ = _run(capsys, "import", "mynet.py:torch_model", "--input", "3x16x16")
    assert code == 0 and "input: [3, 16, 16]" in out and "at 3x16x16" in out


@pytest.mark.parametrize("arch,message", [
    ("missing.py:build", "missing.py:build: cannot read Python spec: no such file or directory"),
    ("mynet.py:biuld", "mynet.py has no 'biuld'; did you mean build?"),
    ("mynet.py:Zoo.smal", "'Zoo' has no 'smal'; did you mean small?"),
    ("mynet.py:boom", "'boom' raised KeyError: 'width'"),
    ("mynet.py:wrong", "'wrong' returned a str, not a cnncost Net (or a torch nn.Module)"),
    ("mynet.py:needs", "'needs' must be callable without arguments; it requires width"),
    ("notes.txt:build", "a Python spec must be a .py file"),
    ("syntax.py:build", "the Python spec has a syntax error at line 1"),
    ("raises.py:build", "running the Python spec raised RuntimeError: at import"),
    ("exits.py:build", "running the Python spec raised SystemExit: 3"),
])
def test_errors_are_one_line(capsys, pyfile, tmp_path, arch, message):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "syntax.py").write_text("def build(:\n")
    (tmp_path / "raises.py").write_text("raise RuntimeError('at import')\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    for command in (["table", arch], ["fit", arch, "--budget", "1GB"], ["spec", arch]):
        code, out, err = _run(capsys, *command)
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("cnncost: error: "), err
        assert message in err, err


def test_the_file_can_import_its_neighbours(capsys, tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "blocks_for_cnncost_test.py").write_text(
        "from cnncost import Conv\ndef stem():\n    return [Conv(out=4, kernel=3)]\n")
    (tmp_path / "sub" / "main.py").write_text(
        "from cnncost import Net\nfrom blocks_for_cnncost_test import stem\n"
        "def build():\n    return Net('nb', input=(3, 8, 8), layers=stem())\n")
    code, out, _ = _run(capsys, "table", str(tmp_path / "sub" / "main.py") + ":build")
    assert code == 0 and "nb:" in out
