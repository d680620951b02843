"""`cnncost list --format csv|json` (issue 21, item 4): the totals of every built-in come from the
per-sample sums shipped in cnncost/zoo/_totals.json, so listing compiles nothing; the sums must be
current and give exactly what `table` gives at any configuration."""
from __future__ import annotations

import json

import pytest

import cnncost
import cnncost.api
import cnncost.zoo.totals as totals
from cnncost.cli import main
from cnncost.frames import zoo_records
from cnncost.zoo.registry import list_archs


def test_the_shipped_totals_are_current():
    names = [arch.name for arch in list_archs()]
    assert totals.TOTALS_FILE.read_text(encoding="utf-8") == totals.totals_text(names), (
        "a built-in changed: run `python -m cnncost.zoo.totals` and commit cnncost/zoo/_totals.json")


@pytest.mark.parametrize("options", [
    {"batch": 128, "dtype": "fp32", "optimizer": "adam", "activations": "all"},
    {"batch": 7, "dtype": "bf16", "optimizer": "sgd", "activations": "lecture"},
])
def test_listed_totals_equal_the_tables(options):
    columns, rows = zoo_records("*", **options)
    assert len(rows) == len(list_archs())
    for row in rows:
        record = dict(zip(columns, row))
        report = cnncost.table(record["architecture"], **options)
        for key, value in report.totals.figures.items():
            if key in record:
                assert record[key] == value, (record["architecture"], key)
        assert record["macs_per_image"] * options["batch"] == report.totals.figures["macs"]


def test_listing_compiles_no_built_in(monkeypatch, capsys):
    def no_compiling(*args, **kwargs):
        raise AssertionError("a built-in was compiled")
    monkeypatch.setattr(cnncost.api, "_compile", no_compiling)
    assert main(["list", "resnet*", "--format", "json", "--batch", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["architecture"] for a in data["architectures"]] == [a.name for a in list_archs("resnet*")]
    assert data["architectures"][0]["batch"] == 3


def test_an_architecture_the_shipped_file_lacks_is_computed(monkeypatch, capsys):
    assert main(["list", "alexnet", "--format", "csv"]) == 0
    shipped = capsys.readouterr().out
    monkeypatch.setattr(totals, "shipped", dict)  # as if the file held no architecture
    assert main(["list", "alexnet", "--format", "csv"]) == 0
    assert capsys.readouterr().out == shipped
