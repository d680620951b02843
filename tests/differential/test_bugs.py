"""Differential test for token ids and for attention whose inputs need a gradient or not: random
small nets reading two inputs, integer ids (an `embedding`, with or without a padding row, read
again by a second embedding of another width) and float tokens (read directly, needing no
gradient), then linears, activations, layer norms and scaled-dot-product attentions whose q, k, v
and mask each come from a row needing a gradient or from the float input itself (the math path
on rank-2 tokens, the fused kernel on split heads), checked layer by layer against the torch
backend: shapes, params, MACs, FlopCounterMode's FLOPs and saved bytes (fp32 and bf16 autocast,
torch 2.13 CPU).

CNNCOST_BUGS_EXAMPLES sets the number of examples (default 12; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_BUGS_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "12"))


@st.composite
def ids_nets(draw) -> Net:
    length, width = draw(st.integers(2, 6)), draw(st.sampled_from((4, 8)))
    vocab = draw(st.integers(3, 40))
    pad = draw(st.one_of(st.none(), st.integers(-vocab, vocab - 1)))
    layers: list = [cnncost.Embedding(name="tok", num_embeddings=vocab, embedding_dim=width, padding_idx=pad,
                                      inputs=("ids",))]
    if draw(st.booleans()):  # a second table on the same ids (the bound is the smaller table's)
        layers += [cnncost.Embedding(name="pos", num_embeddings=draw(st.integers(2, vocab)), embedding_dim=width,
                                     inputs=("ids",)),
                   cnncost.Add(name="sum", inputs=("tok", "pos"))]
    sources = [layers[-1].name, "x"]  # "x": the float input, needing no gradient
    for i in range(draw(st.integers(1, 4))):
        name, prev = f"l{i}", layers[-1].name
        kind = draw(st.sampled_from(("linear", "act", "norm", "attention", "attention")))
        if kind == "linear":
            layers.append(cnncost.Linear(name=name, out=width, bias=draw(st.booleans()), inputs=(prev,)))
        elif kind == "act":
            layers.append(draw(st.sampled_from((cnncost.GELU, cnncost.Sigmoid, cnncost.Tanh)))(name=name))
        elif kind == "norm":
            layers.append(cnncost.LayerNorm(name=name, over="last", inputs=(prev,)))
        else:
            q, k, v = (draw(st.sampled_from(sources + [prev])) for _ in range(3))
            mask = (f"{name}mask",) if draw(st.booleans()) else ()
            if mask:
                layers.append(cnncost.Linear(name=f"{name}mask", out=length,
                                             inputs=(draw(st.sampled_from(sources + [prev])),)))
            if draw(st.booleans()) and not mask:  # heads split off projections: the fused kernel's layout
                heads = draw(st.sampled_from((1, 2)))
                for part, src in zip("qkv", (q, k, v)):
                    layers += [cnncost.Linear(name=f"{name}{part}", out=width, inputs=(src,)),
                               cnncost.SplitHeads(name=f"{name}{part}h", heads=heads)]
                layers += [cnncost.Attention(name=name, inputs=(f"{name}qh", f"{name}kh", f"{name}vh"),
                                             dropout=draw(st.sampled_from((0.0, 0.25)))),
                           cnncost.MergeHeads(name=f"{name}m")]
            else:
                layers.append(cnncost.Attention(name=name, inputs=(q, k, v) + mask, causal=not mask and
                                                draw(st.booleans()), dropout=draw(st.sampled_from((0.0, 0.25)))))
        sources.append(layers[-1].name)
    layers.append(cnncost.Linear(name="head", out=3))
    return Net("ids", input={"ids": (length,), "x": (length, width)}, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=ids_nets(), dtype=st.sampled_from(("fp32", "bf16")))
def test_id_and_attention_nets_agree_with_torch(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    assert_agrees(result, f"{dtype} {[(n.type_name, n.inputs) for n in net.layers]}")
