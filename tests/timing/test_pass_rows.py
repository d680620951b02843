"""The table's fast path of the time model: passes as flat int rows (`passes.node_rows`), timed in
one inlined loop (`step._both_estimates`), must give exactly what the objects and `Rates.time` give
(`node_costs`, `expected_nodes`, `bound_nodes`), on a datasheet and on a calibrated-like profile."""
from __future__ import annotations

import dataclasses

import pytest

from cnncost.api import _compile, load
from cnncost.hardware import load_profile
from cnncost.memory import Precision, trace
from cnncost.timing import BOUNDS, node_costs, time_step
from cnncost.timing.model import ZERO
from cnncost.timing.passes import IDLE, node_rows, pass_cost, pass_row

A100 = load_profile("a100-sxm4-80gb")
# a CPU-like profile whose expected estimate takes every calibrated branch: a conv's per-call
# overhead, the rows correction, first-write page faults (figures made up, of a 2026 laptop's order)
CALIBRATED = dataclasses.replace(
    load_profile("a100-sxm4-80gb"), kind="cpu",
    measured={"conv_call_ns": 5000, "page_fault": 2_500_000_000, "conv.fp32.k27": 20_000_000_000,
              "conv.fp32.k576": 60_000_000_000, "conv.fp32.m32": 10_000_000_000, "conv.fp32.m128": 30_000_000_000,
              "maxpool.fp32": 2_000_000_000, "batchnorm.fp32": 3_000_000_000})


def _graph(arch: str, shape: tuple[int, ...], dtype: str = "fp32"):
    graph = _compile(load(arch), shape, None)
    return graph, trace(graph, precision=Precision(dtype, "cuda"))


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet-v2"])
def test_rows_are_the_passes_objects(arch):
    graph, traced = _graph(arch, (3, 64, 64))
    rows = node_rows(graph, traced, "fp32")
    costs = node_costs(graph, traced, "fp32")
    assert len(rows) == len(costs) == len(graph.nodes)
    for row, cost in zip(rows, costs):
        for r, c in zip(row, (cost.forward, cost.input_grad, cost.weight_grad)):
            assert pass_cost(r) == c  # None is IDLE
            if c is not IDLE:
                assert pass_row(c) == r
    assert any(r[0] == "depthwise" for row in rows for r in row if r) == (arch == "mobilenet-v2")


@pytest.mark.parametrize("profile", [A100, CALIBRATED], ids=["a100", "calibrated"])
def test_node_seconds_equal_the_per_pass_times_exactly(profile):
    graph, traced = _graph("mobilenet-v2", (3, 96, 96))
    timing = time_step(graph, traced, profile, dtype="fp32", optimizer="adam", batch=3)
    seconds = timing.node_seconds()
    for i, passes in enumerate(timing.expected_nodes):
        f, a, w = passes
        assert seconds["forward_seconds"][i] == f.seconds
        assert seconds["backward_seconds"][i] == a.seconds + w.seconds
        for bound in BOUNDS:
            assert seconds[f"{bound}_seconds"][i] == sum(t.seconds for t in passes if t is not ZERO and t.bound == bound)
    for estimate, per_node in (("expected", timing.expected_nodes), ("bound", timing.bound_nodes())):
        step = getattr(timing, estimate)
        forward = 0.0
        for f, _, _ in per_node:
            forward += f.seconds
        assert step.forward_seconds == forward  # the same sums in the same order
    assert seconds["forward_seconds"] is not timing.node_seconds()["forward_seconds"]  # a copy each call


def test_accumulated_per_node_times_stay_one_micro_steps():
    graph, traced = _graph("resnet18", (3, 64, 64))
    micro = time_step(graph, traced, A100, dtype="fp32", optimizer="adam", batch=8)
    last = time_step(graph, traced, A100, dtype="fp32", optimizer="adam", batch=5)
    step = micro.accumulated(3, last)
    assert (step.batch, step.node_batch, micro.node_batch) == (21, 8, 8)
    assert step.node_seconds() == micro.node_seconds()
    assert step.expected_nodes == micro.expected_nodes and step.bound_nodes() == micro.bound_nodes()
