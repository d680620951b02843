"""The time model in a table: the JSON `timing` object, the per-row time columns in every format,
the step's arithmetic, tf32, and the options' errors."""
from __future__ import annotations

import json
import math

import pytest

import cnncost
from cnncost.cli import main
from cnncost.columns import COLUMNS
from cnncost.errors import CnnCostError
from cnncost.hardware import load_profile
from cnncost.timing.model import Rates

FIELDS = ("forward_seconds", "backward_seconds", "optimizer_seconds", "step_seconds", "images_per_second")


def test_json_timing_fields_and_their_arithmetic():
    r = cnncost.table("resnet18", batch=64, dtype="bf16", memory="autograd", hardware="a100-sxm4-80gb",
                      epoch_images=1000, price_per_hour=3.0)
    timing = json.loads(r.to_json())["timing"]
    assert timing["hardware"] == "a100-sxm4-80gb" and timing["estimate"] == "expected"
    assert timing["compute_dtype"] == "bf16" and timing["batch"] == 64
    for part in (timing, timing["bound"]):
        assert all(isinstance(part[k], float) and part[k] > 0 for k in FIELDS)
        assert math.isclose(part["step_seconds"], part["forward_seconds"] + part["backward_seconds"]
                            + part["optimizer_seconds"])
        assert math.isclose(part["images_per_second"], 64 / part["step_seconds"])
        assert part["limited_by"] in ("compute", "memory", "launch")
        assert math.isclose(sum(part["seconds_by_bound"].values()), part["step_seconds"])
        # an epoch of 1,000 images is 16 steps (the last one partial, counted whole), its cost at 3 USD/hour
        assert math.isclose(part["epoch_seconds"], 16 * part["step_seconds"])
        assert math.isclose(part["epoch_cost"], part["epoch_seconds"] / 3600 * 3.0)
    # the pure roofline is a lower bound of the expected estimate, phase by phase
    assert all(timing["bound"][k] <= timing[k] for k in FIELDS[:4])
    assert "roofline" in timing["convention"]


def test_rows_sum_to_the_step_and_every_row_names_its_bound():
    r = cnncost.table("mobilenet-v2", batch=32, memory="autograd", hardware="h100-sxm5-80gb", depth=1)
    rows = [row for row in r.rows if row.forward_seconds or row.backward_seconds]
    assert math.isclose(sum(row.forward_seconds for row in r.rows), r.timing.expected.forward_seconds)
    assert math.isclose(r.totals.backward_seconds, r.timing.expected.backward_seconds)
    assert rows and all(row.bound in ("compute", "memory", "launch") for row in rows)
    assert {c.name for c in (COLUMNS["forward_seconds"], COLUMNS["backward_seconds"], COLUMNS["bound"])} <= set(r.totals.figures)


def test_time_columns_in_every_format():
    r = cnncost.table("alexnet", batch=16, hardware="t4")  # the lecture's memory convention traces too
    text = r.to_text()
    header = text.splitlines()[2]
    assert "fwd time" in header and "bwd time" in header and "bound" in header
    assert "images/s on t4 (expected; roofline bound" in text.splitlines()[0]
    assert "hardware t4 (Tesla T4, datasheet)" in text and "Step time on t4 (roofline bound, fp32)" in text
    csv = r.to_csv().splitlines()
    assert csv[0].split(",")[-4:] == ["forward_seconds", "backward_seconds", "bound", "row_kind"]
    frame = r.to_dataframe()
    assert str(frame["forward_seconds"].dtype) == "float64" and frame["bound"].dtype == object
    assert r.to_markdown().count("fwd time") == 1 and "fwd time" in r._repr_html_()
    plain = cnncost.table("alexnet", batch=16)  # without hardware: no time anywhere
    assert "forward_seconds" not in plain.to_csv() and "timing" not in plain.to_dict()


def test_tf32_is_fp32_in_memory_and_faster_on_tensor_cores():
    fp32 = cnncost.table("resnet18", batch=32, memory="autograd", hardware="a100-sxm4-80gb")
    tf32 = cnncost.table("resnet18", batch=32, dtype="tf32", memory="autograd", hardware="a100-sxm4-80gb")
    assert tf32.totals.saved_bytes == fp32.totals.saved_bytes and tf32.totals.memory_bytes == fp32.totals.memory_bytes
    assert tf32.step_breakdown()["peak_bytes"] == fp32.step_breakdown()["peak_bytes"]
    assert tf32.timing.bound.forward_seconds < fp32.timing.bound.forward_seconds
    assert tf32.to_dict()["dtype"] == "tf32" and tf32.to_dict()["timing"]["compute_dtype"] == "tf32"
    assert cnncost.fit("resnet18", "10GiB", dtype="tf32").batch == cnncost.fit("resnet18", "10GiB").batch


def test_roofline_terms_by_hand():
    # a100: 19.5 TFLOPS fp32 on the vector units (TF32 off), 2,039 GB/s; a pass of 19.5 GFLOPs and
    # 2.039 GB takes 1 ms of compute and 1 ms of memory; + 2 kernels x the launch overhead
    from cnncost.timing import Amount, PassCost
    a100 = load_profile("a100-sxm4-80gb")
    cost = PassCost("conv", "fp32", Amount(0, 19_500_000_000), Amount(0, 2_039_000_000), Amount(), 2)
    t = Rates(a100, "bound").time(cost, 1)
    assert math.isclose(t.compute, 1e-3) and math.isclose(t.memory, 1e-3)
    assert math.isclose(t.seconds, 1e-3 + 2 * a100.launch_overhead_ns / 1e9) and t.bound == "compute"
    expected = Rates(a100, "expected").time(cost, 1)
    assert math.isclose(expected.compute, 1e-3 / a100.achievable["conv"])
    assert math.isclose(expected.memory, 1e-3 / a100.achievable["bandwidth"])


def test_options_errors(capsys):
    with pytest.raises(CnnCostError, match="need a hardware profile"):
        cnncost.table("alexnet", epoch_images=10)
    with pytest.raises(CnnCostError, match="give epoch_images"):
        cnncost.table("alexnet", hardware="t4", price_per_hour=1.0)
    with pytest.raises(CnnCostError, match="epoch_images must be a positive integer"):
        cnncost.table("alexnet", hardware="t4", epoch_images=0)
    with pytest.raises(CnnCostError, match="training dtype"):
        cnncost.table("alexnet", hardware="t4", dtype="int8")
    assert main(["table", "alexnet", "--hardware", "a100"]) == 2
    assert "a100" in capsys.readouterr().err
    assert main(["table", "alexnet", "--hardware", "t4", "--epoch-images", "1000", "--price-per-hour", "0.5",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["timing"]["price_per_hour"] == 0.5 and out["timing"]["epoch_images"] == 1000
