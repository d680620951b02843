"""Receptive fields: the closed forms of the lecture's nets, one rule per layer type, and, on
random nets, exactly the input pixels the gradient of one output position reaches (torch backend).

CNNCOST_RF_EXAMPLES sets the number of random nets per property (default 30)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest

import cnncost
from cnncost import (Add, AdaptiveAvgPool, AvgPool, Concat, Conv, ConvTranspose, Flatten, GlobalAvgPool, Linear,
                     MaxPool, Mul, Net, Pad, PixelShuffle, PixelUnshuffle, ReLU, Residual, Sequential, Sigmoid,
                     Upsample)
from cnncost.errors import CnnCostError
from cnncost.graph import compile
from cnncost.layers import LAYER_TYPES, ConcatMerge, Layer
from cnncost.receptive import receptive_field, receptive_frame
from cnncost.receptive.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CNNCOST_RF_EXAMPLES", "30"))


def by_name(arch, input=None):
    return {r.name: r for r in receptive_field(arch, input)}


def closed_form(arch: str, row: str) -> tuple[int, int]:
    """r = 1 + sum (k_i - 1) * prod_{j < i} s_j over the conv and pool rows of a chain, up to `row`."""
    r, jump = 1, 1
    for node in compile(cnncost.load(arch)).nodes[1:]:
        layer = node.layer
        if isinstance(layer, (Conv, MaxPool, AvgPool)):
            k = layer.kernel if isinstance(layer.kernel, int) else layer.kernel[0]
            s = layer.effective_stride if isinstance(layer, (MaxPool, AvgPool)) else layer.stride
            r, jump = r + (k - 1) * jump, jump * (s if isinstance(s, int) else s[0])
        if node.path == row:
            return r, jump
    raise AssertionError(row)


# --- the lecture's figures ---

def test_alexnet_pool5_is_195_and_vgg16_pool5_is_212() -> None:
    alexnet, vgg = by_name("alexnet")["pool5"], by_name("vgg16")["stage5.pool5"]
    assert (alexnet.receptive_field, alexnet.effective_stride) == (195, 32) == closed_form("alexnet", "pool5")
    assert (vgg.receptive_field, vgg.effective_stride) == (212, 32) == closed_form("vgg16", "stage5.pool5")
    assert vgg.center_offset == Fraction(31, 2)  # 2x2 pools shift the centre by half a step each
    rows = by_name("vgg16")
    assert [rows[f"stage{i}.pool{i}"].receptive_field for i in range(1, 6)] == [6, 16, 44, 100, 212]
    assert rows["stage1.conv1_1"].receptive_field == 3 and rows["stage1.conv1_1"].center_offset == 0


def test_resnet50_and_a_dag() -> None:
    # ResNet-50 with the stride in the first 1x1 (the paper, TF-slim's resnet_v1_50): 483, as Araujo
    # et al. (Distill 2019) tabulate; torchvision's (stride in the 3x3) 427.
    assert by_name("resnet50")["layer4.2.residual.add"].receptive_field == 483
    assert by_name("resnet50-tv")["layer4.2.residual.add"].receptive_field == 427
    googlenet = by_name("googlenet")
    # a concat takes the largest branch: the 5x5 branch beats the 1x1 and the pool branch
    concat = googlenet["inception3a.concat"]
    branches = [r for name, r in googlenet.items() if name.startswith("inception3a.branch")]
    assert concat.receptive_field == max(r.receptive_field for r in branches)
    # whole-input rows after global pooling: the image itself
    for arch, row, size in (("resnet50", "avgpool", 224), ("vgg16", "fc8", 224), ("inception-v3", "fc", 299)):
        r = by_name(arch)[row]
        assert r.whole_input and r.receptive_field == size and r.center_offset == Fraction(size - 1, 2)


def test_squeeze_excitation_makes_every_row_after_it_see_the_whole_image() -> None:
    rows = by_name("se-resnet50")
    assert not rows["layer1.0.residual.conv3"].whole_input
    assert rows["layer1.0.residual.se.mul"].whole_input
    assert rows["layer4.2.residual.add"].receptive_field == 224
    assert rows["layer4.2.residual.add"].effective_stride == 32  # the stride still follows the feature map


# --- one rule per layer type ---

def test_every_registered_layer_type_has_a_rule() -> None:
    leaves = {name: cls for name, cls in LAYER_TYPES.items() if isinstance(cls, type) and issubclass(cls, Layer)}
    table = RULES
    missing = sorted(name for name, cls in leaves.items() if cls not in table)
    assert not missing, f"layer types without a receptive-field rule in cnncost.receptive.rules.RULES: {missing}"
    assert ConcatMerge in table and {"opaque", "shared", "reshape"} <= set(leaves)


def test_imported_graph_nodes() -> None:
    from cnncost.layers.imported import Opaque
    from cnncost.layers.imported import Reshape, Shared
    net = Net("n", input=(4, 16, 16), layers=[
        Conv(name="c", out=4, kernel=3, padding=1),
        Shared(name="again", of="c", layer={"type": "conv", "out": 4, "kernel": 3, "padding": 1}),
        Reshape(name="same", shape=(4, 16, 16)),       # channels regrouped over the same H x W
        Reshape(name="regroup", shape=(8, 8, 16)),     # positions mixed: the whole map
        Opaque(name="mystery", op="torch.nn.LSTM", shape=(8, 8, 16))])
    rows = by_name(net)
    assert rows["again"].receptive_field == 5  # the shared conv's own window
    assert rows["same"].receptive_field == 5 and not rows["same"].whole_input
    assert rows["regroup"].whole_input and rows["regroup"].receptive_field == 16
    assert rows["mystery"].whole_input and "opaque" in rows["mystery"].note


def test_a_class_without_a_rule_is_a_named_error() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Wobble(Layer):
        def out_shape(self, x):
            return x
    Wobble.type_name = "wobble"
    net = Net("n", input=(3, 8, 8), layers=[Conv(name="c", out=2, kernel=3), Wobble(name="w")])
    with pytest.raises(CnnCostError, match=r"layer 'w' \(wobble\): layer type 'wobble' has no receptive-field rule"):
        receptive_field(net)


def test_a_flat_input_is_refused() -> None:
    with pytest.raises(CnnCostError, match=r"need a channels-first map input with 1, 2 or 3 spatial dims .*got 10$"):
        receptive_field(Net("v", input=(10,), layers=[Linear(out=3)]))


# --- rules by hand ---

def one(layers, input=(4, 16, 16)):
    return receptive_field(Net("n", input=input, layers=layers))


def test_window_rules_with_dilation_padding_and_asymmetric_kernels() -> None:
    rows = one([Conv(name="a", out=4, kernel=(3, 5), stride=(1, 2), padding=1, dilation=2),
                MaxPool(name="p", kernel=3, stride=2, padding=1), PixelUnshuffle(name="u", factor=2)], (4, 34, 36))
    a, p, u = rows[1:]
    assert a.size == (5, 9) and a.stride == (1, 2) and a.offset == (1, 3)  # dilated: 5 and 9 pixels
    assert p.size == (5 + 2, 9 + 4) and p.stride == (2, 4) and p.offset == (1, 3)
    assert u.size == (7 + 2, 13 + 4) and u.stride == (4, 8) and u.offset == (2, 5)


def test_pad_and_crop_shift_the_centre() -> None:
    rows = one([Pad(name="pad", padding=(1, 2, 3, 4)), cnncost.CenterCrop(name="crop", size=(8, 9))])
    pad, crop = rows[1:]
    assert pad.offset == (-3, -1) and pad.size == (1, 1)
    # 23x19 cropped to 8x9: top round(15 / 2) = 8 (half to even), left round(10 / 2) = 5
    assert crop.offset == (-3 + 8, -1 + 5)


def test_fractional_strides_are_exact() -> None:
    rows = one([Conv(name="c", out=4, kernel=3, stride=2), Upsample(name="up", scale_factor=2.0),
                PixelShuffle(name="ps", factor=2), ConvTranspose(name="t", out=2, kernel=2, stride=2)])
    c, up, ps, t = rows[1:]
    assert (c.effective_stride, up.effective_stride, ps.effective_stride, t.effective_stride) == \
        (2, 1, Fraction(1, 2), Fraction(1, 4))
    assert up.receptive_field == 3 and up.note == ""  # nearest: every position reads one input position
    assert t.receptive_field == 3  # a 2x2 transposed conv at stride 2: each output reads one input
    bilinear = one([Upsample(name="up", scale_factor=2.0, mode="bilinear")])[1]
    assert bilinear.effective_stride == Fraction(1, 2) and bilinear.receptive_field == 2
    assert bilinear.extent(2, 3) == ((0, 1), (1, 2))  # src (v + 1/2) / 2 - 1/2: 0.75 and 1.25
    odd = one([ConvTranspose(name="t", out=2, kernel=3, stride=2)])[1]
    assert odd.receptive_field == 2 and "varies with the position (1..2, period 2)" in odd.note
    gap = one([ConvTranspose(name="t", out=2, kernel=1, stride=2)])[1]
    assert "some positions read no input" in gap.note


def test_merges_take_the_union_of_their_paths() -> None:
    # two paths of one stride but different centres: the union is wider than either
    net = Net("n", input=(2, 20, 20), layers=[
        Conv(name="a", out=2, kernel=3, padding=0), Pad(name="pa", padding=1),
        Conv(name="b", inputs=("input",), out=2, kernel=5, padding=2),
        Add(name="add", inputs=("pa", "b"))])
    rows = by_name(net)
    assert (rows["pa"].size, rows["b"].size, rows["add"].size) == ((3, 3), (5, 5), (5, 5))
    shifted = Net("n", input=(2, 20, 20), layers=[
        Conv(name="a", out=2, kernel=3), Pad(name="pa", padding=(0, 2, 1, 1)),   # centre moved right
        Conv(name="b", inputs=("input",), out=2, kernel=3, padding=1), Add(name="add", inputs=("pa", "b"))])
    add = by_name(shifted)["add"]
    assert add.size == (3, 4) and add.extent(0, 0) == ((-1, 1), (-1, 2))
    # different strides, equal shapes: the largest field, and a note that travels on
    mixed = Net("n", input=(2, 16, 16), layers=[
        Conv(name="a", out=2, kernel=9, stride=1), Conv(name="b", inputs=("input",), out=2, kernel=2, stride=2),
        Add(name="add", inputs=("a", "b")), ReLU(name="relu")])
    rows = by_name(mixed)
    assert rows["add"].receptive_field == 9 and "strides differ (h 1, 2; w 1, 2)" in rows["relu"].note
    # ... yet each position is exact: column v reads input column 3v through `a` and 6(v - 1)
    # through `b`, `c` (the largest field per axis used to be all there was)
    apart = Net("n", input=(1, 12, 12), layers=[
        Conv(name="a", out=1, kernel=1, stride=(1, 3)), Conv(name="b", out=1, kernel=1, stride=(1, 2)),
        Conv(name="c", out=1, kernel=1, padding=(0, 1)), Add(name="add", inputs=("c", "a"))])
    add = by_name(apart)["add"]
    assert [add.extent(4, v)[1] for v in range(4)] == [(-6, 0), (0, 3), (6, 6), (9, 12)]
    assert add.size == (1, 7) and "w: the field varies with the position (1..7, over the map's 4 positions)" in add.note
    assert check_against_gradient(apart, spots={"add": [(4, 1), (7, 2)]})["add"] == [((4, 4), (0, 3)), ((7, 7), (6, 6))]
    assert check_exact_everywhere(apart) > 0
    # a broadcast gate: every position sees what the gate saw
    gate = Net("n", input=(2, 16, 16), layers=[
        Conv(name="c", out=2, kernel=3, padding=1), GlobalAvgPool(name="g"), Sigmoid(name="s"),
        Mul(name="mul", inputs=("c", "s"))])
    mul = by_name(gate)["mul"]
    assert mul.whole_input and mul.size == (16, 16) and mul.extent(5, 7) == ((0, 15), (0, 15))


def test_adaptive_pools() -> None:
    rows = one([Conv(name="c", out=4, kernel=3, padding=1), AdaptiveAvgPool(name="a", output=(4, 6))])
    a = rows[2]
    assert a.stride == (4, Fraction(8, 3)) and a.size == (3 + 3, 3 + 3) and not a.whole_input
    assert "w: the field varies with the position (5..6, period 3)" in a.note  # bins of 16 / 6: 3 or 4 columns
    flat = one([Conv(name="c", out=4, kernel=3), Flatten(name="f"), Linear(name="fc", out=3)])
    assert flat[2].whole_input and flat[2].size == (16, 16)  # 14x14 from 16: every pixel
    assert flat[3].size == (16, 16)


def test_frame_columns_and_types() -> None:
    frame = receptive_frame("vgg16")
    assert list(frame.columns[:5]) == ["name", "type", "receptive_field", "effective_stride", "center_offset"]
    assert list(frame["name"]) == list(cnncost.table("vgg16").to_dataframe()["name"])  # to join on
    assert str(frame["receptive_field"].dtype) == "int64" and frame["center_offset"].dtype == object
    row = frame.set_index("name").loc["stage5.pool5"]
    assert (row.receptive_field_h, row.effective_stride_w, row.center_offset_h) == (212, 32, Fraction(31, 2))
    assert frame["whole_input"].dtype == bool and frame.set_index("name").loc["fc8", "whole_input"]
    rect = receptive_frame(Net("n", input=(3, 9, 9), layers=[Conv(name="c", out=2, kernel=(1, 3))]))
    assert rect.loc[1, "receptive_field"] == (1, 3) and rect.loc[1, "receptive_field_w"] == 3


def test_the_whole_zoo_has_receptive_fields() -> None:
    for arch in ("unet", "deeplabv3-resnet50", "lraspp-mobilenet-v3-large", "shufflenet-v2-x1-0", "convnext-tiny",
                 "densenet121", "inception-v3-aux", "mobilenet-v3-large", "parnet-s", "squeezenet1-0"):
        rows = receptive_field(arch)
        assert len(rows) == len(compile(cnncost.load(arch)).nodes)
        assert all(r.size[0] >= 1 and r.size[1] >= 1 for r in rows)


# --- the gradient: what one output position really depends on ---

torch = pytest.importorskip("torch", reason="the gradient measurement builds the net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from random_nets import conv, pool, small  # noqa: E402  (tests/support)


def positive_model(net: Net):
    """The net with positive weights (1 / fan-in: values stay near 1), zero biases, and max pools
    as average pools (a max pool routes its gradient to one pixel; what it depends on is its
    window): on a positive input nothing cancels, so every dependence shows in the gradient."""
    from torch import nn
    from cnncost.torch_backend import build
    model = build(net).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.fill_(0.0 if name.endswith("bias") else 1.0 / max(1, p[0].numel()))

    def swap(m):
        if isinstance(m, nn.MaxPool2d):
            return nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)
        if isinstance(m, nn.AdaptiveMaxPool2d):
            return nn.AdaptiveAvgPool2d(m.output_size)
        return m
    model._steps = [(swap(m), inputs) for m, inputs in model._steps]
    return model


def measure(model, shape, positions: dict[int, list[tuple[int, int]]]):
    """For each row index, the (rows, columns) extent of the nonzero input gradient of each of its
    output positions (all channels summed), one sample of a batch per position."""
    total = sum(len(p) for p in positions.values())
    x = (torch.rand((total, *shape)) + 0.5).requires_grad_(True)
    env = [x]
    for module, inputs in model._steps:
        env.append(module(*[env[i] for i in inputs]))
    loss, b = 0, 0
    for row, spots in positions.items():
        pick = torch.zeros(env[row].shape[:1] + (1,) + env[row].shape[2:])
        for i, j in spots:
            pick[b, 0, i, j] = 1.0
            b += 1
        loss = loss + (env[row] * pick).sum()
    loss.backward()
    grad = x.grad.abs().sum(1)
    out, b = {}, 0
    for row, spots in positions.items():
        got = []
        for _ in spots:
            rows, cols = torch.nonzero(grad[b].sum(1)).flatten(), torch.nonzero(grad[b].sum(0)).flatten()
            got.append(((int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max())))
                       if len(rows) else (None, None))  # a position that reads no input (a transposed conv's gap)
            b += 1
        out[row] = got
    return out


def reads(node, axis: int, v: int) -> list[tuple[int, int]]:
    """(input, position) pairs that position v of `node` reads along `axis` (1: H, 2: W), unclamped,
    as PyTorch computes them (written here apart from cnncost.receptive: it only decides which
    positions the gradient is compared at)."""
    layer, shapes = node.layer, node.input_shapes
    pick = (lambda value: value[axis - 1] if isinstance(value, (tuple, list)) else value)
    if isinstance(layer, (Conv, MaxPool, AvgPool)):
        k, pad = pick(layer.kernel), layer.padding
        if isinstance(layer, Conv):
            s, d = pick(layer.stride), pick(layer.dilation)
            top = (d * (k - 1)) // 2 if pad == "same" else 0 if pad == "valid" else pick(pad)
        else:
            s, d, top = pick(layer.effective_stride), 1, pick(pad)
        return [(0, v * s - top + m * d) for m in range(k)]
    if isinstance(layer, ConvTranspose):
        k, s, p, d = (pick(layer.kernel), pick(layer.stride), pick(layer.padding), pick(layer.dilation))
        return [(0, (v + p - m * d) // s) for m in range(k) if (v + p - m * d) % s == 0]
    if isinstance(layer, PixelUnshuffle):
        return [(0, v * layer.factor + m) for m in range(layer.factor)]
    if isinstance(layer, PixelShuffle):
        return [(0, v // layer.factor)]
    if isinstance(layer, Upsample):
        n_in, n_out = shapes[0][axis], node.output_shape[axis]
        scale = Fraction(n_in, n_out) if layer.scale_factor is None else 1 / Fraction(pick(layer.scale_factor))
        if layer.mode == "bilinear" and n_in == 1:  # PyTorch clamps the source index: the one input
            return [(0, 0)]
        src = (v + Fraction(1, 2)) * scale - Fraction(1, 2) if layer.mode == "bilinear" else v * scale
        first = src.numerator // src.denominator
        return [(0, first)] + ([(0, first + 1)] if layer.mode == "bilinear" and src != first else [])
    if isinstance(layer, Pad):
        return [(0, v - layer.pads(shapes[0])[axis][0])]  # (before, after) per dim of the input
    if node.layer.arity is None:  # merges: the same position of each input (a broadcast gate: its only one)
        return [(i, 0 if shape[axis] == 1 < node.output_shape[axis] else v) for i, shape in enumerate(shapes)]
    return [(0, v)]  # element-wise


def clean(graph, k: int, axis: int, u: int) -> bool:
    """No padding (and no position PyTorch clamps) anywhere in the cone of position u of node k."""
    need: dict[int, set[int]] = {k: {u}}
    for index in range(k, 0, -1):
        node = graph.nodes[index]
        for v in need.pop(index, ()):
            for which, position in reads(node, axis, v):
                if not 0 <= position < node.input_shapes[which][axis]:
                    return False
                need.setdefault(node.inputs[which], set()).add(position)
    return True


def check_against_gradient(net: Net, per_row: int = 6, rows: set[str] | None = None,
                           spots: dict[str, list[tuple[int, int]]] | None = None) -> dict[str, list]:
    """Every spatial row (or those named): the exact extent of each of up to `per_row` clean
    positions (or of the `spots` given for a row) equals the gradient's. Returns, per row, the
    extents compared."""
    graph = compile(net)
    records = receptive_field(net)
    _, H, W = net.input
    positions = {}
    for k, (node, record) in enumerate(zip(graph.nodes, records)):
        if k == 0 or len(node.output_shape) != 3 or record.model.span is not None:
            continue
        if spots and node.path in spots:
            positions[k] = spots[node.path]
            assert all(clean(graph, k, 1, i) and clean(graph, k, 2, j) for i, j in positions[k])
            continue
        if rows is not None and node.path not in rows:
            continue
        hs = [u for u in range(node.output_shape[1]) if clean(graph, k, 1, u)]
        ws = [u for u in range(node.output_shape[2]) if clean(graph, k, 2, u)]
        if hs and ws:
            count = min(per_row, max(len(hs), len(ws)))
            positions[k] = [(hs[(t * 7) % len(hs)], ws[(t * 5) % len(ws)]) for t in range(count)]
    if not positions:
        return {}
    measured = measure(positive_model(net), net.input, positions)
    for k, spots in positions.items():
        for (i, j), got in zip(spots, measured[k]):
            predicted = records[k].extent(i, j)
            if None in predicted:
                predicted = (None, None)
            assert predicted == got, (
                f"{graph.nodes[k].path} at ({i}, {j}): predicted {records[k].extent(i, j)}, gradient {got}\n"
                + cnncost.dump_spec(net))
    return {graph.nodes[k].path: measured[k] for k in positions}


@st.composite
def conv_pool_nets(draw, resampling: bool = False) -> Net:
    """Chains and DAGs of convolutions and pools (test_differential's), with same-size residual and
    concat branches (some centred off their input: pad unevenly, then a valid conv) and merges of
    earlier tensors; with `resampling`, also upsampling, transposed convs (whose gaps give merged
    paths different empty phases; `gaps`: one followed by a branch that reads other phases),
    pixel (un)shuffles and zero padding."""
    x = (draw(st.integers(1, 3)), draw(st.integers(12, 36)), draw(st.integers(12, 36)))
    start, layers, tensors = x, [], [("input", x)]
    for i in range(draw(st.integers(1, 6))):
        c = x[0]
        kind = draw(st.sampled_from(("conv", "conv", "pool", "residual", "shifted", "concat", "merge")
                                    + (("up", "convt", "convt", "gaps", "pixel", "unpixel", "pad") if resampling else ())))
        if kind == "conv":
            node = conv(draw, c)
        elif kind == "pool":
            node = pool(draw)
        elif kind == "residual":
            node = Residual(layers=(Conv(out=c, kernel=draw(st.integers(1, 4)), padding="same",
                                         dilation=draw(st.integers(1, 3))),))
        elif kind == "shifted":
            # a branch centred off its input by a different amount per axis: pad unevenly, then a
            # valid conv (after a transposed conv's gaps its phases differ from the identity's)
            (kh, dh), (kw, dw) = [(draw(st.integers(1, 4)), draw(st.integers(1, 2))) for _ in "hw"]
            top, left = draw(st.integers(0, dh * (kh - 1))), draw(st.integers(0, dw * (kw - 1)))
            node = Residual(layers=(Pad(padding=(left, dw * (kw - 1) - left, top, dh * (kh - 1) - top)),
                                    Conv(out=c, kernel=(kh, kw), dilation=(dh, dw))))
        elif kind == "gaps":
            # a transposed conv's gaps, then a branch that reads other phases of them than the
            # identity does: merged paths that are empty on different axes at the same position
            stride, d = draw(st.integers(2, 3)), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
            node = Sequential(layers=(ConvTranspose(out=c, kernel=draw(st.integers(1, 2)), stride=stride),
                                      Residual(layers=(Conv(out=c, kernel=2, padding="same", dilation=d),))))
        elif kind == "concat":
            node = Concat(branches=tuple((Conv(out=draw(st.integers(1, 2)), kernel=k, padding="same",
                                               dilation=draw(st.integers(1, 3))),)
                                         for k in draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))))
        elif kind == "merge":
            same = [name for name, shape in tensors[:-1] if shape == x]
            if not same:
                continue
            node = Add(inputs=(tensors[-1][0], draw(st.sampled_from(same))))
        elif kind == "up":
            node = draw(st.sampled_from((Upsample(scale_factor=2.0), Upsample(scale_factor=2.0, mode="bilinear"),
                                         Upsample(size=(2 * x[1], 2 * x[2]), mode="bilinear"))))
        elif kind == "convt":
            stride = draw(st.integers(1, 3))
            node = ConvTranspose(out=draw(st.integers(1, 3)), kernel=small(draw, 1, 4), stride=stride,
                                 padding=draw(st.integers(0, 1)), output_padding=draw(st.integers(0, stride - 1)),
                                 dilation=draw(st.integers(1, 2)))
        elif kind == "pixel":
            # a conv first: channels that a pixel unshuffle made from different positions are mixed
            # (a shuffle that undoes an unshuffle directly reads each pixel once: the field is an upper bound)
            node = Sequential(layers=(Conv(out=4 * draw(st.integers(1, 2)), kernel=1), PixelShuffle(factor=2)))
        elif kind == "unpixel":
            node = PixelUnshuffle(factor=2)
        else:
            node = Pad(padding=draw(st.sampled_from((1, (0, 2), (1, 0, 2, 3)))))
        node = type(node)(**{**node.__dict__, "name": f"n{i}"})
        try:
            y = compile(Net("probe", input=start, layers=(*layers, node))).output_shape
        except CnnCostError:
            continue
        if y[1] * y[2] > 80 * 80:
            continue
        layers.append(node)
        x = y
        tensors.append((f"n{i}", x))
    if not layers:
        layers.append(Conv(name="only", out=1, kernel=3))
    return Net("random", input=start, layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_pool_nets())
def test_random_conv_pool_nets_match_the_gradient(net: Net) -> None:
    check_against_gradient(net)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_pool_nets(resampling=True))
def test_random_nets_with_upsampling_match_the_gradient(net: Net) -> None:
    check_against_gradient(net)


# --- exact sets of pixels, from the layers' reads alone ---

COLUMN_ORIGIN = 1 << 12  # bit c + COLUMN_ORIGIN of a row's mask: column c (padding columns are negative)


def exact_extents(net: Net):
    """A function (row index, u, v) -> the box around the input pixels position (u, v) of that
    row depends on, or (None, None): the union of the sets of pixels of what the position reads
    (`reads`, unclamped: positions beyond a map read on as the layer's arithmetic says, and beyond
    the image are padding pixels, as cnncost.receptive counts them), each set {row: mask of its
    columns}, nothing summarised per axis on the way."""
    graph = compile(net)
    memo: dict[tuple[int, int, int], dict[int, int]] = {}

    def pixels(k: int, u: int, v: int) -> dict[int, int]:
        key = (k, u, v)
        if key not in memo:
            if k == 0:
                assert v + COLUMN_ORIGIN >= 0
                memo[key] = {u: 1 << (v + COLUMN_ORIGIN)}
            else:
                node, union = graph.nodes[k], {}
                for which, r in reads(node, 1, u):
                    for other, c in reads(node, 2, v):
                        if which == other:  # a merge reads the same position of each input on both axes
                            for row, mask in pixels(node.inputs[which], r, c).items():
                                union[row] = union.get(row, 0) | mask
                memo[key] = union
        return memo[key]

    def box(k: int, u: int, v: int):
        rows = pixels(k, u, v)
        if not rows:
            return (None, None)
        columns = 0
        for mask in rows.values():
            columns |= mask
        return ((min(rows), max(rows)),
                ((columns & -columns).bit_length() - 1 - COLUMN_ORIGIN, columns.bit_length() - 1 - COLUMN_ORIGIN))
    return box


def upsampling_product(graph, axis: int) -> int:
    """A multiple of every row's period along `axis`: the product of the layers' upsampling factors
    (a window's output period divides its input's; an upsampling by b / a multiplies it by b at
    most)."""
    product = 1
    for node in graph.nodes[1:]:
        layer = node.layer
        if isinstance(layer, ConvTranspose):
            product *= layer.stride[axis - 1] if isinstance(layer.stride, tuple) else layer.stride
        elif isinstance(layer, PixelShuffle):
            product *= layer.factor
        elif isinstance(layer, Upsample):
            product *= Fraction(node.output_shape[axis], node.input_shape[axis]).numerator
    return product


def check_exact_everywhere(net: Net, grid_limit: int = 400) -> int:
    """Every spatial row: `extent` equals the exact box at positions inside, at and beyond the
    borders of its map; and where one full period fits in `grid_limit` positions, the row's size,
    offset and notes are those of the exact boxes of every phase. Returns the positions compared."""
    graph = compile(net)
    records = receptive_field(net)
    exact = exact_extents(net)
    periods = (upsampling_product(graph, 1), upsampling_product(graph, 2))
    compared = 0
    for k, (node, record) in enumerate(zip(graph.nodes, records)):
        if len(node.output_shape) != 3 or record.model.span is not None:
            continue
        _, n_h, n_w = node.output_shape
        us, vs = ({-2, -1, 0, 1, n // 2, n - 1, n, n + 1} for n in (n_h, n_w))
        for u in sorted(us):
            for v in sorted(vs):
                assert record.extent(u, v) == exact(k, u, v), (
                    f"{node.path} at ({u}, {v}): predicted {record.extent(u, v)}, exact {exact(k, u, v)}\n"
                    + cnncost.dump_spec(net))
        compared += len(us) * len(vs)
        if periods[0] * periods[1] > grid_limit or "over the map" in record.note:
            continue
        boxes = [exact(k, u, v) for u in range(periods[0]) for v in range(periods[1])]  # row-major
        compared += len(boxes)
        assert [record.extent(u, v) for u in range(periods[0]) for v in range(periods[1])] == boxes
        live = [b for b in boxes if b[0] is not None]
        context = f"{node.path}: {record}\n" + cnncost.dump_spec(net)
        if not live:
            assert record.size == (0, 0) and "no position reads any input" in record.note, context
            continue
        sizes = [[b[i][1] - b[i][0] + 1 for b in live] for i in (0, 1)]
        assert record.size == (max(sizes[0]), max(sizes[1])), context
        assert record.offset == tuple(Fraction(lo + hi, 2) for lo, hi in live[0]), context
        assert ("some positions read no input" in record.note) == (len(live) < len(boxes)), context
        for i in (0, 1):
            assert (f"({min(sizes[i])}..{max(sizes[i])}, period" in record.note) == (min(sizes[i]) < max(sizes[i])), context
    return compared


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=conv_pool_nets(resampling=True))
def test_random_nets_match_the_exact_pixel_sets_at_every_phase(net: Net) -> None:
    check_exact_everywhere(net)


GAPS_ON_DIFFERENT_AXES = """\
name: random
input: [1, 12, 12]
layers:
- {name: n0, type: conv_transpose, out: 1, kernel: 1, stride: 2}
- name: n1
  type: concat
  branches:
  - - {type: conv, out: 1, kernel: 1, padding: same}
- name: n2
  type: residual
  layers:
  - {type: conv, out: 1, kernel: 2, padding: same, dilation: 2}
"""


def test_a_path_empty_on_one_axis_adds_nothing_on_the_other() -> None:
    """Hypothesis's find: n0 fills only even rows and columns. At n2.add, the identity reads
    n0 (u, v), the dilated conv n0 (u -+ 1, v -+ 1): at (1, 16) the identity reads no row (an odd
    one) and the conv no column (15 and 17), so the position depends on nothing, though per axis
    the conv reaches rows 0..1 and the identity column 8."""
    net = cnncost.parse_spec(GAPS_ON_DIFFERENT_AXES)
    add = by_name(net)["n2.add"]
    assert add.extent(1, 16) == (None, None)
    # the four phases: (even, even) the identity's pixel; (odd, odd) the conv's 2 x 2; mixed: nothing
    assert [[add.extent(u, v) for v in (0, 1)] for u in (0, 1)] == [
        [((0, 0), (0, 0)), (None, None)], [(None, None), ((0, 1), (0, 1))]]
    assert add.size == (2, 2) and add.stride == (Fraction(1, 2), Fraction(1, 2)) and add.offset == (0, 0)
    assert "some positions read no input" in add.note
    measured = check_against_gradient(net, spots={"n2.add": [(1, 16), (2, 4), (3, 5), (4, 7)]})
    assert measured["n2.add"] == [(None, None), ((1, 1), (2, 2)), ((1, 2), (2, 3)), (None, None)]
    assert check_exact_everywhere(net) > 0


def test_gaps_that_no_path_fills() -> None:
    """A stride-2 transposed conv read at its gaps only (a 1x1 conv at stride 2 reading 2v - 1): no
    position reads any input; with a path that fills them merged in, every position reads."""
    empty = one([ConvTranspose(name="t", out=1, kernel=1, stride=2),
                 Conv(name="c", out=1, kernel=1, stride=2, padding=1)], (1, 8, 8))[-1]
    assert empty.size == (0, 0) and empty.offset == (None, None) and empty.extent(2, 3) == (None, None)
    assert "no position reads any input" in empty.note and empty.stride == (1, 1)
    net = Net("n", input=(1, 8, 8), layers=[
        ConvTranspose(name="t", out=1, kernel=1, stride=2),
        Conv(name="c", out=1, kernel=3, padding=1),   # each position now reads a pixel on both axes
        Add(name="add", inputs=("t", "c"))])
    add = by_name(net)["add"]
    assert "read no input" not in add.note and add.extent(1, 1) == ((0, 1), (0, 1))
    assert add.extent(1, 2) == ((0, 1), (1, 1)) and check_exact_everywhere(net) > 0


def test_unet_matches_the_gradient_at_every_phase() -> None:
    """U-Net (crops, transposed convs) with 2 channels a level at 204 x 204 (20 x 20 out): the field
    of an output position varies with the position modulo 16; all 16 phases are exact, and the
    largest is the row's receptive field."""
    text = (ROOT / "specs" / "unet.yaml").read_text(encoding="utf-8")
    net = cnncost.parse_spec(re.sub(r"width: \d+", "width: 2", text).replace("[1, 572, 572]", "[1, 204, 204]"))
    rows = {f"up{i}.{name}" for i in range(1, 5) for name in ("upconv", "crop", "concat", "conv2")}
    measured = check_against_gradient(net, per_row=3, rows=rows, spots={"out": [(u, (3 * u) % 20) for u in range(16)]})
    assert len(measured) == len(rows) + 1
    sizes = {h[1] - h[0] + 1 for h, _ in measured["out"]}
    out = by_name(net)["out"]
    assert min(sizes) == 188 and max(sizes) == out.receptive_field == 204
    assert "varies with the position (188..204, period 16)" in out.note
