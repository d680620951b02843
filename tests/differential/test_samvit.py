"""Differential test for copies laid out with the batch inside (`Contiguous.batch_dim`, what torch's
reshape makes of SAM's (3, N, heads, L, E) viewed as (3, N * heads, L, E)): random small nets that
pack q, k, v in one projection, permute the three parts before the heads, copy with the batch at a
random dim, take the parts (select) and feed them to matmul, attention, a linear, a reshape or an
element-wise op, checked layer by layer against the torch backend (which makes the same copy,
`x.movedim(0, k).contiguous().movedim(k, 0)`): shapes, params, MACs, FLOPs and saved bytes (fp32
and bf16 autocast, CPU).

CNNCOST_SAMVIT_EXAMPLES sets the number of examples (default 10; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost import Net  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_SAMVIT_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "10"))


@st.composite
def packed_heads_net(draw) -> Net:
    length, heads, e = draw(st.integers(2, 5)), draw(st.integers(1, 3)), draw(st.sampled_from((2, 4)))
    width = heads * e
    layers: list = [cnncost.Linear(name="embed", out=width),  # the input needs no gradient: give it a layer
                    cnncost.Linear(name="qkv", out=3 * width),
                    cnncost.Reshape(name="split", shape=(length, 3, heads, e)),
                    cnncost.Permute(name="parts", dims=(1, 2, 0, 3)),  # (3, heads, L, E)
                    cnncost.Contiguous(name="copy", batch_dim=draw(st.integers(0, 2)))]
    parts = [cnncost.Select(name=n, dim=0, index=i, inputs=("copy",)) for i, n in enumerate(("q", "k", "v"))]
    q, k, v = (p.name for p in parts)
    layers += parts
    used = draw(st.sampled_from(("attention", "matmul", "linear", "reshape", "mul")))
    if used == "attention":
        layers += [cnncost.Attention(name="attn", inputs=(q, k, v), dropout=draw(st.sampled_from((0.0, 0.25)))),
                   cnncost.MergeHeads(name="merge")]
    elif used == "matmul":
        layers += [cnncost.Transpose(name="kt", dim0=-2, dim1=-1, inputs=(k,)),
                   cnncost.Matmul(name="scores", inputs=(q, "kt")), cnncost.Softmax(name="sm", dim=-1),
                   cnncost.Matmul(name="out", inputs=("sm", v))]
    elif used == "linear":
        layers += [cnncost.Linear(name="fc", out=3, inputs=(draw(st.sampled_from((q, k, v))),))]
    elif used == "reshape":  # (heads, L, E) -> (heads * L, E): the heads merge with the tokens
        layers += [cnncost.Reshape(name="rows", shape=(heads * length, e), inputs=(v,)),
                   cnncost.Linear(name="fc", out=3)]
    else:
        layers += [cnncost.Mul(name="qk", inputs=(q, k))]
    return Net("packed-heads", input=(length, width), layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=packed_heads_net(), dtype=st.sampled_from(("fp32", "bf16")))
def test_packed_heads_copied_with_the_batch_inside_agree_with_torch(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)
