"""The job's step time (checkpoint, accumulate, several GPUs) is the same in `table`, `sweep` and `fit`:
the recompute the memory model solved, the micro-steps, the communication compute does not hide."""
from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

import cnncost
from cnncost.cli import main

HW = "l4"  # PCIe: the communication is not all hidden (exposed seconds > 0 for these jobs)
JOBS = [
    pytest.param({"checkpoint": ["sqrt"]}, id="checkpoint-sqrt"),
    pytest.param({"checkpoint": ["layer2"]}, id="checkpoint-layer"),
    pytest.param({"accumulate": 3}, id="accumulate-3"),
    pytest.param({"parallel": {"world_size": 8, "sharding": "ddp"}}, id="ddp-8"),
    pytest.param({"parallel": {"world_size": 8, "sharding": "fsdp"}}, id="fsdp-8"),
    pytest.param({"checkpoint": ["sqrt"], "accumulate": 3, "parallel": {"world_size": 8, "sharding": "ddp"}},
                 id="sqrt-accumulate-ddp"),
    pytest.param({"checkpoint": ["layer3"], "accumulate": 2, "parallel": {"world_size": 8, "sharding": "fsdp"}},
                 id="layer-accumulate-fsdp"),
]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)


def _same_step(row, timing) -> None:
    """A sweep's row against a `Timing` of the same job (to 1e-12 relative: the sweep's lines sum
    the passes in another order)."""
    e, b = timing.expected, timing.bound
    for column, value in (("forward_seconds", e.forward_seconds), ("backward_seconds", e.backward_seconds),
                          ("optimizer_seconds", e.optimizer_seconds), ("step_seconds", e.step_seconds),
                          ("images_per_second", e.images_per_second), ("bound_step_seconds", b.step_seconds),
                          ("bound_images_per_second", b.images_per_second)):
        assert _close(getattr(row, column), value), (column, getattr(row, column), value)
    assert row.limited_by == e.bound


@pytest.mark.parametrize("job", JOBS)
def test_sweep_table_and_fit_time_the_same_step(job):
    plain = cnncost.table("resnet18", batch=24, memory="autograd", hardware=HW).timing
    frame = cnncost.sweep("resnet18", batch=[7, 24], input=[160, 224], dtype=["fp32", "bf16"], memory="autograd",
                          hardware=HW, **job)
    for row in frame.itertuples():
        timing = cnncost.table("resnet18", batch=int(row.batch), input=str(row.input), dtype=str(row.dtype),
                               memory="autograd", hardware=HW, **job).timing
        _same_step(row, timing)
        k = job.get("accumulate", 1)
        assert timing.batch == k * row.batch and timing.expected.micro_steps == k  # samples per step, as fit
        if "checkpoint" in job:
            assert row.recompute_seconds > 0 and _close(row.recompute_seconds, timing.expected.recompute_seconds)
        else:
            assert "recompute_seconds" not in frame.columns
        if "parallel" in job:
            assert _close(row.communication_seconds, timing.expected.communication_seconds)
            assert _close(row.bound_communication_seconds, timing.bound.communication_seconds)
            assert row.communication_seconds > 0
        else:
            assert "communication_seconds" not in frame.columns
        assert (row.micro_steps == k) if k > 1 else "micro_steps" not in frame.columns
    # the job's step is not the plain one (the bug: table and sweep timed a plain step)
    same = frame[(frame["batch"] == 24) & (frame["input"] == "3x224x224") & (frame["dtype"] == "fp32")].iloc[0]
    assert same["step_seconds"] > plain.expected.step_seconds
    # fit at its batch gives the same step as table (and the sweep) at that batch
    found = cnncost.fit("resnet18", "3GiB", hardware=HW, **job)
    assert found.batch > 0
    timing = cnncost.table("resnet18", batch=found.batch, memory="autograd", hardware=HW, **job).timing
    assert timing.to_dict() == found.timing.to_dict()
    row = next(cnncost.sweep("resnet18", batch=found.batch, memory="autograd", hardware=HW, **job).itertuples())
    _same_step(row, found.timing)


def test_the_json_fields_and_the_text_say_the_job():
    job = {"batch": 64, "memory": "autograd", "hardware": HW, "accumulate": 4, "checkpoint": ["sqrt"],
           "parallel": {"world_size": 8, "sharding": "ddp"}}
    report = cnncost.table("resnet18", **job)
    timing = json.loads(report.to_json())["timing"]
    assert timing["batch"] == 256 and timing["micro_steps"] == 4  # samples per step (per rank): 4 x 64
    assert timing["bound"]["micro_steps"] == 4
    assert timing["recompute_seconds"] > 0 and timing["bound"]["recompute_seconds"] > 0
    assert timing["communication_seconds"] > 0
    assert _close(timing["images_per_second"], 256 / timing["step_seconds"])
    # four micro-steps: four times one micro-step's passes, one optimizer pass
    one = cnncost.table("resnet18", **{**job, "accumulate": 1}).timing.expected
    assert _close(timing["forward_seconds"], 3 * one.forward_seconds + one.forward_seconds)
    assert _close(timing["recompute_seconds"], 3 * one.recompute_seconds + one.recompute_seconds)
    assert timing["optimizer_seconds"] == one.optimizer_seconds
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["table", "resnet18", "--batch", "64", "--memory", "autograd", "--hardware", HW, "--accumulate", "4",
              "--checkpoint", "sqrt"])
    text = out.getvalue()
    expected = report.timing.expected
    assert "(expected; 4 micro-steps of 64 = 256 samples per step; recompute " in text
    assert f" (recompute {cnncost.formatting.duration(expected.recompute_seconds)} of it) + optimizer" in text
    assert " for 4 micro-steps of 64 = 256 samples; " in text


def test_a_plain_step_says_nothing_more():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["table", "resnet18", "--batch", "64", "--memory", "autograd", "--hardware", HW])
    text = out.getvalue()
    assert "micro-steps" not in text and "recompute" not in text
    frame = cnncost.sweep("resnet18", batch=[8], memory="autograd", hardware=HW)
    assert not {"recompute_seconds", "micro_steps", "communication_seconds"} & set(frame.columns)


def test_sweep_links_as_table():
    parallel = {"world_size": 16, "sharding": "ddp"}
    frame = cnncost.sweep("resnet18", batch=[32], memory="autograd", hardware=HW, parallel=parallel, nodes=2,
                          network_bandwidth="25Gbit/s", reduce_dtype="bf16")
    timing = cnncost.table("resnet18", batch=32, memory="autograd", hardware=HW, parallel=parallel, nodes=2,
                           network_bandwidth="25Gbit/s", reduce_dtype="bf16").timing
    _same_step(next(frame.itertuples()), timing)
    with pytest.raises(cnncost.CnnCostError, match="world size over 1"):
        cnncost.sweep("resnet18", batch=[32], memory="autograd", hardware=HW, nodes=2)
    with pytest.raises(cnncost.CnnCostError, match="give hardware="):
        cnncost.sweep("resnet18", batch=[32], memory="autograd", parallel=parallel, nodes=2)


def test_a_last_smaller_micro_batch_is_timed_at_its_own_batch():
    """fit --global-batch N: K micro-steps, the last of N - (K-1) b samples (table and sweep take
    equal micro-batches only: batch x K); its step is table's plain micro-steps summed."""
    job = {"checkpoint": ["layer2"], "parallel": {"world_size": 8, "sharding": "ddp"}}
    found = cnncost.fit("resnet18", "2GiB", hardware=HW, global_batch=1000, **job)
    k, b, last = found.accumulate, found.batch, found.last_micro_batch
    assert k > 1 and last != b and (k - 1) * b + last == 1000
    full, tail = (cnncost.table("resnet18", batch=n, memory="autograd", hardware=HW, **job).timing.expected
                  for n in (b, last))
    e = found.timing.expected
    assert found.timing.batch == 1000 and e.micro_steps == k
    assert _close(e.forward_seconds, (k - 1) * full.forward_seconds + tail.forward_seconds)
    assert _close(e.backward_seconds, (k - 1) * full.backward_seconds + tail.backward_seconds)
    assert _close(e.recompute_seconds, (k - 1) * full.recompute_seconds + tail.recompute_seconds) and e.recompute_seconds
