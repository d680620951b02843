"""Receptive fields on maps with 1 and 3 spatial dims, checked position by position against the
gradient of a real PyTorch network (positive weights, eval mode, zero padding: the pixels an
output position depends on are exactly those its gradient reaches), and the field that is not
defined past a layer that leaves the map layout."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import pytest

from cnncost.layers import (AdaptiveAvgPool, AvgPool, CenterCrop, Conv, ConvTranspose, GlobalAvgPool, Layer, Pad,
                            ReLU, Upsample)
from cnncost.net import Net
from cnncost.receptive import receptive_field, receptive_frame
from cnncost.receptive.rules import RULES, leaves_the_map

NETS = [
    Net("one", input=(2, 90), layers=[
        Conv(out=3, kernel=3, padding=1), AvgPool(kernel=2), Conv(out=3, kernel=3, stride=2, dilation=2, padding=2),
        Pad(padding=(2, 1)), ConvTranspose(out=2, kernel=3, stride=2), Upsample(scale_factor=1.5, mode="linear"),
        Conv(out=2, kernel=2), AdaptiveAvgPool(output=7), CenterCrop(size=5), Upsample(size=9)]),
    Net("three", input=(2, 8, 14, 15), layers=[  # the pad before any resampling: see _inside
        Conv(out=3, kernel=(1, 3, 3), padding=(0, 1, 1)), AvgPool(kernel=2, stride=(1, 2, 2)), Pad(padding=(1, 0, 2)),
        ConvTranspose(out=2, kernel=(1, 2, 3), stride=2), Upsample(scale_factor=2, mode="trilinear"),
        Conv(out=2, kernel=3, stride=2), AdaptiveAvgPool(output=(2, 3, 4)),
        Upsample(size=(3, 5, 6), mode="trilinear", align_corners=True)]),
]


def _gradient_box(model, shape, position):
    import torch
    x = torch.ones(1, *shape, requires_grad=True)
    y = model(x)
    y[(0, slice(None), *position)].sum().backward()
    reached = x.grad[0].abs().sum(0).nonzero()
    if len(reached) == 0:
        return None
    return tuple((int(reached[:, i].min()), int(reached[:, i].max())) for i in range(len(position)))


def _inside(box, image) -> bool:
    """The box lies in the image: no padding (and no index PyTorch clamps) in the position's cone,
    so its pixels are exactly what the gradient reaches (padding counts as pixels beyond the border).
    That holds where every padded position maps to pixels beyond the border: no padding after an
    upsampling or a transposed conv, whose positions beyond the map read back into it."""
    return all(0 <= lo and hi < size for (lo, hi), size in zip(box, image))


@pytest.mark.parametrize("net", NETS, ids=[n.name for n in NETS])
def test_every_position_matches_the_gradient(net: Net) -> None:
    torch = pytest.importorskip("torch")
    from cnncost.torch_backend import build
    records = receptive_field(net)
    image = net.input[1:]
    assert len(records[1].size) == len(image)
    rows_compared = 0
    for k in range(1, len(net.layers) + 1):
        prefix = Net(net.name, input=net.input, layers=net.layers[:k])
        model = build(prefix).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.abs() + 0.05)
        out = records[k]
        shape = model(torch.ones(1, *net.input)).shape[2:]
        compared = 0
        for position in list(product(*(range(n) for n in shape)))[::3]:
            box = out.extent(*position)
            if None in box:  # a transposed conv's gap: no pixel at all
                assert _gradient_box(model, net.input, position) is None, f"{out.name} at {position}"
            elif _inside(box, image):
                assert box == _gradient_box(model, net.input, position), f"{out.name} at {position}"
                compared += 1
        rows_compared += compared > 0
    assert rows_compared >= len(net.layers) - 2  # the last rows' every position may reach the border


def test_sizes_by_hand() -> None:
    rows = {r.name: r for r in receptive_field(Net("c3d", input=(1, 16, 32, 32), layers=[
        Conv(name="a", out=4, kernel=3, padding=1), Conv(name="b", out=4, kernel=(1, 3, 3), stride=(1, 2, 2)),
        GlobalAvgPool(name="g")]))}
    assert rows["a"].receptive_field == 3 and rows["a"].effective_stride == 1
    assert rows["b"].size == (3, 5, 5) and rows["b"].stride == (1, 2, 2) and rows["b"].receptive_field == (3, 5, 5)
    assert rows["g"].whole_input and rows["g"].size == (16, 32, 32)
    frame = receptive_frame(Net("c1d", input=(1, 40), layers=[Conv(name="a", out=2, kernel=5, dilation=2)]))
    assert list(frame.columns)[5:8] == ["receptive_field_l", "effective_stride_l", "center_offset_l"]
    assert frame.set_index("name").loc["a", "receptive_field_l"] == 9


@dataclass(frozen=True, kw_only=True)
class ToTokens(Layer):
    """C x H x W -> (H*W) x C, as `x.flatten(2).transpose(1, 2)`: a token sequence."""

    def out_shape(self, x):
        return (x[1] * x[2], x[0])


ToTokens.type_name = "to_tokens"


def test_not_defined_past_a_layer_that_leaves_the_map(monkeypatch) -> None:
    monkeypatch.setitem(RULES, ToTokens, leaves_the_map)
    net = Net("vit-ish", input=(3, 32, 32), layers=[
        Conv(name="patch", out=8, kernel=4, stride=4), ToTokens(name="tokens"), ReLU(name="act"),
        Conv(name="mix", out=8, kernel=1)])
    rows = {r.name: r for r in receptive_field(net)}
    assert rows["patch"].receptive_field == 4
    for name in ("tokens", "act", "mix"):
        assert rows[name].size == (None, None) and rows[name].receptive_field is None
        assert rows[name].note == ("not defined past tokens (to_tokens: its output is not a channels-first map "
                                   "of the input's positions)")
        assert rows[name].extent(0, 0) == (None, None)
    frame = receptive_frame(net).set_index("name")
    assert frame.loc["mix", "receptive_field_h"] is None and frame.loc["patch", "receptive_field_h"] == 4
