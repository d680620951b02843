"""Differential test of the ops of issue 18's importer-coverage round: element-wise functions
(`unary`), the variance (`reduce` var), bicubic resizing, im2col / col2im (`unfold`, `fold`),
norms without a bias, a threshold (F.normalize's clamp), on C x H x W maps in random chains.
Each net is checked layer by layer against the torch backend: shapes, params, MACs, FLOPs and
saved bytes (batch 2, CPU), in fp32 or bf16 autocast.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 30; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.graph import compile  # noqa: E402
from cnncost.layers import (Conv, Fold, GroupNorm, LayerNorm, Reduce, ReLU, Threshold, Unary, Unfold,  # noqa: E402
                            Upsample)
from cnncost.layers.unary import SAVES  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "30"))
MAX_ELEMENTS = 600  # per sample: keeps every example fast


def step(draw, i: int, x: tuple[int, ...]) -> list:
    """One op (or an unfold-fold pair) that reads the C x H x W map x and gives a map."""
    c, h, w = x
    kind = draw(st.sampled_from(["unary", "var", "bicubic", "unfold", "layer_norm", "group_norm", "threshold"]))
    name = f"n{i}"
    if kind == "unary":
        return [Unary(name=name, op=draw(st.sampled_from(sorted(SAVES))))]
    if kind == "var":
        dims = draw(st.sampled_from([(0,), (1, 2), (-1,), (0, 1, 2)]))
        return [Reduce(name=name, op="var", dims=dims, keepdim=True, correction=draw(st.integers(0, 1)))]
    if kind == "bicubic":
        if draw(st.booleans()):
            return [Upsample(name=name, scale_factor=draw(st.sampled_from([2.0, 1.5, 0.5])), mode="bicubic",
                             align_corners=draw(st.booleans()))]
        return [Upsample(name=name, size=(draw(st.integers(1, 7)), draw(st.integers(1, 7))), mode="bicubic")]
    if kind == "unfold":
        k, s, p = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
        if 2 * p >= k:
            p = 0
        between = [Unary(name=f"{name}u", op=draw(st.sampled_from(["exp", "abs", "neg"])))] if draw(st.booleans()) else []
        return [Unfold(name=f"{name}a", kernel=k, stride=s, padding=p), *between,
                Fold(name=f"{name}b", output_size=(h, w), kernel=k, stride=s, padding=p)]
    if kind == "layer_norm":
        return [LayerNorm(name=name, over=draw(st.sampled_from(["channels", "chw"])), bias=draw(st.booleans()))]
    if kind == "group_norm":
        groups = draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0]))
        return [GroupNorm(name=name, groups=groups, bias=draw(st.booleans()))]
    return [Threshold(name=name, threshold=1e-3, value=1e-3)]


@st.composite
def nets(draw) -> Net:
    x = (draw(st.integers(1, 4)), draw(st.integers(2, 7)), draw(st.integers(2, 7)))
    layers: list = [Conv(name="c0", out=draw(st.integers(1, 4)), kernel=1), ReLU(name="r0", inplace=False)]
    shape = compile(Net("probe", input=x, layers=layers)).output_shape
    for i in range(1, draw(st.integers(2, 6))):
        ops = step(draw, i, shape)
        try:
            out = compile(Net("probe", input=x, layers=[*layers, *ops])).output_shape
        except CnnCostError:
            continue
        if len(out) != 3 or out[0] * out[1] * out[2] > MAX_ELEMENTS:
            continue
        layers += ops
        shape = out
    return Net("random-coverage-ops", input=x, layers=layers)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_random_coverage_ops(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    assert_agrees(result, "\n".join(repr(layer) for layer in net.layers))
