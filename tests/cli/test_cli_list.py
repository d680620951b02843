"""`cnncost list --format text|csv|json`: the fields of cnncost.zoo_frame()."""
import csv
import io
import json

import cnncost
from cnncost.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_text_is_unchanged(capsys):
    code, out = _run(capsys, "list", "vgg1*")
    assert code == 0 and out.split()[:3] == ["name", "source", "description"]


def test_csv_has_every_field_of_zoo_frame_exactly(capsys):
    code, out = _run(capsys, "list", "resnet1*", "--format", "csv")
    frame = cnncost.zoo_frame("resnet1*")
    rows = list(csv.DictReader(io.StringIO(out)))
    # the frame's fields, and `name` (the `architecture`: kept in list's CSV and JSON, schema 1)
    assert code == 0 and list(rows[0]) == ["architecture", "name", *[str(c) for c in frame.columns][1:]]
    assert [r["name"] for r in rows] == [r["architecture"] for r in rows] == list(frame["architecture"])
    assert [int(r["params"]) for r in rows] == [int(v) for v in frame["params"]]
    assert {r["family"] for r in rows} == {"ResNet"}


def test_json_rows_are_exact_ints(capsys):
    code, out = _run(capsys, "list", "alexnet", "--format", "json", "--batch", "1")
    data = json.loads(out)
    row = next(r for r in data["architectures"] if r["name"] == "alexnet")
    assert code == 0 and data["batch"] == 1 and row["params"] == 62378344 and type(row["macs"]) is int
    assert row["family"] == "AlexNet" and data["columns"][0] in row


def test_no_match_is_one_line(capsys):
    assert main(["list", "zzz*", "--format", "csv"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
