"""`--count-as TOOL` shows the tool's figure as an `ops` column in the text and CSV tables."""
from __future__ import annotations

import json

from cnncost.cli import main


def test_count_as_adds_the_ops_column(capsys) -> None:
    assert main(["table", "resnet18", "--batch", "1", "--count-as", "fvcore", "--format", "json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert main(["table", "resnet18", "--batch", "1", "--count-as", "fvcore"]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("layer "))
    assert " ops " in header
    assert main(["table", "resnet18", "--batch", "1", "--count-as", "fvcore", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    columns, last = lines[0].split(","), lines[-1].split(",")
    assert int(last[columns.index("ops")]) == total["ops"]
    assert int(last[columns.index("training_flops")]) == total["training_flops"]
    assert main(["table", "resnet18", "--batch", "1"]) == 0
    assert " ops " not in next(line for line in capsys.readouterr().out.splitlines() if line.startswith("layer "))
