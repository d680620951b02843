"""Differential test for issue 19's layout and batch-norm findings: random chains on maps made
channels last (ConvNeXt's LayerNorm2d) or not, with pixel shuffles and unshuffles (down to one
channel), 1x1 and 3x3 convs of 1, 2 or 4 channels, batch norms with and without an affine weight and
running statistics, element-wise ops, pools, and a flatten + linear or conv head, checked against
the torch backend per layer (shapes, params, MACs and saved bytes), fp32 and bf16 autocast (torch
2.13 CPU).

CNNCOST_FINDINGS19_EXAMPLES sets the number of examples (default 60, which finds the pixel-shuffle
layout finding; CNNCOST_LONG=1: 2,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every spec in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost import layers as L  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.graph import compile  # noqa: E402
from cnncost.net import Net  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

LONG = os.environ.get("CNNCOST_LONG") == "1"
EXAMPLES = int(os.environ.get("CNNCOST_FINDINGS19_EXAMPLES", "2000" if LONG else "60"))


def _shape(layers: list, x: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return compile(Net("t", input=x, layers=tuple(layers))).nodes[-1].output_shape
    except CnnCostError:
        return None


@st.composite
def nets(draw) -> Net:
    c, side = draw(st.sampled_from([1, 2, 4, 8])), draw(st.sampled_from([2, 4]))
    x = (c, side, side)
    layers: list = [L.Conv(out=c, kernel=1)]
    if draw(st.booleans()):
        layers.append(L.LayerNorm(over="channels"))  # channels last from here
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.sampled_from(["shuffle", "unshuffle", "conv", "bn", "relu", "sigmoid", "pool"]))
        layer = {"shuffle": lambda: L.PixelShuffle(factor=2), "unshuffle": lambda: L.PixelUnshuffle(factor=2),
                 "conv": lambda: L.Conv(out=draw(st.sampled_from([1, 2, 4])), kernel=draw(st.sampled_from([1, 3])),
                                        padding="same"),
                 "bn": lambda: L.BatchNorm(affine=draw(st.booleans()), track_running_stats=draw(st.booleans())),
                 "relu": L.ReLU, "sigmoid": L.Sigmoid, "pool": lambda: L.MaxPool(kernel=1)}[choice]()
        if _shape(layers + [layer], x) is not None:
            layers.append(layer)
    head = draw(st.sampled_from(["flatten", "conv", "relu-flatten", "none"]))
    layers += {"flatten": [L.Flatten(), L.Linear(out=2)], "conv": [L.Conv(out=2, kernel=1)],
               "relu-flatten": [L.ReLU(), L.Flatten(), L.Linear(out=2)], "none": []}[head]
    return Net("findings19", input=x, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=not LONG)
@given(nets(), st.sampled_from(["fp32", "bf16"]))
def test_layouts_and_batch_norms_save_what_torch_saves(net: Net, dtype: str) -> None:
    assert_check_agrees(net, dtype)
