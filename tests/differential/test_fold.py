"""Differential test for convolutions, pools and batch norms on maps folded into the batch
(`folded: true`: per sample k x C x ..., PyTorch's (N·k, C, ...) windows or heads): random chains
of folded conv (groups, stride, padding 'same' or not, dilation), batch norm, max and average
pools, with activations and residual adds between them, on maps of 1, 2 or 3 spatial dims, some
starting from channels-last windows (a permute of k x H x W x C: PyTorch's conv and pools then
write channels last). Checked against the torch backend per layer: shapes, params, MACs and FLOPs
(`check`'s exact rows) and saved-for-backward bytes, in fp32 and under bf16 autocast (torch 2.13
CPU); and a training step's FLOPs against FlopCounterMode's.

CNNCOST_FOLD_EXAMPLES sets the number of examples (default 20; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.layers import AvgPool, BatchNorm, Conv, MaxPool, Node, Permute, ReLU, Residual, SiLU  # noqa: E402
from cnncost.net import Net  # noqa: E402
from random_nets import out_shape, sizes  # noqa: E402  (tests/support)
from torch_agreement import assert_check_agrees, assert_training_flops_equal_flopcountermode  # noqa: E402

LONG = os.environ.get("CNNCOST_LONG") == "1"
EXAMPLES = int(os.environ.get("CNNCOST_FOLD_EXAMPLES", "10000" if LONG else "20"))


def layer(draw, x: tuple[int, ...]) -> Node:
    rank, c = len(x) - 2, x[1]
    kind = draw(st.sampled_from(["conv", "conv", "pool", "norm", "act"]))
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0]))
        stride = sizes(draw, rank, 1, 2)
        same = stride == 1 or stride == (1,) * rank
        padding = draw(st.one_of(st.integers(0, 1), st.just("same") if same else st.just(0)))
        return Conv(out=groups * draw(st.integers(1, 3)), kernel=sizes(draw, rank, 1, 3), stride=stride,
                    padding=padding, dilation=sizes(draw, rank, 1, 2), groups=groups, bias=draw(st.booleans()),
                    folded=True)
    if kind == "pool":
        kernel = draw(st.integers(1, 3))
        cls = draw(st.sampled_from((MaxPool, AvgPool)))
        return cls(kernel=kernel, stride=draw(st.one_of(st.none(), st.integers(1, 2))),
                   padding=draw(st.integers(0, kernel // 2)), ceil_mode=draw(st.booleans()), folded=True)
    if kind == "norm":
        return BatchNorm(affine=draw(st.booleans()), folded=True)
    return draw(st.sampled_from([ReLU(inplace=draw(st.booleans())), SiLU()]))


@st.composite
def folded_nets(draw) -> Net:
    rank = draw(st.sampled_from([1, 2, 3]))
    limit = {1: 12, 2: 8, 3: 5}[rank]
    k, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(2, limit)) for _ in range(rank))
    layers: list[Node] = []
    if draw(st.booleans()):  # channels-last windows, k x ... x C, permuted to k x C x ...
        x = (k, *spatial, c)
        layers.append(Permute(dims=(0, rank + 1, *range(1, rank + 1))))
    else:
        x = (k, c, *spatial)
    shape = (k, c, *spatial)
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 7)) == 0:  # a residual branch of shape-keeping layers
            node: Node = Residual(layers=(Conv(out=shape[1], kernel=3, padding=1, folded=True), ReLU()))
        else:
            node = layer(draw, shape)
        out = out_shape(node, shape)
        if out is None or any(s > 64 for s in out) or len(out) != len(shape):
            continue
        layers.append(node)
        shape = out
    if not any(getattr(n, "folded", False) for n in layers):
        layers.append(Conv(out=2, kernel=1, folded=True))
    return Net(f"fold{rank}", input=x, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=folded_nets(), bf16=st.booleans())
def test_folded_nets_agree_with_torch(net: Net, bf16: bool) -> None:
    assert_check_agrees(net, "bf16" if bf16 else "fp32", init=False, row_per_node=True)


@settings(max_examples=max(5, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=folded_nets())
def test_folded_training_flops_equal_flopcountermode(net: Net) -> None:
    assert_training_flops_equal_flopcountermode(net)
