"""Every JSON the command line prints carries the contract's version and no NaN or Infinity."""
import json

import pytest

from cnncost.cli import main
from cnncost.conventions import SCHEMA_VERSION

TINY = "name: tiny\ninput: [3, 8, 8]\nlayers: [{type: conv, out: 4, kernel: 3}, {type: relu}]\n"


def _refuse(name):
    raise AssertionError(f"JSON holds {name}")


def _json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out, parse_constant=_refuse)


COMMANDS = {
    "table": ["table", "alexnet", "--format", "json"],
    "table-autograd": ["table", "alexnet", "--memory", "autograd", "--format", "json"],
    "compare": ["compare", "alexnet", "vgg11", "--format", "json"],
    "fit": ["fit", "alexnet", "--budget", "8GiB", "--format", "json"],
    "sweep": ["sweep", "alexnet", "--batch", "1,8", "--format", "json"],
    "list": ["list", "alexnet*", "--format", "json"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_json_output_has_the_schema_version(capsys, name):
    data = _json(capsys, *COMMANDS[name])
    assert data["schema_version"] == SCHEMA_VERSION


def test_check_json_has_the_schema_version(capsys, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    code = main(["check", str(path), "--format", "json"])
    data = json.loads(capsys.readouterr().out, parse_constant=_refuse)
    assert code == 0 and data["schema_version"] == SCHEMA_VERSION


def test_fit_json_is_exact_and_names_the_budget_as_written(capsys):
    data = _json(capsys, "fit", "alexnet", "--budget", "8GB", "--format", "json")
    assert data["budget_bytes"] == 8 * 10**9 and data["budget"] == "8 GB"
    step = data["training_step"]
    assert sum(step["breakdown"].values()) == step["peak_bytes"] <= 8 * 10**9
