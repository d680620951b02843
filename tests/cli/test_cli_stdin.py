"""`-` reads the spec from stdin in every command that takes one."""
import io

import pytest

from cnncost.cli import main

TINY = "name: piped\ninput: [3, 8, 8]\nlayers: [{type: conv, out: 4, kernel: 3}, {type: relu}]\n"


@pytest.mark.parametrize("argv", [
    ["table", "-"], ["fit", "-", "--budget", "1GB"], ["spec", "-"], ["compare", "-", "alexnet"],
    ["sweep", "-", "--batch", "1,2"],
], ids=["table", "fit", "spec", "compare", "sweep"])
def test_stdin_in_every_command(capsys, monkeypatch, argv):
    monkeypatch.setattr("sys.stdin", io.StringIO(TINY))
    assert main(argv) == 0
    assert "piped" in capsys.readouterr().out


def test_stdin_in_check(capsys, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr("sys.stdin", io.StringIO(TINY))
    assert main(["check", "-"]) == 0 and "piped" in capsys.readouterr().out


def test_stdin_only_once(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(TINY))
    assert main(["compare", "-", "-"]) == 2
    assert "'-' (stdin) can be given only once" in capsys.readouterr().err


def test_stdin_error_names_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("name: x\nlayers: []\n"))
    assert main(["table", "-"]) == 2
    assert capsys.readouterr().err.startswith("cnncost: error: <stdin>: missing top-level key 'input'")
