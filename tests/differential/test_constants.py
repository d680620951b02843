"""Differential test of `computed` (layers/computed.py, the importer's tensors made once per
forward from parameters and buffers): random chains of convolutions or linear layers and
computed rows of every op (add, sub, mul, div, reversed; c of a random broadcastable shape, with
or without parameters, per-forward saved elements and MACs made once per forward; `expand`: c made per sample, read by a
convolution; `weight`: c the next convolution's or linear's weight), with activations between. Each net is checked layer by layer against the torch
backend: shapes, params, MACs, FLOPs and saved bytes (batch 2, CPU), fp32 or bf16 autocast.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 40; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.layers import Computed, Conv, Linear, Sigmoid, Tanh  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "40"))


@st.composite
def computed(draw, x: tuple[int, ...]) -> Computed:
    """x op c, c broadcastable against x: some leading dims left out, the rest x's size or 1."""
    keep = draw(st.integers(0, len(x)))
    shape = tuple(draw(st.sampled_from([size, 1])) for size in x[len(x) - keep:])
    weights = draw(st.integers(0, 12))
    grad = weights > 0 or draw(st.booleans())
    return Computed(op=draw(st.sampled_from(["add", "sub", "mul", "div"])), reverse=draw(st.booleans()),
                    shape=shape, weights=weights, saved=draw(st.integers(0, 20)), grad=grad, **draw(made_once(grad)))


@st.composite
def made_once(draw, grad: bool) -> dict:
    """MACs of making c once per forward (an MLP on a buffer), and the gradients' (where c has one);
    past 1024 and 1024^2 the check module splits them into several products."""
    macs = draw(st.sampled_from([0, 0, draw(st.integers(1, 3000)), 1024 ** 2 + draw(st.integers(0, 50))]))
    return {"macs_once": macs, "input_grad_macs_once": draw(st.integers(0, macs)) if grad else 0,
            "weight_grad_macs_once": draw(st.integers(0, macs)) if grad else 0}


@st.composite
def nets(draw) -> Net:
    tokens = draw(st.booleans())
    if tokens:
        x = (draw(st.integers(1, 5)), draw(st.integers(1, 6)))
        layers: list = [Linear(out=draw(st.integers(1, 6)))]
        x = (x[0], layers[0].out)
    else:
        x = (draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        layers = [Conv(out=draw(st.integers(1, 4)), kernel=1)]
        x = (layers[0].out, *x[1:])
    input_shape = (3, *x[1:]) if not tokens else (x[0], 4)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["computed", "computed", "act", "expand", "weight"]))
        if kind == "computed":
            layers.append(draw(computed(x)))
        elif kind == "act":
            layers.append(draw(st.sampled_from([Sigmoid(), Tanh()])))
        elif kind == "weight":  # c the weight of the conv or linear next (a standardised weight)
            out = draw(st.integers(1, 4))
            shape = (out, x[-1]) if tokens else (out, x[0], 1, 1)
            layers.append(Computed(op="weight", shape=shape, weights=draw(st.integers(0, 6)),
                                   saved=draw(st.integers(0, 20)), **draw(made_once(True))))
            layers.append(Linear(out=out) if tokens else Conv(out=out, kernel=1))
            x = (*x[:-1], out) if tokens else (out, *x[1:])
        else:  # c made per sample (a Fourier encoding), then a layer with MACs reading it
            shape = tuple(draw(st.integers(1, 4)) for _ in x)
            layers.append(Computed(op="expand", shape=shape, grad=False))
            if tokens:
                layers.append(Linear(out=x[-1]))
                x = (*shape[:-1], x[-1])
            else:
                layers.append(Conv(out=draw(st.integers(1, 4)), kernel=1))
                x = (layers[-1].out, *shape[1:])
    return Net("computed", input_shape, layers)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CNNCOST_LONG") != "1")
@given(net=nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_computed_rows(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    assert_agrees(result, "\n".join(repr(layer) for layer in net.layers))
