"""Tables that fit (issue 22, item 7): `columns=` / `--columns`, the conventions and units lines
wrapped to the terminal (100 characters when not one), one byte unit per table, an HTML table
that fits the notebook's width, and a default text table narrower than it was."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

import cnncost
from cnncost.cli import main
from cnncost.errors import CnnCostError
from cnncost.outputs.tables import render
from cnncost.outputs.widths import PIPED_WIDTH, terminal_width, wrap

BYTE_UNIT = re.compile(r" (B|KiB|MiB|GiB|TiB)$")


def table_part(text: str) -> tuple[list[str], list[str]]:
    """The text table's header cells and its lines (header, dashes, rows), split on 2+ spaces."""
    lines = text.splitlines()
    dashes = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line))
    end = lines.index("", dashes)
    return re.split(r"\s{2,}", lines[dashes - 1].strip()), lines[dashes - 1:end]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- choosing the columns ---

def test_columns_choose_the_text_markdown_html_and_latex_tables() -> None:
    report = cnncost.table("alexnet", columns="params, macs,output_shape")
    header, lines = table_part(report.to_text())
    assert header == ["layer", "params", "MACs", "output"]  # the order asked, after the layer's name
    assert lines[2].split() == ["input", "0", "0", "3x224²"]
    assert lines[3].split() == ["conv1", "34,944", "13.49G", "96x55²"]  # (11*11*3+1)*96; 55*55*96*363*128
    markdown = report.to_markdown()
    head = next(line for line in markdown.splitlines() if line.startswith("| layer"))
    assert [cell.strip() for cell in head.strip("|").split("|")] == ["layer", "params", "MACs", "output"]
    assert re.search(r"\| conv1 +\| +34,944 \| +13\.49G \| 96x55² +\|", markdown)
    html = report._repr_html_()
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert heads == ["layer", "params", "MACs", "output"]
    latex = render(report, "latex")
    assert "layer" in latex and "act. MiB" not in latex and "96x55x55" in latex  # LaTeX keeps the plain shape


def test_columns_choose_the_csv_and_the_dataframe_with_the_same_figures() -> None:
    full = cnncost.table("alexnet", batch=4)
    chosen = full.with_columns(["memory_bytes", "params"])
    records = list(csv.DictReader(io.StringIO(chosen.to_csv())))
    assert list(records[0]) == ["name", "memory_bytes", "params"]
    every = list(csv.DictReader(io.StringIO(full.to_csv())))
    assert [(r["name"], r["memory_bytes"], r["params"]) for r in every] == \
           [(r["name"], r["memory_bytes"], r["params"]) for r in records]
    frame = chosen.to_dataframe()
    assert list(frame.columns) == ["name", "memory_bytes", "params"]
    assert frame["params"].tolist() == full.to_dataframe()["params"].tolist() and str(frame["params"].dtype) == "int64"
    assert frame.attrs["architecture"] == "alexnet" and frame.attrs["batch"] == 4
    per_image = chosen.to_dataframe(per_image=True)
    assert list(per_image.columns) == ["name", "memory_bytes", "params"]
    assert json.loads(chosen.to_json()) == json.loads(full.to_json())  # JSON keeps every figure
    assert chosen.with_columns(None).to_text() == full.to_text()


def test_columns_keep_only_the_chosen_unknown_marks() -> None:
    from cnncost import Conv, Net
    from cnncost.layers.imported import Opaque
    net = Net("op", input=(3, 8, 8), layers=[Conv(out=4, kernel=3, name="conv0"),
                                            Opaque(name="lstm", op="torch.nn.LSTM", shape=(4, 6, 6))])
    report = cnncost.table(net, batch=2)
    lstm = next(r for r in csv.DictReader(io.StringIO(report.with_columns("params,macs").to_csv())) if r["name"] == "lstm")
    assert lstm == {"name": "lstm", "params": lstm["params"], "macs": "", "unknown": "macs"}
    known = list(csv.DictReader(io.StringIO(report.with_columns("params").to_csv())))
    assert list(known[0]) == ["name", "params"]  # no chosen figure is unknown: no unknown column


def test_an_unknown_column_is_one_line_with_the_closest_names(capsys) -> None:
    with pytest.raises(CnnCostError, match=r"^unknown column 'mac'; did you mean 'macs'") as error:
        cnncost.table("alexnet", columns="params,mac")
    assert "\n" not in str(error.value)
    with pytest.raises(CnnCostError, match=r"column 'saved_bytes' is not in this report .*--memory autograd"):
        cnncost.table("alexnet", columns="saved_bytes")
    code, out, err = run(capsys, "table", "alexnet", "--columns", "params,flop")
    assert code == 2 and out == "" and err.count("\n") == 1 and "did you mean 'flops'" in err
    code, _, err = run(capsys, "table", "alexnet", "--columns", "params", "--format", "json")
    assert code == 2 and "JSON keeps every figure" in err and err.count("\n") == 1


def test_columns_help_and_the_help_list_the_names(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["table", "--columns", "help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for name in ("output_shape", "activations", "params", "macs", "flops", "activation_memory_bytes",
                 "param_memory_bytes", "memory_bytes", "saved_bytes", "training_flops"):
        assert re.search(rf"^  {name} ", out, re.MULTILINE), name
    with pytest.raises(SystemExit):
        main(["table", "--help"])
    assert "activation_memory_bytes" in capsys.readouterr().out.replace("\n", "")
    code, out, _ = run(capsys, "table", "alexnet", "--columns", "params,flops", "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "name,params,flops" and out.splitlines()[2] == "conv1,34944,26986291200"


def test_compare_takes_columns(capsys) -> None:
    code, out, _ = run(capsys, "compare", "alexnet", "resnet18", "--columns", "macs,params")
    header, _ = table_part(out)
    assert code == 0 and header == ["architecture", "MACs", "params"]
    code, out, _ = run(capsys, "compare", "alexnet", "resnet18", "--columns", "memory_bytes", "--format", "csv")
    assert out.splitlines()[0] == "name,memory_bytes,memory_bytes_ratio"
    code, _, err = run(capsys, "compare", "alexnet", "resnet18", "--columns", "type")
    assert code == 2 and "not in a comparison" in err and err.count("\n") == 1


# --- wrapped to the width ---

def test_wrap_breaks_at_separators_never_inside_a_figure() -> None:
    text = ("resnet50: input 3x224x224, 25,557,032 params; per image 3.86 GMACs = 7.72 GFLOPs; per batch of "
            "128: 493.82 GMACs = 987.64 GFLOPs; training memory 26.10 GiB (the lecture's rule)")
    for width in (100, 80, 60, 40, 30):
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines), (width, lines)
        assert " ".join(line.strip() for line in lines) == text  # nothing lost, nothing added
        for line in lines:  # a number never ends a line whose next starts with its unit
            assert not re.search(r"\d$", line), (width, line)
    assert wrap("short", 100) == ["short"]


def test_conventions_and_units_fit_100_characters_when_piped(capsys) -> None:
    assert terminal_width() == PIPED_WIDTH == 100  # pytest captures stdout: not a terminal
    text = cnncost.table("resnet50", memory="autograd").to_text()
    notes = text[text.index("Conventions: "):]
    assert notes.count("\n") >= 4 and all(len(line) <= 100 for line in notes.splitlines())
    before = "Conventions: " + cnncost.table("resnet50", memory="autograd").options.describe()
    assert len(before) > 300  # it was one line of this length
    _, out, _ = run(capsys, "compare", "alexnet", "vgg16", "resnet50")
    assert all(len(line) <= 100 for line in out[out.index("Ratios are to"):].splitlines())
    narrow = render(cnncost.table("alexnet"), "text", width=60)
    assert all(len(line) <= 60 for line in narrow[narrow.index("Conventions: "):].splitlines())


def test_the_terminal_width_where_stdout_is_one(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.setenv("COLUMNS", "72")
    assert terminal_width() == 72
    text = cnncost.table("alexnet").to_text()
    assert all(len(line) <= 72 for line in text[text.index("Conventions: "):].splitlines())


# --- one byte unit per table ---

@pytest.mark.parametrize("arch,depth", [("block-basic", None), ("resnet152", 0), ("alexnet", None)])
def test_every_byte_column_of_a_table_has_one_unit(arch, depth) -> None:
    """block-basic's param memory was KiB beside MiB of activations, resnet152 --depth 0 had MiB
    params beside GiB activations; memory = act. + param must read in one unit."""
    report = cnncost.table(arch, depth=depth)
    header, lines = table_part(report.to_text())
    units = {BYTE_UNIT.search(h).group(1) for h in header if BYTE_UNIT.search(h)}
    assert len(units) == 1 and sum(1 for h in header if BYTE_UNIT.search(h)) == 3
    total = re.split(r"\s{2,}", lines[-1].strip())
    act, param, memory = (float(cell.replace(",", "")) for cell in total[-3:])
    assert abs(act + param - memory) <= 0.1 + 1e-9  # each rounded to 0.1 of the unit


def test_one_byte_unit_keeps_the_small_figures() -> None:
    """resnet152 --depth 0: the unit is MiB (largest layer 23.5 GiB < 100,000 MiB), not GiB, so a
    stage's parameter memory shows its digits."""
    report = cnncost.table("resnet152", depth=0)
    header, lines = table_part(report.to_text())
    assert "param MiB" in header
    layer1 = next(re.split(r"\s{2,}", line.strip()) for line in lines if line.startswith("layer1 "))
    assert layer1[-2] == f"{report.rows[next(i for i, r in enumerate(report.rows) if r.name == 'layer1')].param_memory_bytes / 2**20:,.1f}"


def test_compare_and_sweep_show_one_byte_unit(capsys) -> None:
    _, out, _ = run(capsys, "compare", "alexnet", "vgg16", "resnet50")
    header, lines = table_part(out)
    assert "act. MiB" in header and "memory MiB" in header and "GiB" not in "".join(lines)
    assert " 836.91 " in lines[2]  # alexnet's 877,559,808 activation bytes / 2^20, not '0.8 GiB'
    _, out, _ = run(capsys, "sweep", "block-basic", "--batch", "1,256")
    header, _ = table_part(out)
    assert len({BYTE_UNIT.search(h.replace("(", " ").rstrip(")")).group(1) for h in header if h.endswith("B)")}) == 1


# --- HTML that fits the notebook ---

def test_html_fits_the_notebook_width() -> None:
    html = cnncost.table("resnet50")._repr_html_()
    tables = re.findall(r"<table style=\"([^\"]*)\">", html)
    assert tables and all("width: 100%" in t and "max-width:" in t and "table-layout: fixed" in t for t in tables)
    colgroup = re.search(r"<colgroup>(.*?)</colgroup>", html).group(1)
    widths = [int(w) for w in re.findall(r"width: (\d+)ch", colgroup)]
    assert colgroup.startswith("<col>")  # the layer's name takes the room left
    assert sum(widths) <= 110  # the other columns fit beside it in a notebook's ~130-160 characters
    heads = re.findall(r"<th style=\"([^\"]*)\">([^<]*)</th>", html)
    assert all("white-space: normal" in style for style, _ in heads)  # headers wrap at their spaces
    for (_, head), width in zip(heads[1:], widths):
        assert max(len(word) for word in head.split()) + 2 <= width, head
    assert ">layer1.<wbr>0.<wbr>residual.<wbr>conv1<" in html  # names break at their dots
    assert "overflow-x" not in html and "nowrap" not in html


# --- narrower ---

def test_resnet50s_default_text_table_is_narrower() -> None:
    """The table was 169 characters wide before issue 22 (`cnncost table resnet50` on main,
    2026-12-07; its conventions line 322); now 143, with the lecture's columns all there."""
    text = cnncost.table("resnet50").to_text()
    header, lines = table_part(text)
    assert header == ["layer", "type", "kernel", "output", "activations", "params", "MACs", "FLOPs", "act. MiB",
                      "param MiB", "memory MiB"]
    assert max(len(line) for line in lines) <= 143
