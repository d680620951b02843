"""Hardening (issue 9): whatever the input, the command line ends in a table or in ONE line
`cnncost: error: FILE: ...` with exit 2 -- never a traceback, a hang or a wrong byte.

One test (or a few) per class of failure the fuzzing campaign found; each fails without its fix.
"""
from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from fractions import Fraction

import pytest

import cnncost
from cnncost.cli import main
from cnncost.errors import CnnCostError, SpecError

TINY = "name: tiny\ninput: [3, 8, 8]\nlayers:\n  - {name: conv, type: conv, out: 4, kernel: 3, padding: 1}\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    """The single stderr line of a failed command."""
    lines = err.split("\n")
    assert len(lines) == 2 and lines[1] == "", f"not one line: {err!r}"
    assert lines[0].startswith("cnncost: error: "), err
    assert "Traceback" not in err
    return lines[0]


def spec_file(tmp_path, text: str | bytes, name: str = "net.yaml"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- 1. reading spec files ---

@pytest.mark.parametrize("data,expected", [
    ("name: caf\u00e9\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n".encode("latin-1"),
     "not UTF-8: byte 0xe9 at line 1, column 10 (latin-1 or cp1252 text?)"),
    ("name: x\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n".encode("utf-16"), "UTF-16 text, not UTF-8"),
    ("name: x\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n".encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
    (bytes(range(256)) * 4, "binary data"),
    (b"\x1f\x8b\x08\x00\x00\x00", "gzip-compressed data"),
])
def test_a_spec_that_is_not_utf8_is_named_for_what_it_is(capsys, tmp_path, data, expected):
    path = spec_file(tmp_path, data)
    code, out, err = run(capsys, "table", path)
    assert code == 2 and out == ""
    line = one_error(err)
    assert line.startswith(f"cnncost: error: {path}: ") and expected in line


def test_a_utf8_byte_order_mark_is_fine(capsys, tmp_path):
    code, out, _ = run(capsys, "table", spec_file(tmp_path, b"\xef\xbb\xbf" + TINY.encode()), "--format", "json")
    assert code == 0 and json.loads(out)["architecture"] == "tiny"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "cnncost.cli", "table", str(fifo)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert one_error(done.stderr) == f"cnncost: error: {fifo}: cannot read spec: it is a named pipe (FIFO), not a regular file"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_or_a_directory_is_refused(capsys, tmp_path):
    code, _, err = run(capsys, "table", "/dev/zero")
    assert code == 2 and one_error(err).endswith("/dev/zero: cannot read spec: it is a character device, not a regular file")
    (tmp_path / "dir.yaml").mkdir()
    code, _, err = run(capsys, "table", tmp_path / "dir.yaml")
    assert code == 2 and one_error(err).endswith("cannot read spec: it is a directory, not a regular file")


def test_files_above_the_size_limit_are_not_read(capsys, tmp_path, monkeypatch):
    path = spec_file(tmp_path, TINY + "notes: " + "x" * 4000 + "\n")
    code, _, err = run(capsys, "table", path, "--max-spec-bytes", "1KiB")
    assert code == 2 and "above the 1,024 bytes limit for spec files" in one_error(err)
    monkeypatch.setenv("CNNCOST_MAX_SPEC_BYTES", "2048")
    code, _, err = run(capsys, "table", path)
    assert code == 2 and "above the 2,048 bytes limit" in one_error(err)
    assert run(capsys, "table", path, "--max-spec-bytes", "1MiB")[0] == 0  # the option wins
    monkeypatch.delenv("CNNCOST_MAX_SPEC_BYTES")
    big = spec_file(tmp_path, TINY + "notes: " + "x" * (17 * 2**20) + "\n", "big.yaml")
    code, _, err = run(capsys, "table", big)  # the default: 16 MiB
    assert code == 2 and "is 17.0 MiB, above the 16.0 MiB limit" in one_error(err)


def test_a_300_character_name_is_an_unknown_architecture_not_an_oserror(capsys):
    name = "a" * 300
    code, _, err = run(capsys, "table", name)
    assert code == 2 and one_error(err).startswith("cnncost: error: unknown architecture 'aaaa")
    from cnncost.reading import is_spec_path
    assert not is_spec_path(name) and not is_spec_path("x\x00y") and not is_spec_path("vgg16")
    assert is_spec_path("-") and is_spec_path("net.yml") and is_spec_path("./vgg16") and is_spec_path(name + ".yaml")


def test_dash_reads_the_spec_from_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TINY.encode())))
    code, out, _ = run(capsys, "table", "-", "--format", "json")
    assert code == 0 and json.loads(out)["total"]["params"] == 112
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"name: [")))
    code, _, err = run(capsys, "table", "-")
    assert code == 2 and one_error(err).startswith("cnncost: error: <stdin>: invalid YAML at line 2, column 1")


# --- 1. the YAML loader: plain data, bounded ---

def test_duplicate_keys_are_rejected_naming_the_key_and_line(capsys, tmp_path):
    path = spec_file(tmp_path, "name: a\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, out: 2, kernel: 1, out: 3}\n")
    code, _, err = run(capsys, "table", path)
    assert code == 2 and one_error(err) == (
        f"cnncost: error: {path}: invalid YAML: duplicate key 'out' at line 4, column 37 (first at line 4, "
        "column 18); a key may appear once in a mapping")
    # a key brought in by a merge may be overridden
    net = cnncost.parse_spec("name: x\ninput: [3, 8, 8]\nlayers: [&b {type: conv, out: 2, kernel: 1}, {<<: *b, out: 3}]\n")
    assert [layer.out for layer in net.layers] == [2, 3]


def test_alias_expansion_is_counted_without_expanding(capsys, tmp_path):
    levels = "".join(f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
    bomb = "name: x\ninput: [3, 8, 8]\nnotes:\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + levels
    path = spec_file(tmp_path, bomb + "layers: [{type: relu}]\n")  # 10^9 nodes in 600 bytes
    code, _, err = run(capsys, "table", path)  # (its speed: benchmarks/bench_guards.py)
    assert code == 2
    assert "the YAML expands to more than 1,000,000 nodes with its aliases expanded" in one_error(err)
    from cnncost.safe_yaml import check_node_graph, load_yaml
    data = load_yaml("a: &x [1, 2, 3]\nb: [*x, *x, *x]\n")
    assert data["b"][0] is data["b"][2] is data["a"]  # shared, not copied
    import yaml
    assert check_node_graph(yaml.compose("a: &x [1, 2, 3]\nb: [*x, *x, *x]\n")) == 1 + 2 + 4 + (1 + 3 * 4)
    with pytest.raises(SpecError, match="more than 10 nodes"):
        load_yaml("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", max_nodes=10)
    assert len(load_yaml("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", max_nodes=11)) == 10


def test_raising_the_yaml_node_limit(capsys, tmp_path, monkeypatch):
    path = spec_file(tmp_path, TINY + "notes: " + str(list(range(300))).replace("'", "") + "\n")
    code, _, err = run(capsys, "table", path, "--max-yaml-nodes", "100")
    assert code == 2 and "raise the limit with --max-yaml-nodes" in one_error(err)
    monkeypatch.setenv("CNNCOST_MAX_YAML_NODES", "100")
    code, _, err = run(capsys, "table", path)
    assert code == 2 and "more than 100 nodes" in one_error(err)
    assert run(capsys, "table", path, "--max-yaml-nodes", "1000")[0] == 0


@pytest.mark.parametrize("text,expected", [
    ("name: &a [*a]\n", "a recursive alias: the node at line 1, column 7 contains itself"),
    ("name: x\nlayers: &l [{type: sequential, layers: *l}]\n", "a recursive alias"),
    ("name: !!int x\n", "line 1, column 7: !!int 'x' is not an integer"),
    ("name: !!float x\n", "!!float 'x' is not a number"),
    ("name: !!bool maybe\n", "!!bool 'maybe' is not a boolean"),
    ("name: !!binary aGk=\n", "tag !!binary is not allowed in a spec"),
    ("name: !!python/object:os.system x\n", "unknown tag 'tag:yaml.org,2002:python/object:os.system'"),
    ("name: !custom x\n", "unknown tag '!custom'"),
    ("name: x\ninput: [3, 8, 8]\nlayers: [{type: conv, kernel: 1, out: " + "9" * 5000 + "}]\n",
     "line 3, column 39: an integer of 5,000 digits is beyond Python's 4,300-digit limit"),
    ("name: x\ninput: " + "[" * 300 + "]" * 300 + "\n", "the YAML nests deeper than 256 levels"),
])
def test_hostile_yaml_is_one_line(capsys, tmp_path, text, expected):
    path = spec_file(tmp_path, text)
    code, _, err = run(capsys, "table", path)
    assert code == 2 and expected in one_error(err)


def test_dates_stay_strings_and_only_plain_data_loads():
    from cnncost.safe_yaml import load_yaml
    assert load_yaml("a: 2024-01-01\nb: !!str 12\nc: 0x10\nd: 1_000\ne: ~\n") == {
        "a": "2024-01-01", "b": "12", "c": 16, "d": 1000, "e": None}
    with pytest.raises(SpecError, match="!!timestamp is not allowed"):
        load_yaml("a: !!timestamp 2024-01-01")


# --- 2. exact formatting ---

HUGE = "name: huge\ninput: [3, 100000, 100000]\nlayers: [{type: conv, out: 100000, kernel: 1}]\n"
BATCH = "1" + "0" * 300


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "latex", "csv", "json"])
def test_results_beyond_the_float_range_print_in_every_format(capsys, tmp_path, fmt):
    code, out, err = run(capsys, "table", spec_file(tmp_path, HUGE), "--batch", BATCH, "--format", fmt)
    assert code == 0 and err == ""
    assert "inf" not in out.lower().replace("info", "")
    macs = 3 * 100000 * 100000 * 100000 * 10**300  # per sample x batch
    if fmt == "json":
        assert json.loads(out)["total"]["macs"] == macs
    elif fmt == "csv":
        assert str(macs) in out
    else:
        assert "3.000e+315" in out  # MACs, 4 significant digits


def test_fit_and_compare_beyond_the_float_range(capsys, tmp_path):
    path = spec_file(tmp_path, HUGE)
    tiny = spec_file(tmp_path, TINY, "tiny.yaml")
    code, out, _ = run(capsys, "compare", tiny, path, "--batch", BATCH)
    assert code == 0 and "e+" in out and "inf" not in out
    vast = spec_file(tmp_path, f"name: vast\ninput: [3, 1{'0' * 160}, 1{'0' * 160}]\n"
                     "layers: [{type: conv, out: 1, kernel: 1}]\n", "vast.yaml")
    code, out, _ = run(capsys, "compare", tiny, vast, "--format", "json")
    ratios = json.loads(out)["architectures"][1]["ratios"]
    assert code == 0 and ratios["macs"] is None and ratios["params"] == 4 / 112  # past a float: null
    code, out, _ = run(capsys, "compare", tiny, vast)
    assert code == 0 and "(4.34e+316x)" in out  # the text ratio is exact
    code, out, _ = run(capsys, "fit", tiny, "--memory", "1000000TiB")
    assert code == 0 and "largest batch" in out


def test_human_figures_are_exact_integer_arithmetic():
    from cnncost.formatting import fixed, human_bytes, mebibytes, ratio_text, sci, si
    value = 10**30 + 7
    exact = Fraction(value, 2**20)
    assert mebibytes(2**60 + 2**19) == "1,099,511,627,776.5"  # a float would print .5 as well, but:
    assert fixed(2**53 + 1, 1, 1) == "9,007,199,254,740,993.0"  # a float invents ...992
    assert f"{(2**53 + 1) / 1:,.1f}" != fixed(2**53 + 1, 1, 1)
    assert sci(value, 2**20) == "9.537e+23" and float(exact) == pytest.approx(9.537e23, rel=1e-4)
    assert si(999_995) == "1.00M" and si(10**400) == "1.000e+400" and si(123) == "123"
    assert human_bytes(2**1100).endswith(" TiB") and "e+" in human_bytes(2**1100)
    assert ratio_text(1, 8) == "0.125" and ratio_text(5, 0) == "n/a" and ratio_text(10**500, 3) == "3.333e+499"


def test_compare_with_a_zero_baseline_is_null_and_na(capsys, tmp_path):
    relu = spec_file(tmp_path, "name: relu\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n", "relu.yaml")
    conv = spec_file(tmp_path, TINY, "conv.yaml")
    code, out, _ = run(capsys, "compare", relu, conv, "--format", "json")
    assert code == 0 and "NaN" not in out
    ratios = json.loads(out)["architectures"][1]["ratios"]
    assert ratios["params"] is None and ratios["macs"] is None and ratios["memory_bytes"] > 1
    code, out, _ = run(capsys, "compare", relu, conv)
    assert code == 0 and "112 (n/a)" in out
    code, out, _ = run(capsys, "compare", relu, conv, "--format", "csv")
    assert code == 0 and ",," in out.splitlines()[2]  # an empty cell, not nan
    comparison = cnncost.compare([str(relu), str(conv)])
    assert math.isnan(comparison.ratio(1, "params"))
    with pytest.raises(ValueError):
        json.dumps(float("nan"), allow_nan=False)  # the guard every JSON output goes through


NAMES = ("name: \"<script>alert('x')</script> & co\"\ninput: [3, 8, 8]\nlayers:\n"
         "  - {name: \"=HYPERLINK(1)\", type: conv, out: 4, kernel: 1}\n"
         "  - {name: \"<img src=x onerror=alert(1)>\", type: relu}\n"
         "  - {name: \"a_b&c%d$e#f{g}h~i^j\\\\k|l\", type: relu}\n"
         "  - {name: \"@x\", type: relu}\n  - {name: \"-2\", type: relu}\n")


def test_html_output_escapes_every_name(capsys, tmp_path):
    code, out, _ = run(capsys, "table", spec_file(tmp_path, NAMES), "--format", "html")
    assert code == 0
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in out and "&lt;img src=x" in out
    report = cnncost.table(cnncost.parse_spec(NAMES))
    assert "<script" not in report._repr_html_()


def test_latex_output_escapes_specials(capsys, tmp_path):
    code, out, _ = run(capsys, "table", spec_file(tmp_path, NAMES), "--format", "latex")
    assert code == 0
    assert r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\^{}j\textbackslash{}k|l" in out
    rows = [line for line in out.splitlines() if line.endswith("\\\\")]
    import re
    assert len({len(re.findall(r"(?<!\\)&", row)) for row in rows}) == 1  # every row has the same columns


def test_markdown_escapes_pipes_and_html(capsys, tmp_path):
    code, out, _ = run(capsys, "table", spec_file(tmp_path, NAMES), "--format", "markdown")
    assert code == 0 and "k\\|l" in out and "&lt;img" in out
    widths = {line.count("|") - line.count("\\|") for line in out.splitlines() if line.startswith("|")}
    assert len(widths) == 1


def test_csv_cells_that_would_run_as_formulas_get_an_apostrophe(capsys, tmp_path):
    import csv  # on request since issue 21 (--csv-safe): by default names read back exactly
    code, out, _ = run(capsys, "table", spec_file(tmp_path, NAMES), "--format", "csv", "--csv-safe")
    rows = list(csv.reader(io.StringIO(out)))
    names = [row[0] for row in rows[1:]]
    assert "'=HYPERLINK(1)" in names and "'@x" in names
    assert "-2" in names  # a number is not a formula: --csv-safe leaves numbers (negative ones too) as they are
    assert all(not n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names if n != "-2")
    assert rows[-1][0] == "total" and rows[-1][7] == "16"  # numbers stay numbers


def test_error_messages_stay_on_one_line_whatever_the_names(capsys, tmp_path):
    text = ("name: x\ninput: [3, 8, 8]\nlayers:\n"
            "  - {name: \"evil\\nline\\x1b[31m\\u202e\", type: conv, out: 4, kernel: 30}\n")
    path = spec_file(tmp_path, text, "we\nird.yaml")
    code, _, err = run(capsys, "table", path)
    line = one_error(err)
    assert code == 2 and "layer 'evil\\nline\\x1b[31m\\u202e' (conv): kernel 30x30" in line
    assert "we\\nird.yaml" in line and "\x1b" not in line


def test_table_rows_stay_rows_whatever_the_names(capsys, tmp_path):
    text = "name: \"t\\nx\"\ninput: [3, 8, 8]\nlayers:\n  - {name: \"a\\nb\\x1b[2J\", type: relu}\n"
    code, out, _ = run(capsys, "table", spec_file(tmp_path, text))
    assert code == 0 and "a\\nb\\x1b[2J" in out and "\x1b" not in out
    assert out.splitlines()[0].startswith("t\\nx: input 3x8x8")


# --- 3. DataFrames ---

def test_dataframe_columns_are_int64_only_where_the_sum_fits():
    pytest.importorskip("pandas")
    report = cnncost.table("vgg16", batch=300_000_000)
    frame = report.to_dataframe()
    for column in ("activations", "macs", "flops", "activation_memory_bytes", "memory_bytes"):
        values = [getattr(row, column) for row in report.rows]
        if sum(values) > 2**63 - 1:
            assert frame[column].dtype == object, column
        assert int(frame[column].sum()) == sum(values), column  # no wrap-around
    assert frame["params"].dtype == "int64"
    small = cnncost.table("alexnet").to_dataframe()
    assert all(small[c].dtype == "int64" for c in ("activations", "params", "macs", "flops", "memory_bytes"))


def test_comparison_dataframe_is_never_uint64_or_float(tmp_path):
    pytest.importorskip("pandas")
    big = spec_file(tmp_path, "name: big\ninput: [3, 8, 8]\nlayers: [{type: conv, out: 4, kernel: 1}]\n")
    frame = cnncost.compare(["alexnet", str(big)], batch=2**61).to_dataframe()
    for column in frame.columns:
        assert str(frame[column].dtype) not in ("uint64", "float64"), column
    frame = frame.set_index("architecture")
    assert frame.loc["big", "macs"] == 12 * 64 * 2**61 and isinstance(frame.loc["big", "macs"], int)


# --- 4. the command line boundary ---

@pytest.mark.parametrize("exception,expected", [
    (RecursionError("maximum recursion depth exceeded"), "nests too deeply"),
    (MemoryError(), "out of memory"),
    (OverflowError("int too large to convert to float"), "a number is too large to compute with"),
    (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), "more digits than Python converts"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "cannot be encoded or decoded"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (KeyError("boom\nsecond line"), "unexpected KeyError in cnncost"),
])
def test_every_exception_becomes_one_line_naming_the_file(capsys, tmp_path, monkeypatch, exception, expected):
    import cnncost.api

    def explode(*args, **kwargs):
        raise exception
    monkeypatch.setattr(cnncost.api, "table", explode)
    monkeypatch.delenv("CNNCOST_DEBUG", raising=False)
    path = spec_file(tmp_path, TINY)
    code, out, err = run(capsys, "table", path)
    line = one_error(err)
    assert code == 2 and out == "" and line.startswith(f"cnncost: error: {path}: ") and expected in line
    monkeypatch.setenv("CNNCOST_DEBUG", "1")  # developers get the traceback
    with pytest.raises(type(exception)):
        main(["table", str(path)])


def test_option_errors_are_one_line(capsys):
    for argv in (["table", "alexnet", "--batch", "0"], ["table", "alexnet", "--format", "x\ny"],
                 ["table", "alexnet", "--batch", "9" * 5000], ["nope"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        line = one_error(capsys.readouterr().err)
        assert "--help" in line and len(line) < 3000


def test_a_real_process_prints_no_traceback_for_hostile_input(tmp_path):
    cases = [b"name: !!int x\n", "name: caf\u00e9".encode("latin-1"), b"name: &a [*a]\n",
             HUGE.encode(), NAMES.encode()]
    for i, data in enumerate(cases):
        path = spec_file(tmp_path, data, f"case{i}.yaml")
        done = subprocess.run([sys.executable, "-m", "cnncost.cli", "table", str(path), "--batch", BATCH],
                              capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "ascii"})
        assert "Traceback" not in done.stderr.decode(), done.stderr
        assert done.returncode in (0, 2)
        if done.returncode == 2:
            assert done.stderr.decode().count("\n") == 1


@pytest.mark.parametrize("device,reason", [("meta", "meta tensors have shapes but no data"),
                                           ("mps", "MPS backend is not supported"), ("xla", "not supported"),
                                           ("cuda:x", "cpu or cuda only"), ("tpu", "cpu or cuda only")])
def test_check_refuses_devices_by_name(capsys, device, reason):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "alexnet", "--device", device])
    assert exit_info.value.code == 2
    line = one_error(capsys.readouterr().err)
    assert f"device '{device}' is refused" in line and reason in line


def test_check_refuses_cuda_when_there_is_none(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, _, err = run(capsys, "check", "inception", "--device", "cuda")
    assert code == 2 and "torch.cuda.is_available() is False" in one_error(err)
    from cnncost.torch_backend import check
    with pytest.raises(CnnCostError, match="meta tensors"):
        check("inception", device="meta")


# --- 5. the torch backend ---

def test_check_refuses_a_run_too_large_for_memory_before_allocating(capsys, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    path = spec_file(tmp_path, "name: big\ninput: [3, 100000, 100000]\nlayers: [{type: conv, out: 8, kernel: 1}]\n")
    code, _, err = run(capsys, "check", path)
    line = one_error(err)
    assert code == 2 and "the check needs about 819.56 GiB at batch 2" in line and "--allow-large" in line
    from cnncost.torch_backend import check
    with pytest.raises(CnnCostError, match="above the 1.00 KiB limit"):
        check(str(spec_file(tmp_path, TINY, "tiny.yaml")), batch=1, max_bytes=1024)
    assert check(str(tmp_path / "tiny.yaml"), batch=1, max_bytes=1024, allow_large=True).ok
    monkeypatch.setenv("CNNCOST_CHECK_MAX_BYTES", "1KiB")
    code, _, err = run(capsys, "check", tmp_path / "tiny.yaml", "--batch", "1")
    assert code == 2 and "above the 1.00 KiB limit" in one_error(err)
    code, out, _ = run(capsys, "check", tmp_path / "tiny.yaml", "--batch", "1", "--allow-large")
    assert code == 0 and "all exact quantities agree" in out


def test_check_refuses_fields_beyond_int64(capsys, tmp_path):
    pytest.importorskip("torch")
    path = spec_file(tmp_path, "name: x\ninput: [3, 8, 8]\nlayers: [{name: wide, type: conv, out: "
                     + str(2**70) + ", kernel: 1}]\n")
    code, _, err = run(capsys, "check", path, "--allow-large")
    assert code == 2 and one_error(err) == (
        f"cnncost: error: {path}: layer 'wide' (conv): field 'out' = 1.181e+21 is beyond PyTorch's int64 limit "
        "(9,223,372,036,854,775,807)")


def test_check_output_is_escaped_and_json_safe(capsys, tmp_path):
    pytest.importorskip("torch")
    path = spec_file(tmp_path, "name: \"=x\"\ninput: [3, 8, 8]\nlayers: [{name: \"=cmd\", type: conv, out: 2, "
                     "kernel: 1}, {name: \"<b>\", type: relu}]\n")
    code, out, _ = run(capsys, "check", path, "--batch", "1", "--format", "csv", "--csv-safe")  # issue 21: on request
    assert code == 0 and "\n'=cmd," in out and "\n=cmd" not in out
    assert ",-8," in out  # numbers stay numbers
    code, out, _ = run(capsys, "check", path, "--batch", "1", "--format", "csv")
    assert code == 0 and "\n=cmd," in out and "'=cmd" not in out  # by default the name reads back exactly
    code, out, _ = run(capsys, "check", path, "--batch", "1", "--format", "json")
    assert code == 0 and "NaN" not in out and json.loads(out)["ok"] is True
