"""The time model where it is used: sweep time columns (against table's timing at the same batch),
fit --hardware, the throughput search (its answer is the argmax), benchmarks/gpu_time.py --fake."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cnncost
from cnncost.cli import main as cli_main
from cnncost.search_time import fastest, fastest_batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("arch, hardware, dtype", [("resnet18", "a100-sxm4-80gb", "bf16"),
                                                   ("mobilenet-v2", "t4", "fp32"), ("alexnet", "h100-sxm5-80gb", "tf32")])
def test_sweep_time_columns_equal_table_timing(arch, hardware, dtype):
    batches = [1, 3, 16, 100, 257, 2048]  # launch-bound small batches to compute-bound large ones
    df = cnncost.sweep(arch, batch=batches, dtype=dtype, optimizer=["adam", "sgd"], hardware=hardware)
    assert df.attrs["hardware"] == hardware
    for row in df.itertuples():
        timing = cnncost.table(arch, batch=row.batch, dtype=dtype, optimizer=row.optimizer,
                               hardware=hardware).to_dict()["timing"]
        for column in ("forward_seconds", "backward_seconds", "optimizer_seconds", "step_seconds", "images_per_second"):
            assert getattr(row, column) == pytest.approx(timing[column], rel=1e-12), (row.batch, column)
        assert row.bound_step_seconds == pytest.approx(timing["bound"]["step_seconds"], rel=1e-12)
        assert row.bound_images_per_second == pytest.approx(timing["bound"]["images_per_second"], rel=1e-12)
        assert row.limited_by == timing["limited_by"]


def test_sweep_time_shows_where_a_net_becomes_compute_bound():
    df = cnncost.sweep("resnet18", batch=[1, 2048], dtype="bf16", hardware="a100-sxm4-80gb")
    assert df["limited_by"].astype(str).tolist() == ["launch", "compute"]
    assert df["images_per_second"].iloc[1] > df["images_per_second"].iloc[0]


def test_sweep_time_refuses_a_non_training_dtype():
    with pytest.raises(cnncost.CnnCostError, match="training dtypes"):
        cnncost.sweep("alexnet", batch=1, dtype="int8", hardware="t4")


def test_sweep_cli_time_columns(capsys):
    cli_main(["sweep", "resnet18", "--batch", "1,64", "--hardware", "l4", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert out["hardware"] == "l4"
    row = out["configurations"][1]
    timing = cnncost.table("resnet18", batch=64, hardware="l4").to_dict()["timing"]
    assert row["step_seconds"] == pytest.approx(timing["step_seconds"], rel=1e-12)
    assert row["limited_by"] == timing["limited_by"]
    cli_main(["sweep", "resnet18", "--batch", "1", "--hardware", "l4"])
    text = capsys.readouterr().out
    assert "images/s" in text and "limited by" in text and "Time on l4" in text


def test_fit_hardware_times_the_batch_found(capsys):
    f = cnncost.fit("resnet18", "8GiB", dtype="bf16", hardware="a100-sxm4-80gb")
    timing = cnncost.table("resnet18", batch=f.batch, dtype="bf16", memory="autograd",
                           hardware="a100-sxm4-80gb").to_dict()["timing"]
    assert f.timing.batch == f.batch
    assert f.timing.to_dict() == timing
    cli_main(["fit", "resnet18", "--budget", "8GiB", "--dtype", "bf16", "--hardware", "a100-sxm4-80gb",
              "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert out["timing"]["images_per_second"] == pytest.approx(timing["images_per_second"])
    assert out["timing"]["bound"]["step_seconds"] == pytest.approx(timing["bound"]["step_seconds"])
    cli_main(["fit", "resnet18", "--budget", "8GiB", "--dtype", "bf16", "--hardware", "a100-sxm4-80gb"])
    assert f"Throughput at batch {f.batch:,} on a100-sxm4-80gb" in capsys.readouterr().out
    assert cnncost.fit("resnet18", "8GiB").timing is None


def test_fit_hardware_needs_a_training_step():
    with pytest.raises(cnncost.CnnCostError, match="training step"):
        cnncost.fit("resnet18", "8GiB", mode="inference", hardware="t4")


def test_fastest_batch_is_the_argmax_within_the_budget():
    row = fastest_batch("resnet18", "a100-sxm4-80gb", dtype=["fp32", "bf16"], peak_bytes="8GiB")
    limit = cnncost.search.largest_batch("resnet18", dtype="fp32", peak_bytes="8GiB")
    limit = max(limit, cnncost.search.largest_batch("resnet18", dtype="bf16", peak_bytes="8GiB"))
    df = cnncost.sweep("resnet18", batch=range(1, limit + 1), dtype=["fp32", "bf16"], memory="autograd",
                       hardware="a100-sxm4-80gb")
    within = df[df["peak_bytes"] <= 8 * 2**30]
    best = within.loc[within["images_per_second"].idxmax()]
    assert (row["batch"], row["dtype"]) == (best["batch"], best["dtype"])
    assert row["peak_bytes"] <= 8 * 2**30
    assert (df["images_per_second"] > row["images_per_second"]).to_numpy()[df["peak_bytes"].to_numpy() <= 8 * 2**30].sum() == 0


def test_fastest_per_input_and_bound_estimate():
    df = cnncost.sweep("alexnet", batch=[1, 8, 64, 512], input=[224, 256], hardware="t4")
    best = fastest(df, "bound", memory_bytes="4GiB")
    assert best["input"].astype(str).tolist() == ["3x224x224", "3x256x256"]
    for _, row in best.iterrows():
        same = df[(df["input"] == row["input"]) & (df["memory_bytes"] <= 4 * 2**30)]
        assert row["bound_images_per_second"] == same["bound_images_per_second"].max()
    with pytest.raises(cnncost.CnnCostError, match="no time columns"):
        fastest(cnncost.sweep("alexnet", batch=1), memory_bytes="1GiB")


def test_gpu_time_benchmark_runs_fake(tmp_path):
    pytest.importorskip("torch", reason="the script builds each net in PyTorch, --fake included")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_time.py"), "--fake", "--arch", "alexnet",
                             "resnet18", "--batch", "2", "--dtype", "fp32", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "gpu_time.csv", newline="") as file:
        rows = {row["architecture"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == ["alexnet", "resnet18"]
    for arch, row in rows.items():
        timing = cnncost.table(arch, batch=2, dtype="fp32", optimizer="adam", memory="autograd",
                               hardware=row["profile"]).to_dict()["timing"]
        assert float(row["expected_step_s"]) == pytest.approx(timing["step_seconds"], rel=1e-3)
        assert float(row["bound_step_s"]) == pytest.approx(timing["bound"]["step_seconds"], rel=1e-3)
    assert (tmp_path / "gpu_time.md").exists()


def test_sweep_time_columns_when_every_input_is_dropped():
    df = cnncost.sweep("alexnet", batch=[1, 2], input=[8], invalid="drop", hardware="t4")
    assert df.empty and "step_seconds" in df.columns and "limited_by" in df.columns


def test_sweep_time_with_a_calibrated_profile_equals_table_timing():
    """A calibrated CPU profile: conv rates by reduction length and their gradients', the few-rows
    correction (a constant per conv pass in the batch: conv work is all per sample), norms' and depthwise
    gradients, a conv call overhead, fresh pages."""
    import dataclasses

    from cnncost.hardware import load_profile
    measured = {"conv.fp32.m128": 10**10, "conv.fp32.k144": 2 * 10**10, "conv.fp32.k2304": 4 * 10**10,
                "conv_net.fp32": 3 * 10**10, "conv_grad.fp32": 2 * 10**10, "maxpool.fp32": 10**9,
                "batchnorm.fp32": 2 * 10**9, "batchnorm_grad.fp32": 3 * 10**9, "depthwise.fp32": 10**9,
                "depthwise_grad.fp32": 5 * 10**8,
                "conv_call_ns": 20_000, "page_fault": 4 * 10**9}
    cpu = dataclasses.replace(load_profile("a100-sxm4-80gb"), kind="cpu", measured=measured)
    batches = [1, 2, 5, 33, 400]
    df = cnncost.sweep("resnet18", batch=batches, input=[64, 112], hardware=cpu)
    for row in df.itertuples():
        size = int(str(row.input).split("x")[-1])
        timing = cnncost.table("resnet18", batch=row.batch, input=(3, size, size), hardware=cpu).timing
        assert row.step_seconds == pytest.approx(timing.expected.step_seconds, rel=1e-12)
        assert row.bound_step_seconds == pytest.approx(timing.bound.step_seconds, rel=1e-12)
        assert row.limited_by == timing.expected.bound


def test_sweep_time_lines_are_kept_per_resolution_dtype_and_profile():
    """A sweep keeps each resolution's step lines on the net (`sweep_time.time_columns`): the same grid
    again gives the same figures from them, and another profile or dtype gets its own."""
    from cnncost.api import load
    t4 = cnncost.sweep("resnet18", batch=[1, 8], input=[64, 96], hardware="t4")
    kept = load("resnet18").memo["time lines"]
    assert {(key[0], key[1], key[6].name) for key in kept} >= {((3, 64, 64), "fp32", "t4"), ((3, 96, 96), "fp32", "t4")}
    again = cnncost.sweep("resnet18", batch=[1, 8], input=[64, 96], hardware="t4")
    assert again["step_seconds"].tolist() == t4["step_seconds"].tolist()
    a100 = cnncost.sweep("resnet18", batch=[1, 8], input=[64, 96], dtype=["fp32", "bf16"], hardware="a100-sxm4-80gb")
    for row in a100.itertuples():
        size = int(str(row.input).split("x")[-1])
        timing = cnncost.table("resnet18", batch=row.batch, input=(3, size, size), dtype=row.dtype,
                               hardware="a100-sxm4-80gb").timing
        assert row.step_seconds == pytest.approx(timing.expected.step_seconds, rel=1e-12)
