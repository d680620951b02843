"""Differential test of RAFT's ops (issue 18, optical flow): `grid_sample` on 2-D and 3-D maps
(every mode, padding mode and align_corners; a grid that needs a gradient or not), on maps folded
into the batch (k maps per sample, as the imported correlation lookups), and `instance_norm`
folded (RAFT's encoder on both images), in random nets checked layer by layer against the torch
backend: shapes, params, MACs, FLOPs and saved bytes (batch 2, CPU), fp32 or bf16 autocast.

CNNCOST_DIFF_EXAMPLES sets the number of examples (default 25; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os
from math import prod

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost.layers import GridSample  # noqa: E402
from cnncost.layers.imported import Reshape  # noqa: E402
from cnncost.net import Net  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_DIFF_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "25"))


def after(draw, folded: bool, positions: int) -> list:
    """What reads the sampled map: nothing, an activation, a conv or an instance norm (folded alike;
    PyTorch's training mode refuses one position)."""
    kind = draw(st.sampled_from(["none", "relu", "sigmoid", "conv", "norm"]))
    if (kind == "norm" and positions == 1) or (kind == "conv" and folded):
        kind = "relu"
    if kind == "none":
        return []
    if kind == "relu":
        return [cnncost.ReLU(name="after", inplace=False)]
    if kind == "sigmoid":
        return [cnncost.Sigmoid(name="after")]
    if kind == "conv":
        return [cnncost.Conv(name="after", out=draw(st.integers(1, 3)), kernel=1)]
    return [cnncost.InstanceNorm(name="after", affine=draw(st.booleans()), track_running_stats=draw(st.booleans()),
                                 folded=folded), cnncost.ReLU(name="relu", inplace=False)]


@st.composite
def nets(draw) -> Net:
    rank = draw(st.sampled_from((2, 2, 3)))
    folded = rank == 2 and draw(st.booleans())
    k = draw(st.integers(2, 3)) if folded else 1
    spatial = tuple(draw(st.integers(2, 5)) for _ in range(rank))
    channels = draw(st.integers(1, 3))
    modes = ("bilinear", "nearest", "bicubic") if rank == 2 else ("bilinear", "nearest")
    layer = GridSample(name="gs", inputs=("map", "grid"), mode=draw(st.sampled_from(modes)),
                       padding_mode=draw(st.sampled_from(("zeros", "border", "reflection"))),
                       align_corners=draw(st.booleans()), folded=folded)
    kernel = tuple(draw(st.integers(1, s)) for s in spatial)  # the grid's size: the input's, less a valid conv's
    out = spatial
    layers: list = [cnncost.Conv(name="c", out=k * channels, kernel=1)]
    if folded:
        layers.append(Reshape(name="map", shape=(k, channels, *spatial)))
    else:
        layers[0] = cnncost.Conv(name="map", out=channels, kernel=1)
    if not folded and draw(st.booleans()):  # a grid from the input alone: it needs no gradient
        layers += [cnncost.Slice(name="pts", dim=0, stop=rank, inputs=("input",)) if draw(st.booleans())
                   else cnncost.Arith(name="pts", op="mul", value=0.5, inputs=("input",))]
        layers += [cnncost.Slice(dim=0, stop=rank)] if layers[-1].name == "pts" and isinstance(layers[-1], cnncost.Arith) else []
        layers.append(cnncost.Permute(name="grid", dims=(*range(1, rank + 1), 0)))
    else:
        layers.append(cnncost.Conv(name="g", out=k * rank, kernel=kernel, inputs=("input",)))
        out = tuple(s - kk + 1 for s, kk in zip(spatial, kernel))
        if folded:
            layers += [Reshape(shape=(k, rank, *out)), cnncost.Permute(dims=(0, *range(2, rank + 2), 1))]
        else:
            layers.append(cnncost.Permute(dims=(*range(1, rank + 1), 0)))
        layers.append(cnncost.Tanh(name="grid") if draw(st.booleans()) else cnncost.Arith(name="grid", op="mul", value=1.5))
    layers.append(layer)
    layers += after(draw, folded, prod(out))
    return Net("random-raft", input=(max(channels, rank), *spatial), layers=layers)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nets(), dtype=st.sampled_from(["fp32", "bf16"]))
def test_engine_and_torch_agree_on_random_grid_samples(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)
