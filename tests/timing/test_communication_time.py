"""Several GPUs' communication in the step time (cnncost.timing.communication, docs/time.md): the
ring formulas against figures derived by hand, the ZeRO/FSDP volumes, accumulation, the bound, one
device unchanged, and the profiles' interconnect figures."""
from __future__ import annotations

import json
import math

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.hardware import load_profile, profile_yaml
from cnncost.memory.sharding import ddp_buckets
from cnncost.timing.communication import (
    BASE_LATENCY_NS,
    HOP_LATENCY_NS,
    Plan,
    communication_plan,
    exposed_seconds,
    network_rate,
)

RESNET50_PARAMS = 25_557_032  # torchvision resnet50 (docs/zoo.md)
H100 = "h100-sxm5-80gb"


def _step(arch="resnet50", batch=64, dtype="fp32", **parallel):
    return cnncost.table(arch, batch=batch, dtype=dtype, memory="autograd", parallel=parallel or None).step


def _plan(step, hardware=H100, **links):
    return communication_plan(step.trace, step.setup, load_profile(hardware), **links)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_ddp_ring_all_reduce_by_hand(dtype):
    step = _step(dtype=dtype, world_size=8, sharding="ddp")
    (ring,) = _plan(step).transfers
    # gradients travel in the parameters' dtype: fp32 master weights under bf16 autocast too
    assert ring.payload_bytes == 4 * RESNET50_PARAMS == 102_228_128
    assert ring.sent_bytes_per_rank == 2 * 7 * 102_228_128 // 8 == 178_899_224  # 2 (n-1)/n x bytes
    assert (ring.link, ring.bandwidth) == ("nvlink", 450 * 10**9)  # H100 SXM: "NVLink 900GB/s" both ways
    assert ring.calls == len(ddp_buckets(step.trace, step.setup)) == 5  # 1 MiB first bucket, then 25 MiB caps
    # the bound: the datasheet bandwidth per direction, no latency: 178,899,224 B / 450 GB/s = 397.55 us
    assert ring.seconds("bound") == 178_899_224 / 450e9
    assert math.isclose(ring.seconds("bound"), 397.553831e-6, rel_tol=1e-9)
    # expected: 80% of it (360 GB/s) plus NCCL's ring latency per call, 8.4 us + 2 x 7 steps x 3.4 us = 56 us
    per_call = (BASE_LATENCY_NS + 14 * HOP_LATENCY_NS["nvlink"]) / 1e9
    assert math.isclose(per_call, 56e-6)
    assert math.isclose(ring.seconds("expected"), 178_899_224 / 360e9 + 5 * 56e-6, rel_tol=1e-12)


def test_reduce_dtype_halves_the_gradients_only():
    step = _step(world_size=8, sharding="ddp")
    (ring,) = _plan(step, reduce_dtype="bf16").transfers
    assert ring.payload_bytes == 2 * RESNET50_PARAMS and ring.sent_bytes_per_rank == 2 * -(-7 * 2 * RESNET50_PARAMS // 8)
    fsdp = _plan(_step(world_size=8, sharding="fsdp"), reduce_dtype="bf16")
    gathers = [t for t in fsdp.transfers if t.collective == "all_gather"]
    scatter = next(t for t in fsdp.transfers if t.collective == "reduce_scatter")
    assert all(2 * scatter.payload_bytes == g.payload_bytes for g in gathers)  # parameters still fp32


def test_zero_and_fsdp_volumes():
    """ZeRO paper (Rajbhandari et al. 2020, section 7): stages 1 and 2 send what DDP's all-reduce
    sends (a reduce-scatter and an all-gather, Psi each), stage 3 1.5 x (3 Psi); FSDP full shard as
    stage 3, SHARD_GRAD_OP one all-gather less."""
    n = 8
    sent = {}
    for sharding in ("ddp", "zero1", "zero2", "zero3", "fsdp", "fsdp-grad-op"):
        plan = _plan(_step(world_size=n, sharding=sharding))
        sent[sharding] = plan.sent_bytes_per_rank()
        for t in plan.transfers:
            assert t.sent_bytes_per_rank == (2 if t.collective == "all_reduce" else 1) * -(-(n - 1) * t.payload_bytes // n)
    psi = 4 * RESNET50_PARAMS
    assert sent["ddp"] == 2 * (n - 1) * psi // n
    for sharding, ratio in (("zero1", 1), ("zero2", 1), ("zero3", 1.5), ("fsdp", 1.5), ("fsdp-grad-op", 1)):
        # padding to a multiple of the shard count per flat tensor: a few bytes per unit
        assert math.isclose(sent[sharding], ratio * sent["ddp"], rel_tol=1e-4), sharding


def test_overlap_expected_and_the_bound():
    step = _step(world_size=8, sharding="ddp")
    plan = _plan(step)
    (ring,) = plan.transfers
    last = ddp_buckets(step.trace, step.setup)[-1]
    tail = 2 * -(-7 * last // 8) / 360e9 + 56e-6  # the last bucket, sent once the backward has ended
    # a long backward hides all but the last bucket; a short one exposes what does not fit
    assert math.isclose(exposed_seconds(plan, "expected", 0.01, 0.05), tail)
    assert math.isclose(exposed_seconds(plan, "expected", 0.01, 1e-4), ring.seconds("expected") - 1e-4)
    # the bound: perfect overlap with the whole step's compute
    assert exposed_seconds(plan, "bound", 0.0, 1e-4, 1e-4) == ring.seconds("bound") - 2e-4
    assert exposed_seconds(plan, "bound", 0.01, 0.02, 0.001) == 0.0


@pytest.mark.parametrize("sharding", ["ddp", "zero1", "zero2", "zero3", "fsdp", "fsdp-grad-op", "hybrid"])
@pytest.mark.parametrize("hardware", [H100, "l4"])
def test_the_bound_stays_below_the_expected_step(sharding, hardware):
    for batch in (1, 32):
        timing = cnncost.table("resnet18", batch=batch, memory="autograd", hardware=hardware,
                               parallel={"world_size": 16, "sharding": sharding}, network_bandwidth="200Gbit/s",
                               nodes=2).timing
        assert timing.communication.timed
        e, b = timing.expected, timing.bound
        assert b.step_seconds <= e.step_seconds
        assert 0 <= b.communication_seconds <= b.communication.seconds <= e.communication.seconds
        assert 0 <= e.communication_seconds <= e.communication.seconds
        assert e.step_seconds == e.forward_seconds + e.backward_seconds + e.optimizer_seconds + e.communication_seconds


def test_accumulation_syncs_ddp_once_and_sharded_gradients_every_micro_step():
    job = {"world_size": 8}
    plain = cnncost.fit("resnet18", "8GiB", hardware=H100, parallel=job | {"sharding": "ddp"})
    accumulated = cnncost.fit("resnet18", "8GiB", hardware=H100, parallel=job | {"sharding": "ddp"}, accumulate=4)
    once = plain.timing.to_dict()["communication"]
    four = accumulated.timing.to_dict()["communication"]
    assert four["micro_steps"] == 4 and four["sent_bytes_per_rank"] == once["sent_bytes_per_rank"]
    # the all-reduce overlaps the last micro-step's backward only: the same exposure as one step's at that batch
    e = accumulated.timing.expected
    assert e.micro_steps == 4 and e.communication.seconds == plain.timing.expected.communication.seconds
    zero3 = cnncost.fit("resnet18", "8GiB", hardware=H100, parallel=job | {"sharding": "zero3"}, accumulate=4)
    plan = zero3.timing.communication
    every = sum(t.sent_bytes_per_rank for t in plan.transfers)  # gathers and reduce-scatter every micro-step
    assert zero3.timing.to_dict()["communication"]["sent_bytes_per_rank"] == 4 * every
    zero1 = cnncost.fit("resnet18", "8GiB", hardware=H100, parallel=job | {"sharding": "zero1"}, accumulate=4)
    assert zero1.timing.to_dict()["communication"]["sent_bytes_per_rank"] == zero1.timing.communication.sent_bytes_per_rank()


def test_one_device_is_unchanged():
    alone = cnncost.table("resnet18", batch=16, memory="autograd", hardware=H100)
    one_rank = cnncost.table("resnet18", batch=16, memory="autograd", hardware=H100,
                             parallel={"world_size": 1, "sharding": "ddp"})
    assert alone.timing.communication is None and one_rank.timing.communication is None
    assert json.dumps(alone.timing.to_dict()) == json.dumps(one_rank.timing.to_dict())
    assert "communication" not in json.dumps(alone.timing.to_dict()).replace("no data loading, loss, communication", "")
    with pytest.raises(CnnCostError, match="give a world size over 1"):
        cnncost.table("resnet18", batch=16, memory="autograd", hardware=H100, nodes=2)
    with pytest.raises(CnnCostError, match="give hardware="):
        cnncost.table("resnet18", batch=16, memory="autograd", parallel={"world_size": 8, "sharding": "ddp"},
                      reduce_dtype="bf16")


def test_links_across_nodes():
    step = _step(world_size=16, sharding="ddp")
    assert not _plan(step, nodes=2).timed and "no network bandwidth" in _plan(step, nodes=2).reason
    (ring,) = _plan(step, nodes=2, network_bandwidth=network_rate("400Gbit/s")).transfers
    assert (ring.link, ring.bandwidth, ring.group_nodes) == ("network", 50 * 10**9, 2)
    # NCCL's ring latency: 2 x 15 steps, 2 of them between the nodes (9.6 us), the others over NVLink
    assert math.isclose(ring.call_latency(), (8_400 + 28 * 3_400 + 2 * 9_600) / 1e9)
    hybrid = _plan(_step(world_size=16, sharding="hybrid"), network_bandwidth=25 * 10**9)
    assert hybrid.nodes == 2  # one node per shard group of 8 (ranks_per_node)
    assert {(t.collective, t.link) for t in hybrid.transfers} == {
        ("all_gather", "nvlink"), ("reduce_scatter", "nvlink"), ("all_reduce", "network")}
    pcie = _plan(_step(world_size=4, sharding="ddp"), hardware="l4")
    assert pcie.transfers[0].link == "pcie" and pcie.transfers[0].bandwidth == 32 * 10**9  # "PCIe Gen4 x16 64GB/s"
    with pytest.raises(CnnCostError, match="must divide the world size"):
        _plan(step, nodes=3)
    assert network_rate("50GB/s") == network_rate("400Gbps") == 50 * 10**9 and network_rate("12.5GB/s") == 12_500_000_000
    with pytest.raises(CnnCostError, match="network bandwidth"):
        network_rate("fast")


def test_profile_round_trip_and_an_older_profile(tmp_path):
    h100 = load_profile(H100)
    path = tmp_path / "h100.yaml"
    path.write_text(profile_yaml(h100))
    again = load_profile(str(path))
    assert again == h100 and again.nvlink_bandwidth == 450 * 10**9 and again.pcie_generation == 5
    old = tmp_path / "old.yaml"  # a profile written before the interconnect fields existed
    old.write_text("name: old-gpu\nvendor_name: Some GPU\nkind: gpu\nvector: {fp32: 10T}\n"
                   "memory_bandwidth: 1000 GB/s\nmemory_bytes: 16GiB\n")
    profile = load_profile(str(old))
    assert profile.nvlink_bandwidth is None and profile.pcie_bandwidth is None
    timing = cnncost.table("resnet18", batch=8, memory="autograd", hardware=str(old),
                           parallel={"world_size": 8, "sharding": "ddp"}).timing
    record = timing.to_dict()
    assert record["communication"]["timed"] is False and "no GPU interconnect" in record["communication"]["reason"]
    assert "communication_seconds" not in record and timing.expected.step_seconds == (
        timing.expected.forward_seconds + timing.expected.backward_seconds + timing.expected.optimizer_seconds)
    net = tmp_path / "net.yaml"
    net.write_text(old.read_text() + "pcie_generation: 4\npcie_bandwidth: 32 GB/s\nnetwork_bandwidth: 25GB/s\n")
    assert load_profile(str(net)).network_bandwidth == 25 * 10**9


def test_the_sweep_entry_equals_the_table():
    """`exposed_seconds` on a sweep's phases gives the table's step (the sweep's own columns)."""
    parallel = {"world_size": 8, "sharding": "fsdp"}
    frame = cnncost.sweep("resnet18", batch=[4, 64], dtype="bf16", hardware="l4", memory="autograd", parallel=parallel)
    for row in frame.itertuples():
        timing = cnncost.table("resnet18", batch=int(row.batch), dtype="bf16", memory="autograd", hardware="l4",
                               parallel=parallel).timing
        assert math.isclose(row.step_seconds, timing.expected.step_seconds, rel_tol=1e-9)
        assert math.isclose(row.bound_step_seconds, timing.bound.step_seconds, rel_tol=1e-9)
        assert row.communication_seconds > 0  # PCIe at 25.6 GB/s: the gathers do not all fit under the compute
    assert exposed_seconds(Plan("ddp", 8, 1, "fp32", (), "not timed"), "expected", 1.0, 1.0) == 0.0


def test_the_search_trades_batch_for_communication():
    from cnncost.search_time import fastest_batch
    parallel = {"world_size": 8, "sharding": "ddp"}
    row = fastest_batch("resnet18", "l4", dtype="bf16", peak_bytes="2GiB", parallel=parallel, nodes=2,
                        network_bandwidth="25Gbit/s")
    batch = int(row["batch"])
    best = [cnncost.table("resnet18", batch=b, dtype="bf16", memory="autograd", hardware="l4", parallel=parallel,
                          nodes=2, network_bandwidth="25Gbit/s").timing.expected for b in (batch // 2, batch)]
    assert best[1].images_per_second > best[0].images_per_second
    assert math.isclose(row["images_per_second"], best[1].images_per_second, rel_tol=1e-9)


def test_text_outputs_say_it():
    from cnncost.cli import main
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["table", "resnet18", "--memory", "autograd", "--world-size", "8", "--hardware", H100])
    text = out.getvalue()
    assert "images/s per rank" in text and "over 8 ranks on h100-sxm5-80gb (expected; communication" in text
    assert "Communication time on h100-sxm5-80gb (ddp over 8 ranks on 1 node, fp32 gradients" in text and "on NVLink at 360 GB/s" in text


def test_json_follows_the_schemas(tmp_path):
    from schema_validation import assert_valid
    report = cnncost.table("resnet18", batch=8, memory="autograd", hardware="t4", parallel={"world_size": 4,
                                                                                         "sharding": "hybrid",
                                                                                         "ranks_per_node": 2},
                           network_bandwidth=12_500_000_000)
    document = json.loads(report.to_json())
    assert document["timing"]["communication"]["bus_bandwidth"] == {"pcie": 12_800_000_000, "network": 10_000_000_000}
    assert document["timing"]["bound"]["communication"]["bus_bandwidth"] == {"pcie": 16 * 10**9,
                                                                            "network": 12_500_000_000}
    assert_valid("table", document)
    untimed = cnncost.table("resnet18", batch=8, memory="autograd", hardware=H100,
                            parallel={"world_size": 16, "sharding": "ddp"}, nodes=2)
    assert_valid("table", json.loads(untimed.to_json()))
    import contextlib
    import io

    from cnncost.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # the command line validates its own JSON (tests/conftest.py) too
        main(["fit", "resnet18", "--budget", "8GiB", "--hardware", H100, "--world-size", "8", "--sharding", "zero2",
              "--accumulate", "2", "--format", "json", "--reduce-dtype", "bf16"])
    document = json.loads(out.getvalue())
    assert_valid("fit", document)
    assert document["timing"]["communication"]["reduce_dtype"] == "bf16"
