"""Differential test: random valid specs must give the same shapes, params, MACs and FLOPs in the
engine and in PyTorch, layer by layer."""
from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost import analyze  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.layers import (GELU, LRN, AdaptiveAvgPool, AvgPool, BatchNorm, Concat, Conv, Dropout,  # noqa: E402
                            Flatten, Gate, GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, Node, ReLU,
                            ReLU6, Repeat, Residual, Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402

INPLACE_ACTS = (ReLU, ReLU6, LeakyReLU, SiLU, Hardswish)
PLAIN_ACTS = (Sigmoid, Tanh, GELU)


def out_shape(node: Node, x: tuple[int, ...]) -> tuple[int, ...] | None:
    """The engine's output shape, or None when the node does not fit this input."""
    try:
        analysis = analyze(Net("probe", input=x, layers=[node]))
    except CnnCostError:
        return None
    # The outermost block is the last span recorded; a side block's output is its input.
    return analysis.blocks[-1].output_shape if analysis.blocks else analysis.leaves[-1].output_shape


def activation(draw) -> Node:
    kind = draw(st.sampled_from(INPLACE_ACTS + PLAIN_ACTS))
    return kind(inplace=draw(st.booleans())) if kind in INPLACE_ACTS else kind()


def small(draw, low: int = 1, high: int = 3) -> int | tuple[int, int]:
    """An int or an (h, w) pair."""
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


def conv(draw, c: int) -> Conv:
    groups = draw(st.sampled_from([g for g in (1, 2, 3, 4, c) if c % g == 0]))  # c: depthwise
    out = groups * draw(st.integers(1, 3))
    stride = small(draw)
    padding = draw(st.one_of(st.just("valid"), st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                             st.just("same") if stride in (1, (1, 1)) else st.just(0)))
    return Conv(out=out, kernel=small(draw, 1, 5), stride=stride, padding=padding,
                dilation=small(draw, 1, 2), groups=groups, bias=draw(st.booleans()))


def pool(draw) -> Node:
    kernel = small(draw, 1, 3)
    k = kernel if isinstance(kernel, int) else min(kernel)
    kind = draw(st.sampled_from((MaxPool, AvgPool)))
    extra = {"count_include_pad": draw(st.booleans())} if kind is AvgPool else {}
    return kind(kernel=kernel, stride=draw(st.one_of(st.none(), st.integers(1, 3))),
                padding=draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans()), **extra)


def keep_size(draw, c: int, out: int) -> list[Node]:
    """Layers from c to `out` channels that keep H and W (for branches and residuals)."""
    k = draw(st.sampled_from((1, 2, 3, 4)))
    first = Conv(out=out, kernel=k, padding="same", dilation=draw(st.integers(1, 2)),
                 groups=draw(st.sampled_from([g for g in (1, out) if c % g == 0 and out % g == 0])))
    return [first, BatchNorm(), activation(draw)][:draw(st.integers(1, 3))]


def map_layer(draw, x: tuple[int, ...]) -> Node:
    c = x[0]
    kind = draw(st.sampled_from(("conv", "conv", "conv", "conv", "pool", "pool", "bn", "act", "lrn", "adaptive", "concat",
                                 "residual", "projection", "gate", "se", "repeat", "side", "dropout")))
    if kind == "conv":
        return conv(draw, c)
    if kind == "pool":
        return pool(draw)
    if kind == "bn":
        return BatchNorm(affine=draw(st.booleans()))
    if kind == "act":
        return activation(draw)
    if kind == "lrn":
        return LRN(size=draw(st.integers(1, 5)))
    if kind == "adaptive":
        return draw(st.sampled_from((AdaptiveAvgPool(output=small(draw)), GlobalAvgPool())))
    if kind == "dropout":
        return Dropout(p=0.3)
    if kind == "concat":
        n = draw(st.integers(1, 3))
        return Concat(branches=tuple(tuple(keep_size(draw, c, draw(st.integers(1, 4)))) for _ in range(n)))
    if kind == "residual":
        return Residual(layers=tuple(keep_size(draw, c, c)), scale=draw(st.sampled_from((1.0, 0.2))))
    if kind == "projection":
        out, stride = draw(st.integers(1, 6)), draw(st.integers(1, 2))
        return Residual(layers=(Conv(out=out, kernel=3, stride=stride, padding=1, bias=False), BatchNorm()),
                        shortcut=(Conv(out=out, kernel=1, stride=stride, bias=False), BatchNorm()))
    if kind == "gate":
        return Gate(layers=(GlobalAvgPool(), Conv(out=draw(st.integers(1, 4)), kernel=1), ReLU(),
                            Conv(out=c, kernel=1), Sigmoid()))
    if kind == "se":
        return SqueezeExcite(reduction=draw(st.integers(1, 4)), activation=draw(st.sampled_from(("relu", "silu"))))
    if kind == "repeat":
        return Repeat(times=draw(st.integers(1, 3)), layers=tuple(keep_size(draw, c, c)))
    return Side(layers=(GlobalAvgPool(), Flatten(), Linear(out=draw(st.integers(1, 5)))))


def vector_layer(draw, x: tuple[int, ...]) -> Node:
    kind = draw(st.sampled_from(("linear", "linear", "bn", "act", "dropout")))
    if kind == "linear":
        return Linear(out=draw(st.integers(1, 12)), bias=draw(st.booleans()))
    if kind == "bn":
        return BatchNorm()
    if kind == "dropout":
        return Dropout(p=0.2, inplace=draw(st.booleans()))
    return activation(draw)


@st.composite
def specs(draw) -> Net:
    x = (draw(st.integers(1, 8)), draw(st.integers(3, 16)), draw(st.integers(3, 16)))
    start, layers = x, []
    for _ in range(draw(st.integers(1, 7))):
        if len(x) == 3 and draw(st.integers(0, 9)) == 0:
            candidate: Node = Flatten()
        else:
            candidate = map_layer(draw, x) if len(x) == 3 else vector_layer(draw, x)
        y = out_shape(candidate, x)
        if y is not None:  # a layer that does not fit is skipped, not rejected: no filtering
            layers.append(candidate)
            x = y
    if not layers:
        layers.append(Sequential(layers=(ReLU(),)))
    return Net("random", input=start, layers=tuple(layers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=specs(), batch=st.integers(1, 2))
def test_engine_and_torch_agree_on_random_specs(net: Net, batch: int) -> None:
    result = check(net, batch=batch, memory=False)
    assert result.ok, "\n".join(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.mismatches)


def test_net_ending_in_a_side_block() -> None:
    # The net's output is what passes the side branch, not the side branch's own output.
    net = Net("side-last", input=(2, 4, 4), layers=(
        Side(layers=(GlobalAvgPool(), Flatten(), Linear(out=3))),))
    assert analyze(net).output_shape == (2, 4, 4)
    assert check(net, batch=1, memory=False).ok
