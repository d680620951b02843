"""Several GPUs: one rank's step under DDP, ZeRO 1-3 and FSDP, and the bytes a step sends, on a
net small enough to derive every figure by hand; the ZeRO paper's own example; the CLI."""
import json

import pytest

from cnncost import Linear, Net
from cnncost.cli import main
from cnncost.errors import CnnCostError
from cnncost.memory import Setup, step_memory, trace
from cnncost.memory.communication import communication
from cnncost.memory.sharding import zero_model_states

# a: 8x8 + 8 = 72 params, b: 8x4 + 4 = 36, c: 4x2 + 2 = 10; 118 in all, 472 B in fp32
NET = Net("abc", input=(8,), layers=[Linear(name="a", out=8), Linear(name="b", out=4), Linear(name="c", out=2)])
MODEL_STATES = ("parameters", "gradients", "optimizer state", "optimizer temporaries", "gradient buckets",
                "all-gather buffer", "reduce-scatter buffer")


def _held(sharding, phase, world=4, **how):
    """The model states one rank holds at `phase` (Adam, fp32, CUDA: one temporary copy)."""
    step = step_memory(trace(NET), Setup("adam", world_size=world, sharding=sharding, **how))
    moment = next(m for m in step.moments if m.phase == phase)
    return {k: v.at(1) for k, v in moment.parts.items() if k in MODEL_STATES}


def test_ddp_buckets_double_the_gradients_unless_they_are_views():
    assert _held("ddp", "optimizer step") == {"parameters": 472, "gradients": 472, "optimizer state": 944,
                                              "optimizer temporaries": 472, "gradient buckets": 472}
    assert _held("ddp", "forward, a") == {"parameters": 472, "optimizer state": 944, "gradient buckets": 472}
    # views: only the fresh gradients of the layer in backward beside the buckets (b: 36 x 4 B)
    assert _held("ddp", "backward, b", gradient_as_bucket_view=True) == {
        "parameters": 472, "gradients": 144, "optimizer state": 944, "gradient buckets": 472}
    assert _held("ddp", "optimizer step", gradient_as_bucket_view=True) == {
        "parameters": 472, "optimizer state": 944, "optimizer temporaries": 472, "gradient buckets": 472}


def test_zero_stages_shard_state_then_gradients_then_parameters():
    # one flat partition of 118 elements over 4 ranks: ceil(118 / 4) = 30 elements = 120 B
    assert _held("zero1", "optimizer step") == {"parameters": 472, "gradients": 472, "optimizer state": 240,
                                                "optimizer temporaries": 120}
    assert _held("zero2", "optimizer step") == {"parameters": 472, "gradients": 120, "optimizer state": 240,
                                                "optimizer temporaries": 120}
    # backward of b: c's 40 B reduced (a shard of ceil(10 / 4) = 3 elements), b's 144 B in full
    assert _held("zero2", "backward, b") == {"parameters": 472, "gradients": 12, "optimizer state": 240,
                                             "reduce-scatter buffer": 144}
    # stage 3: every layer its own partition: ceil(72/4) + ceil(36/4) + ceil(10/4) = 18 + 9 + 3 = 30 elements;
    # in flight: b in full (9 x 4 x 4 B = 144) and the next layer, c (3 x 4 x 4 B = 48) in forward, a (288) in backward
    assert _held("zero3", "forward, b") == {"parameters": 120, "optimizer state": 240, "all-gather buffer": 192}
    assert _held("zero3", "backward, b") == {"parameters": 120, "gradients": 12, "optimizer state": 240,
                                             "all-gather buffer": 432, "reduce-scatter buffer": 144}


def test_fsdp_gathers_a_unit_and_prefetches_the_next_in_backward():
    # units = the top-level children a, b, c; padded flat shards 18, 9, 3 elements (120 B)
    assert _held("fsdp", "forward, b") == {"parameters": 120, "optimizer state": 240, "all-gather buffer": 144}
    assert _held("fsdp", "backward, b") == {"parameters": 120, "gradients": 12, "optimizer state": 240,
                                            "all-gather buffer": 432, "reduce-scatter buffer": 144}
    assert _held("fsdp", "optimizer step") == {"parameters": 120, "gradients": 120, "optimizer state": 240,
                                               "optimizer temporaries": 120}
    # shard_grad_op: every unit stays gathered from its forward to the end of backward
    assert _held("fsdp-grad-op", "forward, b")["all-gather buffer"] == 288 + 144
    assert _held("fsdp-grad-op", "backward, c")["all-gather buffer"] == 288 + 144 + 48
    # hybrid over 8 ranks, 4 per node: sharded as fsdp over 4
    assert _held("hybrid", "backward, b", world=8, ranks_per_node=4) == _held("fsdp", "backward, b")
    # one unit holding b and c ('[bc]'), a left in the root unit: a stays gathered (288 B)
    assert _held("fsdp", "forward, b", fsdp_units=("[bc]",))["all-gather buffer"] == 288 + 144
    assert _held("fsdp", "forward, b", fsdp_units=("[bc]",))["parameters"] == 4 * (18 + 9 + 3)
    # a unit of b alone: the root unit (a and c: 82 elements, padded to 84: 336 B) stays gathered, and its
    # gradients stay whole until its first layer's backward: c's 40 B and a's 288 B, b's shard (36 B) done
    assert _held("fsdp", "backward, b", fsdp_units=("b",))["all-gather buffer"] == 336 + 144
    held = _held("fsdp", "backward, a", fsdp_units=("b",))
    assert (held["reduce-scatter buffer"], held["gradients"], held["all-gather buffer"]) == (328, 36, 336)
    assert _held("fsdp", "optimizer step", fsdp_units=("b",))["gradients"] == 36 + 84


def test_communication_per_step_is_the_ring_volume():
    t = trace(NET)
    ddp = communication(t, Setup(world_size=4, sharding="ddp"), 32)
    # all-reduce of 472 B over 4: 2 x 3/4 x 472 = 708 B per rank
    assert ddp["collectives"] == [{"collective": "all_reduce", "when": "backward", "group_size": 4, "calls": 1,
                                   "payload_bytes": 472, "sent_bytes_per_rank": 708}]
    assert (ddp["sent_bytes_total"], ddp["global_batch"]) == (4 * 708, 128)
    # fsdp: padded units 4 x 30 elements = 480 B, gathered twice and reduce-scattered: 3 x 3/4 x 480
    fsdp = communication(t, Setup(world_size=4, sharding="fsdp"), 32)
    assert fsdp["sent_bytes_per_rank"] == 3 * 360
    # zero1: a reduce-scatter and an all-gather of the padded partition (480 B): DDP's 2 Psi
    assert communication(t, Setup(world_size=4, sharding="zero1"), 1)["sent_bytes_per_rank"] == 2 * 360
    # hybrid, 2 nodes of 4: fsdp within the node, then an all-reduce of the 120 B shard over 2 nodes
    hybrid = communication(t, Setup(world_size=8, sharding="hybrid", ranks_per_node=4), 1)
    assert hybrid["sent_bytes_per_rank"] == 3 * 360 + 2 * 60


def test_zero_paper_example():
    # Rajbhandari et al. 2020, Figure 1: Psi = 7.5B, Nd = 64, K = 12 (mixed-precision Adam):
    # 120 GB baseline, 31.4 GB (P_os), 16.6 GB (P_os+g), 1.9 GB (P_os+g+p)
    psi, nd = 7_500_000_000, 64
    assert zero_model_states(psi, nd, 0) == 120e9
    assert round(zero_model_states(psi, nd, 1) / 1e9, 1) == 31.4
    assert round(zero_model_states(psi, nd, 2) / 1e9, 1) == 16.6
    assert round(zero_model_states(psi, nd, 3) / 1e9, 1) == 1.9


def test_the_step_applies_the_paper_to_pytorch_s_model_states():
    # fp32 Adam as PyTorch runs it (no fp16 copies): parameters 4 Psi, gradients 4 Psi, state 8 Psi (K = 8),
    # so stage 3 holds 16 Psi / Nd: over 2 ranks, 36 + 18 + 5 = 59 elements of each
    held = _held("zero3", "optimizer step", world=2)
    assert held["parameters"] + held["gradients"] + held["optimizer state"] == 16 * 59


def test_bad_setups_are_refused_in_one_line():
    with pytest.raises(CnnCostError, match="needs a sharding"):
        Setup(world_size=2)
    with pytest.raises(CnnCostError, match="unknown sharding 'zero4'"):
        Setup(world_size=2, sharding="zero4")
    with pytest.raises(CnnCostError, match="whole nodes"):
        Setup(world_size=12, sharding="hybrid")


def test_cli_table_and_fit(capsys):
    assert main(["table", "resnet18", "--memory", "autograd", "--world-size", "8", "--sharding", "fsdp",
                 "--batch", "16", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["communication"]["global_batch"] == 128
    assert "all-gather buffer" in out["training_step"]["breakdown"]
    assert main(["fit", "resnet18", "--budget", "8GiB", "--world-size", "2"]) == 0
    text = capsys.readouterr().out
    assert "per rank (global batch" in text and "--world-size 2 --sharding ddp" in text
    assert main(["table", "resnet18", "--world-size", "2"]) != 0  # needs --memory autograd
    assert "--memory autograd" in capsys.readouterr().err


def test_ddp_buckets_as_the_reducer_rebuilds_them():
    from cnncost import load
    from cnncost.memory.sharding import ddp_buckets
    # resnet18 in backward order: fc (2,052,000 B) closes the 1 MiB first bucket; layer4 fills the
    # 25 MiB ones; the rest (44.59 MiB in all) ends in a last bucket
    t = trace(load("resnet18"))
    buckets = ddp_buckets(t, Setup(world_size=2, sharding="ddp"))
    assert buckets[0] == 4 * (512 * 1000 + 1000) and sum(buckets) == 4 * 11_689_512
    assert all(b >= 25 * 2**20 for b in buckets[1:-1])
    # a cap given caps the first bucket too (DDP's _BucketConfig): fc fits under 100 MiB, so one bucket
    assert ddp_buckets(t, Setup(world_size=2, sharding="ddp", bucket_cap_mb=100)) == [4 * 11_689_512]
