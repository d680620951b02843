"""A figure defined here, in the test, through the column registry's public API (one `register`
call) shows in every output: text, markdown, HTML, LaTeX, CSV, JSON, the DataFrame (per batch and
per image), compare, zoo_frame and the sweep."""
import csv
import io
import json

import pytest

import cnncost
from cnncost.columns import Column, register, unregister


def weights_per_output(q):
    """Params per stored output element (+1: rows that store nothing stay defined)."""
    return q.params // (q.stored + q.input + 1)


@pytest.fixture
def figure():
    column = register(Column("weights_per_output", weights_per_output, "grouped", "weights/output",
                             monotone=False))
    yield column
    unregister(column.name)


def expected(row, batch):
    return row.params // (row.activations // batch + 1)


BATCH = 8


@pytest.fixture
def report(figure):
    return cnncost.table("alexnet", batch=BATCH)


def test_rows_and_total_have_it(report):
    conv1 = report.rows[1]
    assert conv1.weights_per_output == 34944 // (96 * 55 * 55 + 1) == 0
    fc6 = next(r for r in report.rows if r.name == "fc6")
    assert fc6.weights_per_output == 37_752_832 // (4096 + 1) == 9214
    for row in report.rows + (report.totals,):
        assert row.weights_per_output == expected(row, BATCH), row.name


def test_text_markdown_html_latex(report):
    fc6 = next(r for r in report.rows if r.name == "fc6")
    for text in (report.to_text(), report.to_markdown(), report._repr_html_()):
        assert "weights/output" in text and "9,214" in text
    from cnncost.outputs.tables import render
    latex = render(report, "latex")
    assert "weights/output" in latex and "9,214" in latex
    lines = report.to_text().split("\n")
    header = lines[next(i for i, line in enumerate(lines) if line.startswith("-----")) - 1]  # above the dashes
    assert header.index("FLOPs") < header.index("weights/output") < header.index("act. MiB")
    assert fc6.weights_per_output == 9214


def test_csv_and_json(report):
    records = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert list(records[0])[13] == "weights_per_output"  # after memory_bytes, the lecture's figures
    for record, row in zip(records, report.rows + (report.totals,)):
        assert int(record["weights_per_output"]) == row.weights_per_output
    data = json.loads(report.to_json())
    assert [layer["weights_per_output"] for layer in data["layers"]] == [r.weights_per_output for r in report.rows]
    assert data["total"]["weights_per_output"] == report.totals.weights_per_output
    assert list(data["layers"][0]).index("weights_per_output") == list(data["layers"][0]).index("memory_bytes") + 1


def test_dataframe_per_batch_and_per_image(report):
    frame = report.to_dataframe()
    assert frame["weights_per_output"].dtype == "int64"
    assert frame["weights_per_output"].tolist() == [r.weights_per_output for r in report.rows]
    per_image = report.to_dataframe(per_image=True).set_index("name")
    assert per_image.loc["fc6", "weights_per_output"] == 37_752_832 // (4096 + 1)


def test_compare_and_zoo_frame(figure):
    comparison = cnncost.compare(["alexnet", "resnet18"], batch=BATCH)
    data = comparison.to_dict()["architectures"]
    totals = [r.totals for r in comparison.reports]
    assert [a["weights_per_output"] for a in data] == [expected(t, BATCH) for t in totals]
    assert data[1]["ratios"]["weights_per_output"] == pytest.approx(
        totals[1].weights_per_output / totals[0].weights_per_output)
    assert "weights/output" in comparison.to_text()
    assert comparison.to_dataframe().set_index("architecture").loc["resnet18", "weights_per_output"] == totals[1].weights_per_output
    zoo = cnncost.zoo_frame("alexnet", batch=BATCH).set_index("architecture")
    assert zoo.loc["alexnet", "weights_per_output"] == totals[0].weights_per_output


def test_sweep_equals_the_table(figure):
    frame = cnncost.sweep("resnet18", batch=[1, 4], input=[160, 224])
    for row in frame.itertuples():
        total = cnncost.table("resnet18", batch=row.batch, input=str(row.input)).totals
        assert row.weights_per_output == total.weights_per_output


def test_unregistered_it_is_gone(figure):
    unregister(figure.name)
    try:
        report = cnncost.table("alexnet", batch=BATCH)
        assert "weights_per_output" not in report.to_json() and "weights/output" not in report.to_text()
        with pytest.raises(AttributeError):
            report.totals.weights_per_output
    finally:
        register(figure)
