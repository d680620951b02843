"""A step's time beyond the plain step: a checkpointed step's recompute (its regions' forward run
again in backward) and gradient accumulation's micro-steps (K forward and backward passes, one
optimizer pass), by hand from the plain step's own figures."""
from __future__ import annotations

import math

import pytest

import cnncost
from cnncost.api import _compile, load
from cnncost.hardware import load_profile
from cnncost.memory import Precision, trace
from cnncost.timing import time_step
from cnncost.timing.fit import recomputed_nodes

A100 = load_profile("a100-sxm4-80gb")


def _step(batch: int, **kwargs):
    graph = _compile(load("resnet18"), (3, 64, 64), None)
    traced = trace(graph, precision=Precision("fp32", "cuda"))
    return graph, time_step(graph, traced, A100, dtype="fp32", optimizer="adam", batch=batch, **kwargs)


def test_recompute_adds_the_nodes_forward_to_backward():
    graph, plain = _step(8)
    chosen = tuple(i for i, node in enumerate(graph.nodes) if node.path.startswith("layer1."))
    _, again = _step(8, recompute=chosen)
    for estimate, per_node in (("expected", plain.expected_nodes), ("bound", plain.bound_nodes())):
        forward = sum(per_node[i][0].seconds for i in chosen)  # the same nodes' forward passes, once more
        a, b = getattr(plain, estimate), getattr(again, estimate)
        assert forward > 0 and math.isclose(b.recompute_seconds, forward)
        assert math.isclose(b.backward_seconds, a.backward_seconds + forward)
        assert (b.forward_seconds, b.optimizer_seconds) == (a.forward_seconds, a.optimizer_seconds)
        assert math.isclose(sum(b.by_bound.values()), b.step_seconds)


def test_accumulation_runs_k_micro_steps_and_one_optimizer_pass():
    _, micro = _step(8)
    _, last = _step(5)
    step = micro.accumulated(3, last)  # 8 + 8 + 5 = 21 samples per optimizer step
    for estimate in ("expected", "bound"):
        m, l, s = getattr(micro, estimate), getattr(last, estimate), getattr(step, estimate)
        assert (s.batch, s.micro_steps) == (21, 3)
        assert math.isclose(s.forward_seconds, 2 * m.forward_seconds + l.forward_seconds)
        assert math.isclose(s.backward_seconds, 2 * m.backward_seconds + l.backward_seconds)
        assert s.optimizer_seconds == m.optimizer_seconds  # once per step, not per micro-step
        assert math.isclose(s.step_seconds, 2 * (m.forward_seconds + m.backward_seconds) + l.forward_seconds
                            + l.backward_seconds + m.optimizer_seconds)
        assert math.isclose(s.images_per_second, 21 / s.step_seconds)
        assert math.isclose(sum(s.by_bound.values()), s.step_seconds)
    assert step.batch == 21 and micro.accumulated(1, last) is micro


def test_fit_times_the_recompute_and_the_micro_steps():
    plain = cnncost.fit("resnet18", "4 GB", input=(3, 64, 64), hardware="a100-sxm4-80gb")
    assert plain.timing.expected.recompute_seconds == 0 and plain.timing.expected.micro_steps == 1
    checked = cnncost.fit("resnet18", "4 GB", input=(3, 64, 64), hardware="a100-sxm4-80gb", checkpoint=["layer1"])
    graph = _compile(load("resnet18"), (3, 64, 64), None)
    nodes = recomputed_nodes(graph, checked.step.trace, checked.step.recomputed)
    assert nodes and all(graph.nodes[i].path.startswith("layer1.") for i in nodes)  # the region's own nodes
    assert checked.timing.expected.recompute_seconds > 0
    assert checked.timing.to_dict()["recompute_seconds"] == checked.timing.expected.recompute_seconds
    accumulated = cnncost.fit("resnet18", "4 GB", input=(3, 64, 64), hardware="a100-sxm4-80gb", global_batch=10_000)
    e = accumulated.timing.expected
    assert e.micro_steps == accumulated.accumulate > 1 and e.batch == accumulated.samples_per_step == 10_000
    record = accumulated.timing.to_dict()
    assert (record["batch"], record["micro_steps"]) == (10_000, accumulated.accumulate)
    assert record["images_per_second"] == pytest.approx(10_000 / e.step_seconds)
