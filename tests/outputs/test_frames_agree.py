"""Issue 22 item 9, frames that agree: numeric input sizes in sweeps, `to_csv(path)`, `to_html`,
`to_latex`, `to_markdown` on reports and comparisons (the command line's renderers), the CSV's
training FLOPs and `row_kind`, `Literal` option types. (Ratios as Float64, one index convention and
no duplicate column: tests/outputs/test_frames.py.)"""
from __future__ import annotations

import csv
import io
import typing
from pathlib import Path

import pytest

import cnncost
from cnncost.cli import main
from cnncost.literals import DType, MemoryConvention, Mode, Optimizer


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_sweep_frames_carry_the_input_sizes_as_ints() -> None:
    frame = cnncost.sweep("resnet18", batch=[1, 2], input=[160, "3x224x192"])
    assert list(frame.columns[:5]) == ["input", "input_channels", "input_height", "input_width", "batch"]
    assert all(str(frame[c].dtype) == "int64" for c in ("input_channels", "input_height", "input_width"))
    assert [(c, h, w) for c, h, w in zip(frame.input_channels, frame.input_height, frame.input_width)] == [
        tuple(int(v) for v in str(text).split("x")) for text in frame["input"]]
    assert frame[frame.input_height == 224]["input_width"].tolist() == [192, 192]
    # a 1-D input: channels and length
    line = cnncost.Net("line", input=(4, 50), layers=[cnncost.Conv(out=8, kernel=3, name="c")])
    assert list(cnncost.sweep(line, input=["4x50", "4x80"]).columns[1:3]) == ["input_channels", "input_length"]
    empty = cnncost.sweep("alexnet", input=[8], invalid="drop")  # nothing runs: the same columns, empty
    assert len(empty) == 0 and str(empty["input_height"].dtype) == "int64"


def test_the_sweep_command_keeps_its_columns(capsys: pytest.CaptureFixture[str]) -> None:
    header = cli(capsys, "sweep", "resnet18", "--batch", "1", "--format", "csv").splitlines()[0]
    assert header.startswith("input,batch,dtype,optimizer,") and "input_height" not in header


def test_report_exports_are_the_commands_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = cnncost.table("resnet18", batch=2)
    for fmt, method in (("csv", report.to_csv), ("markdown", report.to_markdown), ("html", report.to_html),
                        ("latex", report.to_latex)):
        text = method()
        assert text.rstrip("\n") == cli(capsys, "table", "resnet18", "--batch", "2", "--format", fmt).rstrip("\n")
        path = tmp_path / f"resnet18.{fmt}"
        assert method(path) is None  # written, as pandas' to_csv(path)
        assert path.read_text(encoding="utf-8") == text.rstrip("\n") + "\n"
    assert report.to_html() == report._repr_html_()


def test_comparison_exports_are_the_commands_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    comparison = cnncost.compare(["alexnet", "resnet18"], batch=4)
    for fmt, method in (("csv", comparison.to_csv), ("markdown", comparison.to_markdown),
                        ("html", comparison.to_html), ("latex", comparison.to_latex)):
        text = method()
        if fmt == "latex":  # `compare` has no --format latex: the table's LaTeX, its notes as comments
            assert "\\begin{tabular}" in text and "% Ratios are to alexnet" in text and "resnet18" in text
        else:
            assert text.rstrip("\n") == cli(capsys, "compare", "alexnet", "resnet18", "--batch", "4",
                                            "--format", fmt).rstrip("\n")
        assert method(str(tmp_path / f"c.{fmt}")) is None
        assert (tmp_path / f"c.{fmt}").read_text(encoding="utf-8") == text.rstrip("\n") + "\n"


def test_csv_has_the_training_flops_and_marks_the_total() -> None:
    report = cnncost.table("resnet18", batch=2, depth=0)
    records = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert list(records[0])[-3:] == ["backward_flops", "training_flops", "row_kind"]
    assert [r["row_kind"] for r in records].count("total") == 1 and records[-1]["row_kind"] == "total"
    kinds = {r["name"]: r["row_kind"] for r in records}
    assert kinds["conv1"] == "layer" and kinds["layer1"] == "block"  # depth 0: layer1 collapsed
    for record, row in zip(records, report.rows + (report.totals,)):
        assert int(record["training_flops"]) == row.training_flops and int(record["backward_flops"]) == row.backward_flops
    # resnet18 at batch 2: forward 2 x 1,814,078,976 x 2 FLOPs; training = forward + backward (the JSON's total)
    assert int(records[-1]["training_flops"]) == report.to_dict()["total"]["training_flops"]


def test_the_option_parameters_are_literal_types() -> None:
    for function in (cnncost.table, cnncost.fit, cnncost.sweep, cnncost.zoo_frame):
        hints = typing.get_type_hints(function)
        assert hints["dtype"] in (DType, DType | typing.Iterable[DType]), function
        assert hints["optimizer"] in (Optimizer, Optimizer | typing.Iterable[Optimizer]), function
    assert typing.get_type_hints(cnncost.table)["memory"] == MemoryConvention
    assert typing.get_type_hints(cnncost.fit)["mode"] == Mode
    from cnncost.conventions import DTYPE_ALIASES, DTYPE_BYTES, OPTIMIZER_COPIES
    assert set(typing.get_args(DType)) == set(DTYPE_BYTES) | set(DTYPE_ALIASES)
    assert set(typing.get_args(Optimizer)) == set(OPTIMIZER_COPIES)
