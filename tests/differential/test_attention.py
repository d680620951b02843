"""Differential test for token layouts and attention: random small nets of linear layers on any
rank, layer norm over the last dims, every activation (softmax-like ones on any dim), matmul,
scaled-dot-product attention (with and without causal, a mask, several heads, one or two head
sizes) and multi-head attention, checked layer by layer against the torch backend: shapes,
params, MACs, FlopCounterMode's FLOPs and saved bytes (fp32 and bf16 autocast, CPU).

CNNCOST_ATTN_EXAMPLES sets the number of examples (default 12; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost import Net  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_ATTN_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "12"))

PLAIN = (cnncost.GELU, cnncost.Sigmoid, cnncost.Tanh, cnncost.Softplus, cnncost.Softsign, cnncost.Softshrink,
         cnncost.Hardshrink, cnncost.Tanhshrink, cnncost.LogSigmoid, cnncost.PReLU)
INPLACE = (cnncost.ReLU, cnncost.ELU, cnncost.SELU, cnncost.CELU, cnncost.RReLU, cnncost.LeakyReLU, cnncost.SiLU)
ALONG = (cnncost.Softmax, cnncost.Softmin, cnncost.LogSoftmax)


@st.composite
def token_net(draw) -> Net:
    rank = draw(st.integers(2, 3))
    width = draw(st.sampled_from((4, 8, 12)))
    shape = tuple(draw(st.integers(1, 3)) for _ in range(rank - 2)) + (draw(st.integers(2, 6)), width)
    layers: list = [cnncost.Linear(name="embed", out=width)]  # the input needs no gradient: give it a layer
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(("linear", "norm", "act", "along", "mha", "attention", "matmul")))
        name = f"l{i}"
        if kind == "linear":
            layers.append(cnncost.Linear(name=name, out=width, bias=draw(st.booleans())))
        elif kind == "norm":
            layers.append(cnncost.LayerNorm(name=name, over="last", dims=draw(st.integers(1, 2)),
                                            elementwise_affine=draw(st.booleans())))
        elif kind == "act":
            kind = draw(st.sampled_from(PLAIN + INPLACE))
            layers.append(kind(name=name, inplace=draw(st.booleans())) if kind in INPLACE else kind(name=name))
        elif kind == "along":
            layers.append(draw(st.sampled_from(ALONG))(name=name, dim=draw(st.integers(-rank, rank - 1))))
        elif kind == "mha":
            layers.append(cnncost.MultiheadAttention(name=name, heads=draw(st.sampled_from((1, 2, 4))),
                                                     bias=draw(st.booleans()), causal=draw(st.booleans())))
        elif kind == "attention":
            prev = layers[-1].name
            heads = draw(st.sampled_from((1, 2)))
            head_v = draw(st.sampled_from((width // heads, 2)))
            layers += [cnncost.Linear(name=f"{name}q", out=width, inputs=(prev,)),
                       cnncost.Linear(name=f"{name}k", out=width, inputs=(prev,)),
                       cnncost.Linear(name=f"{name}v", out=heads * head_v, inputs=(prev,)),
                       cnncost.SplitHeads(name=f"{name}qh", heads=heads, inputs=(f"{name}q",)),
                       cnncost.SplitHeads(name=f"{name}kh", heads=heads, inputs=(f"{name}k",)),
                       cnncost.SplitHeads(name=f"{name}vh", heads=heads, inputs=(f"{name}v",)),
                       cnncost.Linear(name=f"{name}mask", out=shape[-2], inputs=(prev,))]
            masked = rank == 2 and draw(st.booleans())  # a mask (L, S) broadcast over the heads
            mask = (f"{name}mask",) if masked else ()
            layers += [cnncost.Attention(name=name, inputs=(f"{name}qh", f"{name}kh", f"{name}vh") + mask,
                                         causal=not masked and draw(st.booleans()),
                                         dropout=draw(st.sampled_from((0.0, 0.0, 0.25)))),
                       cnncost.MergeHeads(name=f"{name}m"), cnncost.Linear(name=f"{name}o", out=width)]
        else:  # scores = x @ (x W)^T viewed as (width, L): a matmul of two activations
            prev, length = layers[-1].name, shape[-2]
            lead = shape[:-2]
            layers += [cnncost.Linear(name=f"{name}b", out=width, inputs=(prev,)),
                       cnncost.Reshape(name=f"{name}t", shape=lead + (width, length)),
                       cnncost.Matmul(name=name, inputs=(prev, f"{name}t")),
                       cnncost.Linear(name=f"{name}o", out=width)]
    return Net("tokens", input=shape, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=token_net(), dtype=st.sampled_from(("fp32", "bf16")))
def test_token_nets_agree_with_torch(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_vit_block(dtype: str) -> None:
    """Pre-norm transformer block on 6 tokens of 16: every path of the draw above at once."""
    block = (cnncost.LayerNorm(name="ln1", over="last"), cnncost.MultiheadAttention(name="attn", heads=4),
             cnncost.LayerNorm(name="ln2", over="last"), cnncost.Linear(name="fc1", out=32),
             cnncost.GELU(name="act"), cnncost.Linear(name="fc2", out=16), cnncost.Softmax(name="sm", dim=-1))
    assert_check_agrees(Net("vit-block", input=(6, 16), layers=(cnncost.Linear(name="embed", out=16),) + block), dtype)
