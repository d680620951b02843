"""Differential test for maps with 1 and 3 spatial dims (C x L, C x D x H x W): random chains of
the N-D ops (conv, conv_transpose, the pools, adaptive and global pools, batch/instance/group norm,
LRN, upsample, pad on any dims, crop, channel shuffle, layer scale, stochastic depth) with
residual adds and channel concats, checked against the torch backend per layer: shapes, params,
MACs and FLOPs (`check`'s exact rows) and saved-for-backward bytes, in fp32 and under bf16
autocast (torch 2.13 CPU); and a training step's FLOPs (forward and backward) against
FlopCounterMode's.

CNNCOST_ND_EXAMPLES sets the number of examples (default 25; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.layers import (LRN, AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, BatchNorm, CenterCrop,  # noqa: E402
                            ChannelShuffle, Concat, Conv, ConvTranspose, Flatten, GlobalAvgPool, GroupNorm,
                            InstanceNorm, LayerScale, Linear, MaxPool, Node, Pad, ReLU, Residual, Sequential,
                            SiLU, StochasticDepth, Upsample)
from cnncost.net import Net  # noqa: E402
from random_nets import out_shape, sizes  # noqa: E402  (tests/support)
from torch_agreement import assert_check_agrees, assert_training_flops_equal_flopcountermode  # noqa: E402

LONG = os.environ.get("CNNCOST_LONG") == "1"
EXAMPLES = int(os.environ.get("CNNCOST_ND_EXAMPLES", "10000" if LONG else "25"))
LINEAR_MODES = {1: "linear", 3: "trilinear"}


def layer(draw, x: tuple[int, ...]) -> Node:
    rank, c = len(x) - 1, x[0]
    kind = draw(st.sampled_from(["conv", "conv_t", "pool", "adaptive", "norm", "upsample", "pad", "crop",
                                 "misc", "act"]))
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0]))
        stride = sizes(draw, rank, 1, 2)
        same = stride == 1 or stride == (1,) * rank
        padding = draw(st.one_of(st.integers(0, 1), st.just("same") if same else st.just(0)))
        return Conv(out=groups * draw(st.integers(1, 3)), kernel=sizes(draw, rank, 1, 3), stride=stride,
                    padding=padding, dilation=sizes(draw, rank, 1, 2), groups=groups, bias=draw(st.booleans()))
    if kind == "conv_t":
        # not 1x1x1 at stride 1 in 3-D: PyTorch's CPU kernel may then leave its output in a larger
        # storage, depending on the thread count (mkldnn or not); the model does not follow that
        kernel = sizes(draw, rank, 2 if rank == 3 else 1, 3)
        return ConvTranspose(out=draw(st.integers(1, 4)), kernel=kernel, stride=draw(st.integers(1, 2)),
                             padding=draw(st.integers(0, 1)), bias=draw(st.booleans()))
    if kind == "pool":
        kernel = draw(st.integers(1, 3))
        cls = draw(st.sampled_from((MaxPool, AvgPool)))
        return cls(kernel=kernel, stride=draw(st.one_of(st.none(), st.integers(1, 2))),
                   padding=draw(st.integers(0, kernel // 2)), ceil_mode=draw(st.booleans()))
    if kind == "adaptive":
        cls = draw(st.sampled_from((AdaptiveAvgPool, AdaptiveMaxPool)))
        return cls(output=sizes(draw, rank, 1, 3))
    if kind == "norm":  # instance norm: PyTorch refuses one position per channel while training
        positions = 1
        for size in x[1:]:
            positions *= size
        instance = [InstanceNorm(affine=draw(st.booleans()))] if positions > 1 else []
        return draw(st.sampled_from([BatchNorm(), *instance, LRN(size=3),
                                     GroupNorm(groups=draw(st.sampled_from([g for g in (1, 2) if c % g == 0])))]))
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", LINEAR_MODES[rank]]))
        corners = mode != "nearest" and draw(st.booleans())
        if draw(st.booleans()):
            return Upsample(scale_factor=draw(st.sampled_from([2, 1.5])), mode=mode, align_corners=corners)
        return Upsample(size=sizes(draw, rank, 2, 5), mode=mode, align_corners=corners)
    if kind == "pad":
        mode = draw(st.sampled_from(["zeros", "reflect", "replicate"]))
        form = draw(st.sampled_from(["one", "per_dim", "torch"]))
        if form == "one":
            return Pad(padding=draw(st.integers(0, 2)), mode=mode)
        if form == "per_dim":
            return Pad(padding=tuple(draw(st.integers(0, 2)) for _ in range(rank)), mode=mode)
        dims = draw(st.integers(1, rank + 1))  # F.pad's pairs from the last dim back, the channels included
        return Pad(padding=tuple(draw(st.integers(0, 2)) for _ in range(2 * dims)), mode=mode)
    if kind == "crop":
        return CenterCrop(size=tuple(draw(st.integers(1, max(1, s))) for s in x[1:]))
    if kind == "misc":
        return draw(st.sampled_from([ChannelShuffle(groups=2 if c % 2 == 0 else 1), LayerScale(),
                                     StochasticDepth(p=0.3, mode=draw(st.sampled_from(["row", "batch"])))]))
    return draw(st.sampled_from([ReLU(inplace=draw(st.booleans())), SiLU()]))


@st.composite
def nd_nets(draw) -> Net:
    rank = draw(st.sampled_from([1, 3]))
    limit = 12 if rank == 1 else 6
    x = (draw(st.integers(1, 4)), *(draw(st.integers(2, limit)) for _ in range(rank)))
    layers: list[Node] = []
    shape = x
    for _ in range(draw(st.integers(1, 6))):
        choice = draw(st.integers(0, 9))
        if choice == 0:  # a residual branch of shape-keeping layers
            branch = Conv(out=shape[0], kernel=3, padding=1)
            node: Node = Residual(layers=(branch, ReLU()))
        elif choice == 1:  # a channel concat of two branches
            node = Concat(branches=(Sequential(layers=(Conv(out=2, kernel=1),)),
                                    Sequential(layers=(Conv(out=3, kernel=3, padding=1), ReLU()))))
        else:
            node = layer(draw, shape)
        out = out_shape(node, shape)
        if out is None or any(s > 64 for s in out) or sum(1 for _ in out) != len(shape):
            continue
        layers.append(node)
        shape = out
    if draw(st.booleans()):
        layers += [GlobalAvgPool(), Flatten(), Linear(out=3)]
    if not layers:
        layers.append(Conv(out=2, kernel=1))
    return Net(f"nd{rank}", input=x, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nd_nets(), bf16=st.booleans())
def test_nd_nets_agree_with_torch(net: Net, bf16: bool) -> None:
    assert_check_agrees(net, "bf16" if bf16 else "fp32", init=False, row_per_node=True)


@settings(max_examples=max(5, EXAMPLES // 3), deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nd_nets())
def test_nd_training_flops_equal_flopcountermode(net: Net) -> None:
    assert_training_flops_equal_flopcountermode(net)
