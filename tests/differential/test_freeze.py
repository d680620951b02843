"""Differential test for --freeze: random nets (tests/support/random_nets.py: maps, vectors, DAG
merges) and random token chains (linear, layer norm, GELU, layer scale, learnable products), a
random subset of their layers with parameters frozen (requires_grad_(False) in PyTorch), saved
bytes per layer against torch 2.13 CPU, fp32 and bf16 autocast.

CNNCOST_FREEZE_EXAMPLES sets the number of examples (default 20; CNNCOST_LONG=1: 2,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.graph import compile  # noqa: E402
from cnncost.layers import GELU, LayerNorm, LayerScale, Learnable, Linear  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend.freeze_check import compare_frozen  # noqa: E402
from random_nets import describe, specs  # noqa: E402  (tests/support)

LONG = os.environ.get("CNNCOST_LONG") == "1"
EXAMPLES = int(os.environ.get("CNNCOST_FREEZE_EXAMPLES", "2000" if LONG else "20"))


@st.composite
def token_chains(draw) -> Net:
    d = d_in = draw(st.integers(2, 12))
    layers = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["linear", "norm", "gelu", "scale", "learnable"]))
        if kind == "linear":
            d = draw(st.integers(2, 12))
            layers.append(Linear(out=d, bias=draw(st.booleans())))
        elif kind == "norm":
            layers.append(LayerNorm(over="last"))
        elif kind == "gelu":
            layers.append(GELU())
        elif kind == "scale":
            layers.append(LayerScale(dim=-1))
        else:
            layers.append(Learnable(op=draw(st.sampled_from(["add", "mul"])), shape=draw(st.sampled_from([(), (d,)]))))
    return Net("tokens", input=(draw(st.integers(1, 6)), d_in), layers=tuple(layers))


@st.composite
def frozen_nets(draw) -> tuple[Net, tuple[str, ...]]:
    net = draw(st.one_of(specs(), token_chains()))
    with_params = [node.path for node in compile(net).nodes[1:] if node.params]
    frozen = tuple(p for p in with_params if draw(st.booleans()))
    return net, frozen


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(case=frozen_nets(), bf16=st.booleans())
def test_frozen_nets_save_what_torch_saves(case, bf16: bool) -> None:
    net, frozen = case
    if not frozen:
        return
    result = compare_frozen(net, frozen, batch=2, dtype="bf16" if bf16 else "fp32")
    assert result.mismatches() == {}, describe(net) + f"\nfrozen: {frozen}\nper layer (predicted, measured)"
