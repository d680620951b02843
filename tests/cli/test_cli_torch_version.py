"""`--torch-version` wherever the command line takes the autograd memory model (table, sweep, fit),
and `torch_version=` in the API: the PyTorch release whose rules apply where releases save
differently. Attention on a token sequence (per-sample rank 2) is such a place: torch 2.13's CPU
dispatch runs the math path, 2.14's the fused kernel (docs/memory.md, "Releases differ")."""
from __future__ import annotations

import json

import pytest

import cnncost
from cnncost.cli import main

SPEC = """\
name: tokens
input: [16, 32]
layers:
  - {name: q, type: linear, out: 32}
  - {name: k, type: linear, out: 32, from: input}
  - {name: v, type: linear, out: 32, from: input}
  - {name: sdpa, type: attention, from: [q, k, v]}
  - {name: proj, type: linear, out: 32}
"""
RELEASES = [[], ["--torch-version", "2.14.1"]]


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tokens.yaml"
    path.write_text(SPEC)
    return str(path)


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv + ["--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_table_takes_the_release(capsys, spec) -> None:
    saved = []
    for release in RELEASES:
        out = _json(capsys, ["table", spec, "--memory", "autograd", "--device", "cpu", "--batch", "2"] + release)
        api = cnncost.table(spec, batch=2, memory="autograd", device="cpu",
                            torch_version=release[1] if release else None)
        assert out["total"]["saved_bytes"] == api.totals.saved_bytes
        saved.append(out["total"]["saved_bytes"])
    # 2.13's math path: q and k scaled, the weights (16 x 16) and v (fp32, batch 2), and proj saves
    # the output; 2.14's fused kernel: q, k, v (the linears' outputs), the output (which proj
    # saves too: one storage) and the log-sum-exp per query row. The rest is the same.
    e = 2 * 16 * 32 * 4
    with_213 = 3 * e + 2 * 16 * 16 * 4 + e
    with_214 = 4 * e + 2 * 16 * 4
    assert saved[0] - saved[1] == with_213 - with_214 == 1920


def test_sweep_takes_the_release(capsys, spec) -> None:
    for release in RELEASES:
        assert main(["sweep", spec, "--batch", "1,4", "--memory", "autograd", "--device", "cpu",
                     "--format", "csv"] + release) == 0
        rows = capsys.readouterr().out.splitlines()
        header = rows[0].split(",")
        version = release[1] if release else None
        for row in rows[1:]:
            values = dict(zip(header, row.split(",")))
            report = cnncost.table(spec, batch=int(values["batch"]), memory="autograd", device="cpu",
                                   torch_version=version)
            assert int(values["saved_bytes"]) == report.totals.saved_bytes
            assert int(values["peak_bytes"]) == report.to_dict()["training_step"]["peak_bytes"]


def test_fit_takes_the_release(capsys, spec) -> None:
    batches = []
    for release in RELEASES:
        out = _json(capsys, ["fit", spec, "--budget", "1MB", "--device", "cpu"] + release)
        api = cnncost.fit(spec, "1MB", device="cpu", torch_version=release[1] if release else None)
        assert (out["batch"], out["training_step"]["peak_bytes"]) == (api.batch, api.peak_bytes)
        batches.append(out["batch"])
    assert batches[0] != batches[1]  # 2.14's fused kernel keeps more per sample here
    assert main(["fit", spec, "--budget", "1MB", "--device", "cpu", "--torch-version", "2.14.1"]) == 0
    assert "--memory autograd --device cpu --torch-version 2.14.1" in capsys.readouterr().out  # the same figures


@pytest.mark.parametrize("command", [["table", "--memory", "autograd"], ["fit", "--budget", "1GB"],
                                     ["sweep", "--memory", "autograd"]])
def test_a_bad_release_is_one_line(capsys, spec, command) -> None:
    assert main([command[0], spec, *command[1:], "--torch-version", "banana"]) == 2
    err = capsys.readouterr().err
    assert "not a PyTorch version: 'banana'" in err and err.count("\n") == 1
