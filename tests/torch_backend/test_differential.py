"""Differential test: random valid specs, chains and DAGs (named references to earlier tensors,
merges of non-adjacent tensors, several outputs), must give the same shapes, params, MACs, FLOPs
and saved bytes in the engine and in PyTorch, layer by layer.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 300; a long run: 20000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from random_nets import describe, specs  # noqa: E402  (tests/support)

from cnncost.graph import compile  # noqa: E402
from cnncost.layers import Flatten, GlobalAvgPool, Linear, Side  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")  # CI replays one fixed sequence; long runs explore
@given(net=specs())
def test_engine_and_torch_agree_on_random_specs(net: Net) -> None:
    """Shapes, params, MACs and FLOPs per layer and in total; saved bytes per layer and in total
    (batch 2: batch norm needs more than one value per channel to train)."""
    result = check(net, batch=2, device="cpu")
    assert result.ok, describe(net) + "\n".join(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}"
                                                for r in result.mismatches)
    saved = [r for r in result.rows if r.quantity == "saved_bytes"]
    wrong = [r for r in saved if r.ours != r.torch]
    assert not wrong, describe(net) + "\n".join(f"{r.path}: ours {r.ours}, torch {r.torch}" for r in wrong)
    graph = compile(net)
    assert {r.path for r in result.rows} == {n.path for n in graph.nodes[1:]} | {"total"}


def test_net_ending_in_a_side_block() -> None:
    # The net's output is what passes the side branch, not the side branch's own output.
    net = Net("side-last", input=(2, 4, 4), layers=(
        Side(layers=(GlobalAvgPool(), Flatten(), Linear(out=3))),))
    assert compile(net).output_shape == (2, 4, 4)
    assert check(net, batch=1, memory=False).ok
