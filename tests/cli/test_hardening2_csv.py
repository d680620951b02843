"""CSV and escaping (issue 21, item 5): CSV is written by the standard library's `csv` module and
every name reads back exactly with `csv.reader`; no output format carries a raw control byte
(CSV shows them escaped, `\\x1b`); spreadsheet-formula neutralising only with --csv-safe."""
from __future__ import annotations

import csv
import io
import json

import pytest

from cnncost.cli import main

# names a CSV writer must quote or keep as they are (formula-looking cells included)
PLAIN_NAMES = ['=HYPERLINK("http://x","y")', "-minus,comma", "+plus", '@at "quoted"', "back\\slash", "caf\u00e9 \u4e2d"]
SPEC = f"""name: payloads
input: [3, 8, 8]
layers:
  - {{name: {json.dumps(PLAIN_NAMES[0])}, type: conv, out: 4, kernel: 3}}
  - {{name: {json.dumps(PLAIN_NAMES[1])}, type: relu}}
  - {{name: {json.dumps(PLAIN_NAMES[2])}, type: adaptive_avgpool, output: 1}}
  - {{name: {json.dumps(PLAIN_NAMES[3])}, type: flatten}}
  - {{name: {json.dumps(PLAIN_NAMES[4])}, type: linear, out: 4}}
  - {{name: {json.dumps(PLAIN_NAMES[5])}, type: relu}}
  - {{name: "esc\\x1b[31mred\\x00nul\\nline\\u202ebidi", type: linear, out: 2}}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "payloads.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def table(capsys, *argv):
    assert main(["table", *map(str, argv)]) == 0
    return capsys.readouterr().out


def test_every_name_reads_back_exactly_with_csv_reader(capsys, spec):
    rows = list(csv.reader(io.StringIO(table(capsys, spec, "--format", "csv"))))
    names = [row[0] for row in rows[2:-1]]
    assert names[:len(PLAIN_NAMES)] == PLAIN_NAMES
    attrs = {row[0]: row[3] for row in rows}
    assert attrs["+plus"] == "-> 1x1"  # machine data unchanged (it was "'-> 1x1")
    assert all(len(row) == len(rows[0]) for row in rows)


def test_control_characters_are_escaped_visibly_in_csv(capsys, spec):
    out = table(capsys, spec, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[-2][0] == "esc\\x1b[31mred\\x00nul\\nline\\u202ebidi"


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv", "json", "html", "latex"])
def test_no_format_carries_a_raw_control_byte(capsys, spec, fmt):
    out = table(capsys, spec, "--format", fmt)
    raw = {ch for ch in out if (ord(ch) < 32 and ch != "\n") or 0x7f <= ord(ch) <= 0x9f or ch == "\u202e"}
    assert raw == set(), (fmt, raw)


def test_csv_safe_neutralises_formulas_on_request_only(capsys, spec):
    safe = list(csv.reader(io.StringIO(table(capsys, spec, "--format", "csv", "--csv-safe"))))
    names = [row[0] for row in safe[2:-1]]
    assert names[:4] == ["'" + name for name in PLAIN_NAMES[:4]]
    assert names[4:6] == PLAIN_NAMES[4:6]
    assert {row[0]: row[3] for row in safe}["'+plus"] == "'-> 1x1"
    plain = list(csv.reader(io.StringIO(table(capsys, spec, "--format", "csv"))))
    assert [row[6:] for row in safe] == [row[6:] for row in plain]  # figures untouched


def test_csv_safe_keeps_negative_numbers():
    from cnncost.formatting import csv_formula_safe
    assert csv_formula_safe("a,-5,-1.5e3,=1+1,-x\n") == "a,-5,-1.5e3,'=1+1,'-x\n"
