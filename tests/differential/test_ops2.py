"""Differential test of the ops of issue 18's second coverage round: `roll` and `unfold_dim`
(Tensor.unfold) in random chains on maps of any rank, with element-wise ops and copies after
them, and multi-query attention (k and v with one head that broadcasts over q's). Each net is
checked layer by layer against the torch backend: shapes, params, MACs, FLOPs and saved bytes
(batch 2, CPU), in fp32 or bf16 autocast.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 25; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.graph import compile  # noqa: E402
from cnncost.net import Net  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "25"))
MAX_ELEMENTS = 800  # per sample: keeps every example fast


def step(draw, i: int, x: tuple[int, ...]) -> list:
    rank, name = len(x), f"n{i}"
    kind = draw(st.sampled_from(["roll", "unfold", "unary", "relu", "contiguous", "flatten"]))
    if kind == "roll":
        dims = tuple(draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=2, unique_by=lambda d: d % rank)))
        return [cnncost.Roll(name=name, shifts=tuple(draw(st.integers(-3, 3)) for _ in dims), dims=dims)]
    if kind == "unfold":
        d = draw(st.integers(0, rank - 1))
        size = draw(st.integers(1, max(1, x[d])))
        return [cnncost.UnfoldDim(name=name, dim=d, size=size, step=draw(st.integers(1, 3)))]
    if kind == "unary":
        return [cnncost.Unary(name=name, op=draw(st.sampled_from(["exp", "abs", "neg"])))]
    if kind == "relu":
        return [cnncost.ReLU(name=name, inplace=False)]
    if kind == "contiguous":
        return [cnncost.Contiguous(name=name)]
    return [cnncost.Flatten(name=name)]


@st.composite
def nets(draw) -> Net:
    x = (draw(st.integers(1, 4)), draw(st.integers(2, 7)), draw(st.integers(2, 7)))
    layers: list = [cnncost.Conv(name="c0", out=draw(st.integers(1, 4)), kernel=1)]
    shape = compile(Net("probe", input=x, layers=layers)).output_shape
    for i in range(1, draw(st.integers(2, 6))):
        ops = step(draw, i, shape)
        try:
            out = compile(Net("probe", input=x, layers=[*layers, *ops])).output_shape
        except CnnCostError:
            continue
        n = 1
        for s in out:
            n *= s
        if n > MAX_ELEMENTS:
            continue
        layers += ops
        shape = out
    return Net("random-ops2", input=x, layers=layers)


@st.composite
def mqa_nets(draw) -> Net:
    """Tokens (L, D): q with `heads` heads, k and v with one (multi-query), merged and projected."""
    length, heads, head = draw(st.integers(2, 6)), draw(st.sampled_from((2, 4))), draw(st.sampled_from((2, 4)))
    layers = [cnncost.Linear(name="embed", out=8),
              cnncost.Linear(name="q", out=heads * head, inputs=("embed",)),
              cnncost.Linear(name="k", out=head, inputs=("embed",)),
              cnncost.Linear(name="v", out=draw(st.sampled_from((head, 3))), inputs=("embed",)),
              cnncost.SplitHeads(name="qh", heads=heads, inputs=("q",)),
              cnncost.SplitHeads(name="kh", heads=1, inputs=("k",)),
              cnncost.SplitHeads(name="vh", heads=1, inputs=("v",)),
              cnncost.Attention(name="att", inputs=("qh", "kh", "vh"), dropout=draw(st.sampled_from((0.0, 0.25)))),
              cnncost.MergeHeads(name="m"), cnncost.Linear(name="o", out=8)]
    return Net("mqa", input=(length, 8), layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_random_rolls_and_windows(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=mqa_nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_multi_query_attention(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)
