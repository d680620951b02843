"""`fit --budget SIZE` with SI and IEC units (GB = 10^9, GiB = 2^30), the deprecated --memory, and Fit's displays."""
import json

import pytest

import cnncost
from cnncost.cli import main
from cnncost.reading import parse_size
from cnncost.units import parse_size_text


def test_units_are_si_and_iec():
    assert parse_size_text("80GB") == (80 * 10**9, "80 GB")
    assert parse_size_text("80GiB") == (80 * 2**30, "80 GiB")
    assert parse_size_text("16000mib")[0] == 16000 * 2**20
    assert parse_size_text("1kB")[0] == parse_size_text("1KB")[0] == 1000
    assert parse_size_text("2TiB")[0] == 2 * 2**40 and parse_size_text("2TB")[0] == 2 * 10**12
    assert parse_size_text("0.1KiB")[0] == 102  # exact, floored


def test_spec_size_limit_shares_the_units():
    assert parse_size("1MB") == 10**6 and parse_size("1MiB") == 2**20 and parse_size("4096") == 4096


def test_budget_gb_is_decimal(capsys):
    assert main(["fit", "alexnet", "--budget", "8GB", "--format", "json"]) == 0
    si = json.loads(capsys.readouterr().out)
    assert main(["fit", "alexnet", "--budget", "8GiB", "--format", "json"]) == 0
    iec = json.loads(capsys.readouterr().out)
    assert si["budget_bytes"] == 8 * 10**9 and iec["budget_bytes"] == 8 * 2**30 and si["batch"] < iec["batch"]


def test_text_states_the_budget_in_bytes(capsys):
    assert main(["fit", "resnet50", "--budget", "80GB", "--dtype", "bf16"]) == 0
    out = capsys.readouterr().out
    assert "budget 80 GB = 80,000,000,000 B" in out.splitlines()[0]
    assert "GiB = 2^10, 2^20, 2^30 B" in out


def test_memory_still_works_with_a_deprecation_note(capsys):
    assert main(["fit", "alexnet", "--memory", "8GiB"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("cnncost: note: --memory in fit is deprecated; until it is removed it keeps its old "
                            "meaning, kB, MB, GB, TB = 2^10, 2^20, 2^30, 2^40 B; use --budget, where GB = 10^9 B "
                            "and GiB = 2^30 B\n")
    assert "budget 8 GiB" in captured.out
    assert main(["fit", "alexnet", "--budget", "8GiB"]) == 0 and capsys.readouterr().err == ""


@pytest.mark.parametrize("old,binary", [("8GB", "8GiB"), ("8192mb", "8192MiB"), ("0.5TB", "0.5TiB"),
                                        ("8000000kB", "8000000KiB")])
def test_memory_keeps_its_old_binary_meaning_until_removed(capsys, old, binary):
    """Issue 21: `fit --memory 80GB` meant 80 * 2^30 B before --budget came; a CI script's answer
    must not change silently, so --memory reads kB/MB/GB/TB as binary and says so."""
    assert main(["fit", "alexnet", "--memory", old, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert f"(read here as {binary})" in captured.err and "keeps its old meaning" in captured.err
    assert main(["fit", "alexnet", "--budget", binary, "--format", "json"]) == 0
    assert json.loads(captured.out) == json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv,message", [
    (["fit", "alexnet"], "fit needs --budget SIZE"),
    (["fit", "alexnet", "--budget", "1GB", "--memory", "1GB"], "give --budget only"),
    (["fit", "alexnet", "--budget", "80"], "with a unit"),
    (["fit", "alexnet", "--budget", "80 parsecs"], "with a unit"),
])
def test_budget_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("cnncost: error: ")


def test_table_memory_is_still_the_convention(capsys):
    assert main(["table", "alexnet", "--memory", "autograd"]) == 0 and "saved" in capsys.readouterr().out


def test_fit_repr_and_html():
    fit = cnncost.fit("alexnet", "8GB")
    assert fit == cnncost.fit("alexnet", budget=8 * 10**9) and fit.budget == 8 * 10**9
    assert "8 GB = 8,000,000,000 B" in repr(fit) and f"batch {fit.batch} fits" in repr(fit)
    html = fit._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and "budget (8 GB)" in html and fit.peak.phase in html
    assert fit.to_dict()["breakdown"] == fit.breakdown and sum(fit.breakdown.values()) == fit.peak_bytes
    assert cnncost.fit("alexnet", memory="8GB") == fit  # the old keyword


def test_fit_html_is_escaped():
    net = cnncost.Net("<b>x</b>", input=(3, 8, 8), layers=[cnncost.Conv(out=4, kernel=3, name="<i>")])
    html = cnncost.fit(net, "1MB")._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "&lt;i&gt;" in html and "<b>x</b>" not in html
    assert "1 MB = 1,000,000 B" in html
