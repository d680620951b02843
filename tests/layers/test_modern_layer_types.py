"""The layer types modern CNNs use (issue 8, item 3) and the autograd-model fixes of issue 9.

Per type: its formulas (shape, params, MACs) on a small case, with the arithmetic; a torch check
of a small net containing it (CPU, batch 2, fp32, bf16 autocast and fp64) that asserts every exact
figure and the saved bytes of every layer; and a YAML round trip. Then the memory rules in closed
form: views (chunk, crop) that keep their whole base storage alive, and the issue-9 cases, each of
which the model got wrong before (saved bytes differed from PyTorch's)."""
from __future__ import annotations

import warnings

import pytest

import cnncost
from cnncost import (AdaptiveMaxPool, BatchNorm, CenterCrop, ChannelShuffle, Chunk, Concat, Conv, ConvTranspose,
                     Dropout, Flatten, GroupNorm, Hardsigmoid, Hardtanh, Identity, InstanceNorm, LayerNorm,
                     LayerScale, LeakyReLU, Linear, Mish, Net, Pad, PixelShuffle, PixelUnshuffle, ReLU, Softmax,
                     SqueezeExcite, StochasticDepth, Upsample)
from cnncost.errors import CnnCostError, SpecError
from cnncost.layers import LAYER_TYPES
from cnncost.memory import Precision, trace

NEW_TYPES = {
    "layer_norm": LayerNorm, "group_norm": GroupNorm, "instance_norm": InstanceNorm, "hardsigmoid": Hardsigmoid,
    "hardtanh": Hardtanh, "mish": Mish, "softmax": Softmax, "identity": Identity, "chunk": Chunk,
    "channel_shuffle": ChannelShuffle, "layer_scale": LayerScale, "stochastic_depth": StochasticDepth,
    "upsample": Upsample, "conv_transpose": ConvTranspose, "pixel_shuffle": PixelShuffle,
    "pixel_unshuffle": PixelUnshuffle, "pad": Pad, "crop": CenterCrop, "adaptive_maxpool": AdaptiveMaxPool,
}


def test_the_yaml_names_are_the_ones_fixed_in_the_design():
    for type_name, cls in NEW_TYPES.items():
        assert LAYER_TYPES[type_name] is cls
        assert cls.__name__ in cnncost.__all__


def node(layers, input=(8, 6, 6), index=-1):
    graph = cnncost.compile(Net("n", input=input, layers=layers))
    return graph.nodes[index]


# (layer, input, output shape, params, MACs); the arithmetic in the comment.
FORMULAS = [
    # layer norm over C at each position: gamma and beta, C each
    (LayerNorm(), (8, 6, 6), (8, 6, 6), 2 * 8, 0),
    # over C, H, W: gamma and beta of C*H*W = 288 each
    (LayerNorm(over="chw"), (8, 6, 6), (8, 6, 6), 2 * 288, 0),
    (LayerNorm(over="chw", elementwise_affine=False), (8, 6, 6), (8, 6, 6), 0, 0),
    (LayerNorm(over="chw"), (10,), (10,), 2 * 10, 0),                    # any shape for chw
    (GroupNorm(groups=4), (8, 6, 6), (8, 6, 6), 2 * 8, 0),
    (GroupNorm(groups=2, affine=False), (8, 6, 6), (8, 6, 6), 0, 0),
    (InstanceNorm(), (8, 6, 6), (8, 6, 6), 0, 0),                         # running stats are buffers
    (InstanceNorm(affine=True, track_running_stats=True), (8, 6, 6), (8, 6, 6), 2 * 8, 0),
    (Hardsigmoid(), (8, 6, 6), (8, 6, 6), 0, 0),
    (Hardtanh(min_val=-2.0, max_val=2.0), (8, 6, 6), (8, 6, 6), 0, 0),
    (Mish(), (8, 6, 6), (8, 6, 6), 0, 0),
    (Softmax(), (10,), (10,), 0, 0),
    (Identity(), (8, 6, 6), (8, 6, 6), 0, 0),
    # 8 channels in 2 chunks of 4
    (Chunk(chunks=2, index=1), (8, 6, 6), (4, 6, 6), 0, 0),
    # torch.chunk: 7 channels in pieces of ceil(7/3) = 3: 3, 3, 1
    (Chunk(chunks=3, index=2), (7, 6, 6), (1, 6, 6), 0, 0),
    (ChannelShuffle(groups=2), (8, 6, 6), (8, 6, 6), 0, 0),
    # one scale per channel
    (LayerScale(), (8, 6, 6), (8, 6, 6), 8, 0),
    (StochasticDepth(p=0.1), (8, 6, 6), (8, 6, 6), 0, 0),
    (Upsample(scale_factor=2), (8, 6, 6), (8, 12, 12), 0, 0),
    # floor(7 * 1.5) = 10, floor(5 * 1.5) = 7
    (Upsample(scale_factor=1.5), (8, 7, 5), (8, 10, 7), 0, 0),
    # floor(6 * 0.5) = 3, floor(6 * 1.7) = floor(10.2) = 10
    (Upsample(scale_factor=(0.5, 1.7), mode="bilinear"), (8, 6, 6), (8, 3, 10), 0, 0),
    (Upsample(size=(13, 11), mode="bilinear", align_corners=True), (8, 6, 6), (8, 13, 11), 0, 0),
    # H = (6 - 1)*2 - 2*1 + 1*(3 - 1) + 1 + 1 = 12; params 8*6*3*3 + 6 = 438;
    # MACs = |input| 8*6*6 = 288 x (out/groups) 6 x 3*3 = 15,552
    (ConvTranspose(out=6, kernel=3, stride=2, padding=1, output_padding=1), (8, 6, 6), (6, 12, 12), 438, 15552),
    # H = (6-1)*2 + 2*(2-1) + 1 = 13, W = (6-1)*1 + 2*(3-1) + 1 = 10; params 8 * (6/2) * 2*3 = 144;
    # MACs = 288 x 3 x 6 = 5,184
    (ConvTranspose(out=6, kernel=(2, 3), stride=(2, 1), dilation=2, groups=2, bias=False), (8, 6, 6),
     (6, 13, 10), 144, 5184),
    # 8 / 2^2 = 2 channels, 6*2 = 12
    (PixelShuffle(factor=2), (8, 6, 6), (2, 12, 12), 0, 0),
    (PixelUnshuffle(factor=2), (8, 6, 6), (32, 3, 3), 0, 0),
    (Pad(padding=1), (8, 6, 6), (8, 8, 8), 0, 0),
    # [h, w] = [1, 2]: 6 + 2*1 = 8 rows, 6 + 2*2 = 10 columns
    (Pad(padding=(1, 2)), (8, 6, 6), (8, 8, 10), 0, 0),
    # [left, right, top, bottom] = [1, 2, 0, 3]: 6 + 0 + 3 = 9 rows, 6 + 1 + 2 = 9 columns
    (Pad(padding=(1, 2, 0, 3), mode="reflect"), (8, 6, 6), (8, 9, 9), 0, 0),
    (CenterCrop(size=(4, 5)), (8, 6, 6), (8, 4, 5), 0, 0),
    (CenterCrop(size=3), (8, 6, 6), (8, 3, 3), 0, 0),
    (AdaptiveMaxPool(output=(3, 2)), (8, 6, 6), (8, 3, 2), 0, 0),
]


@pytest.mark.parametrize("layer,input,shape,params,macs", FORMULAS,
                         ids=[f"{f[0].type_name}-{i}" for i, f in enumerate(FORMULAS)])
def test_formulas(layer, input, shape, params, macs):
    n = node([layer], input)
    assert (n.output_shape, n.params, n.macs) == (shape, params, macs)
    assert n.activations == (cnncost.shapes.numel(shape) if layer.creates_tensor() else 0)


def test_crop_to_a_second_input():
    # U-Net: crop the 8x8 skip tensor to the 4x4 of the upsampled path, then concatenate
    layers = [Conv(name="skip", out=4, kernel=1), Conv(name="deep", out=2, kernel=5),
              CenterCrop(name="crop", inputs=("skip", "deep")), Concat(name="cat", inputs=("crop", "deep"))]
    graph = cnncost.compile(Net("u", input=(3, 8, 8), layers=layers))
    crop, cat = graph.nodes[3], graph.nodes[4]
    assert crop.output_shape == (4, 4, 4) and crop.activations == 0 and crop.inputs == (1, 2)
    assert cat.output_shape == (6, 4, 4)


def test_views_and_in_place_ops_create_no_tensor():
    for layer in (Identity(), Chunk(chunks=2), CenterCrop(size=2), StochasticDepth(p=0), Dropout(p=0),
                  Hardsigmoid(inplace=True), Hardtanh(inplace=True), Mish(inplace=True)):
        assert not layer.creates_tensor(), layer.type_name
    for layer in (StochasticDepth(p=0.1), Hardsigmoid(), Softmax(), ChannelShuffle(groups=2), Upsample(size=2),
                  Pad(padding=1), PixelShuffle(factor=2), ConvTranspose(out=2, kernel=2), LayerScale()):
        assert layer.creates_tensor(), layer.type_name


def test_lecture_folds_norms_activations_scales_and_drop_path():
    folded = (LayerNorm(), GroupNorm(groups=1), InstanceNorm(), Hardsigmoid(), Hardtanh(), Mish(), Softmax(),
              Identity(), LayerScale(), StochasticDepth(p=0.1))
    assert all(not layer.tabulated for layer in folded)
    shown = (Chunk(chunks=2), ChannelShuffle(groups=2), Upsample(size=2), ConvTranspose(out=2, kernel=2),
             PixelShuffle(factor=2), PixelUnshuffle(factor=2), Pad(padding=1), CenterCrop(size=2),
             AdaptiveMaxPool(output=1))
    assert all(layer.tabulated for layer in shown)


@pytest.mark.parametrize("make,message", [
    (lambda: Chunk(chunks=2, index=2), r"index must be in 0\.\.1"),
    (lambda: Hardtanh(min_val=1.0, max_val=1.0), "max_val must be greater"),
    (lambda: Upsample(), "exactly one of scale_factor and size"),
    (lambda: Upsample(size=4, scale_factor=2), "exactly one of scale_factor and size"),
    (lambda: Upsample(scale_factor=2, align_corners=True), "align_corners applies to the linear modes only"),
    (lambda: ConvTranspose(out=4, kernel=3, stride=2, output_padding=2), "output_padding .* smaller"),
    (lambda: Pad(padding=(1, -1)), "padding must be >= 0"),
    (lambda: CenterCrop(), "needs size, or two inputs"),
    (lambda: CenterCrop(size=3, inputs=("a", "b")), "with size, a crop reads one tensor"),
    (lambda: StochasticDepth(p=1.5), r"p must be in \[0, 1\]"),
    (lambda: LayerNorm(over="hw"), "field 'over' must be 'channels' or 'chw'"),
    (lambda: StochasticDepth(p=0.1, mode="rows"), "field 'mode' must be 'row' or 'batch'"),
])
def test_bad_fields_are_spec_errors(make, message):
    with pytest.raises(SpecError, match=message):
        make()


@pytest.mark.parametrize("layers,input,message", [
    ([Chunk(chunks=4, index=3)], (5, 4, 4), "5 channels make only 3 chunks of 2"),
    ([GroupNorm(groups=3)], (8, 4, 4), "channels 8 not divisible by groups=3"),
    ([PixelShuffle(factor=2)], (6, 4, 4), r"channels 6 not divisible by 2\^2"),
    ([PixelUnshuffle(factor=2)], (4, 5, 4), "5x4 not divisible by 2"),
    ([Pad(padding=4, mode="reflect")], (4, 4, 6), "smaller than the 4x6"),
    ([CenterCrop(size=(5, 2))], (4, 4, 6), "cannot crop 4x6 to a larger 5x2"),
    ([ChannelShuffle(groups=3)], (4, 4, 4), "not divisible by groups=3"),
    ([LayerNorm()], (4,), "needs a CxHxW feature map"),
    ([Upsample(scale_factor=0.1)], (4, 4, 4), "leaves no output"),
    ([ConvTranspose(out=2, kernel=1, padding=2)], (4, 3, 3), "leaves no output"),
])
def test_bad_shapes_are_named_errors(layers, input, message):
    with pytest.raises(CnnCostError, match=message):
        cnncost.compile(Net("n", input=input, layers=layers))


def test_se_with_a_hardsigmoid_gate():
    # MobileNetV3's SE: relu, then a hardsigmoid gate; params 2*C*S + S + C = 2*16*4 + 4 + 16 = 148
    net = Net("se", input=(16, 5, 5), layers=[SqueezeExcite(name="se", squeeze=4, gate="hardsigmoid")])
    rows = {n.path: n for n in cnncost.compile(net).nodes}
    assert rows["se.gate"].type == "hardsigmoid" and sum(n.params for n in rows.values()) == 148
    # on the net input (no gradient): fc1 saves the pooled 16, relu its 4 outputs (fc2's input too), the
    # gate its input (fc2's 16 outputs), the mul only x (400): the gate needs x; x needs no gradient
    assert saved([SqueezeExcite(name="se", squeeze=4, gate="hardsigmoid")], input=(16, 5, 5)) == {
        "se.pool": (0, 0), "se.fc1": (16 * 4, 0), "se.act": (4 * 4, 0), "se.fc2": (0, 0),
        "se.gate": (16 * 4, 0), "se.mul": (400 * 4, 0)}
    assert SqueezeExcite(activation="hardsigmoid").activation == "hardsigmoid"  # an Activation subclass


# --- torch: every figure of a small net containing each layer, and its saved bytes per layer ---

def c(**kw) -> Conv:
    """A 3x3 'same'-size conv: it makes a tensor that needs a gradient, then reads the layer's output."""
    return Conv(out=kw.pop("out", 8), kernel=kw.pop("kernel", 3), padding=kw.pop("padding", 1), **kw)


NETS = {
    "layer_norm": [c(), LayerNorm(), c()],
    "layer_norm-no-affine": [c(), LayerNorm(elementwise_affine=False, eps=1e-6), c()],
    "layer_norm-chw": [c(), LayerNorm(over="chw"), c()],
    "layer_norm-on-the-input": [LayerNorm(), c()],
    "layer_norm-no-affine-on-the-input": [LayerNorm(elementwise_affine=False), c()],
    "group_norm": [c(), GroupNorm(groups=4), c()],
    "group_norm-no-affine": [c(), GroupNorm(groups=2, affine=False), c()],
    "instance_norm": [c(), InstanceNorm(), c()],
    "instance_norm-affine": [c(), InstanceNorm(affine=True), c()],
    "instance_norm-running-stats": [c(), InstanceNorm(track_running_stats=True), c()],
    "instance_norm-both": [c(), InstanceNorm(affine=True, track_running_stats=True), c()],
    "hardsigmoid": [c(), Hardsigmoid(), c()],
    "hardsigmoid-in-place": [c(), Hardsigmoid(inplace=True), c()],
    "hardtanh": [c(), Hardtanh(min_val=-2.0, max_val=3.0), c()],
    "hardtanh-in-place": [c(), Hardtanh(inplace=True), c()],
    "mish": [c(), Mish(), c()],
    "mish-in-place": [c(), Mish(inplace=True), c()],
    "softmax": [c(), Softmax(), c()],
    "softmax-head": [c(), Flatten(), Linear(out=10), Softmax()],
    "identity": [c(), Identity(), c()],
    "leaky_relu": [c(), LeakyReLU(inplace=False), c()],
    "leaky_relu-in-place": [c(), LeakyReLU(), c()],
    "chunk": [c(), Chunk(chunks=2, index=1), c()],
    "chunk-uneven": [c(out=7), Chunk(chunks=3, index=2), c()],
    "chunk-then-group_norm": [c(), Chunk(chunks=2), GroupNorm(groups=2), c()],
    "chunk-then-instance_norm": [c(), Chunk(chunks=2), InstanceNorm(), c()],
    "chunk-then-flatten": [c(), Chunk(chunks=2, index=1), Flatten(), Linear(out=5)],
    "chunk-of-the-input": [Chunk(chunks=2, index=1), c()],
    "both-chunks": [c(name="a"), Chunk(name="x1", chunks=2, index=0, inputs=("a",)),
                    Chunk(name="x2", chunks=2, index=1, inputs=("a",)), c(name="b", inputs=("x2",)),
                    Concat(name="cat", inputs=("x1", "b")), c()],
    "channel_shuffle": [c(), ChannelShuffle(groups=2), c()],
    "layer_scale": [c(), LayerScale(), c()],
    "layer_scale-on-the-input": [LayerScale(init=0.5), c()],
    "stochastic_depth": [c(), StochasticDepth(p=0.2), c()],
    "stochastic_depth-batch": [c(), StochasticDepth(p=0.2, mode="batch"), c()],
    "stochastic_depth-p0": [c(), StochasticDepth(p=0.0), c()],
    "stochastic_depth-p1": [c(), StochasticDepth(p=1.0), c()],
    "upsample": [c(), Upsample(scale_factor=2), c()],
    "upsample-bilinear-size": [c(), Upsample(size=(13, 11), mode="bilinear", align_corners=True), c()],
    "upsample-fraction": [c(), Upsample(scale_factor=1.5), c()],
    "upsample-pair": [c(), Upsample(scale_factor=(0.5, 1.7), mode="bilinear"), c()],
    "conv_transpose": [c(), ConvTranspose(out=6, kernel=3, stride=2, padding=1, output_padding=1), c()],
    "conv_transpose-grouped": [c(), ConvTranspose(out=6, kernel=(2, 3), stride=(2, 1), dilation=2, groups=2,
                                                  bias=False), c()],
    "conv_transpose-on-the-input": [ConvTranspose(out=4, kernel=2, stride=2)],
    "pixel_shuffle": [c(), PixelShuffle(factor=2), c()],
    "pixel_unshuffle": [c(), PixelUnshuffle(factor=2), c()],
    "pad": [c(), Pad(padding=1), c()],
    "pad-reflect": [c(), Pad(padding=(1, 2, 0, 3), mode="reflect"), c()],
    "pad-reflect-on-the-input": [Pad(padding=(1, 2), mode="reflect"), c()],
    "crop": [c(), CenterCrop(size=(5, 3)), c()],
    "crop-then-flatten": [c(), CenterCrop(size=5), Flatten(), Linear(out=3)],
    "crop-to-a-second-input": [c(name="a"), c(name="b", padding=0), CenterCrop(name="crop", inputs=("a", "b")),
                               Concat(name="cat", inputs=("crop", "b")), c()],
    "adaptive_maxpool": [c(), AdaptiveMaxPool(output=(3, 2)), c(kernel=1, padding=0)],
    "adaptive_maxpool-1": [c(), AdaptiveMaxPool(output=1), Flatten(), Linear(out=3)],
    "se-hardsigmoid": [c(), SqueezeExcite(gate="hardsigmoid", reduction=4), c()],
    "se-hardsigmoid-on-the-input": [SqueezeExcite(gate="hardsigmoid", squeeze=2)],
    # issue 9
    "dropout-p1": [c(), Dropout(p=1.0), c()],
    "dropout-p1-in-place": [c(), Dropout(p=1.0, inplace=True), c()],
    "dropout-p0": [c(), Dropout(p=0.0), c()],
    "linear-on-the-input": [Flatten(), Linear(out=7), ReLU(), Linear(out=3)],
    "conv-same-even-kernel": [c(), Conv(out=4, kernel=4, padding="same"), c()],
    "conv-same-even-kernel-on-the-input": [Conv(out=4, kernel=4, padding="same")],
    "conv-same-2x3-dilated": [c(), Conv(out=4, kernel=(2, 3), padding="same", dilation=(1, 3)), c()],
    "batchnorm": [c(), BatchNorm(), c()],
}
INPUT = (4, 8, 6)


def net_for(name: str) -> Net:
    return Net(name, input=INPUT, layers=NETS[name])


def assert_agrees(result) -> None:
    """Every exact figure equal (shapes, params, MACs, FLOPs: a transposed conv's MACs against
    |input| x weight[0] and FlopCounterMode's count), and the saved bytes of every layer and in total."""
    assert result.ok, "\n".join(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.mismatches)
    saved = [(r.path, r.ours, r.torch) for r in result.rows if r.quantity == "saved_bytes"]
    assert saved and all(ours == measured for _, ours, measured in saved), \
        [row for row in saved if row[1] != row[2]]


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp64"])
@pytest.mark.parametrize("name", list(NETS))
def test_torch_check(name: str, dtype: str) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # padding='same' with an even kernel warns in PyTorch
        result = check(net_for(name), batch=2, device="cpu", dtype=dtype, init=False)
    assert_agrees(result)


def test_torch_check_fp16_sample() -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    for name in ("layer_norm-no-affine", "group_norm", "instance_norm-running-stats", "pad-reflect",
                 "layer_scale", "chunk-of-the-input"):
        assert_agrees(check(net_for(name), batch=2, device="cpu", dtype="fp16", init=False))


@pytest.mark.parametrize("name", list(NETS))
def test_yaml_round_trip(name: str) -> None:
    net = net_for(name)
    text = cnncost.dump_spec(net)
    assert cnncost.parse_spec(text) == net
    assert cnncost.table(cnncost.parse_spec(text)).to_dict() == cnncost.table(net).to_dict()


def test_yaml_spelling():
    spec = cnncost.parse_spec("""
name: unet-ish
input: [3, 16, 16]
layers:
  - {name: down, type: conv, out: 8, kernel: 3}
  - {name: pool, type: maxpool, kernel: 2}
  - {name: up, type: conv_transpose, out: 8, kernel: 2, stride: 2}
  - {name: crop, type: crop, from: [down, up]}
  - {name: cat, type: concat, from: [crop, up]}
  - {name: pad, type: pad, padding: [0, 1, 0, 1], mode: reflect}
  - {name: norm, type: layer_norm, over: channels, eps: 1.0e-6}
  - {name: scale, type: layer_scale, init: 1.0e-6}
  - {name: drop, type: stochastic_depth, p: 0.1, mode: row}
  - {name: big, type: upsample, scale_factor: 2, mode: bilinear, align_corners: true}
  - {name: half, type: chunk, chunks: 2, index: 1}
  - {name: shuffle, type: channel_shuffle, groups: 2}
""")
    rows = {n.path: n.output_shape for n in cnncost.compile(spec).nodes}
    assert rows["up"] == (8, 14, 14) and rows["crop"] == (8, 14, 14) and rows["cat"] == (16, 14, 14)
    assert rows["pad"] == (16, 15, 15) and rows["big"] == (16, 30, 30) and rows["half"] == (8, 30, 30)


# --- the memory model in closed form (no torch): bytes per sample each layer saves first ---

def saved(layers, input=(3, 4, 4), dtype="fp32", device="cpu"):
    t = trace(Net("n", input=input, layers=layers), precision=Precision(dtype, device))
    return {path: (size.per_sample, size.fixed) for path, size in t.saved_by_path().items()}


def test_a_conv_on_a_chunk_saves_the_whole_storage():
    # c makes 8x4x4 = 128 elements; d reads its second half but saves all 128 (512 B), not 64
    layers = [Conv(name="c", out=8, kernel=1), Chunk(name="k", chunks=2, index=1), Conv(name="d", out=4, kernel=1)]
    assert saved(layers) == {"c": (48 * 4, 0), "k": (0, 0), "d": (128 * 4, 0)}


def test_two_convs_on_the_two_chunks_save_one_storage():
    layers = [Conv(name="c", out=8, kernel=1), Chunk(name="k0", chunks=2, index=0, inputs=("c",)),
              Chunk(name="k1", chunks=2, index=1, inputs=("c",)), Conv(name="d0", out=2, kernel=1, inputs=("k0",)),
              Conv(name="d1", out=2, kernel=1, inputs=("k1",)), Concat(name="cat", inputs=("d0", "d1"))]
    out = saved(layers)
    assert out["d0"] == (128 * 4, 0) and out["d1"] == (0, 0)


def test_an_autocast_conv_on_a_chunk_of_fp32_saves_a_chunk_sized_cast():
    # the fp32 input 4x4x4 = 64; its half, 32 elements, cast to bf16: 64 B
    assert saved([Chunk(name="k", chunks=2, index=1), Conv(name="d", out=2, kernel=1)], input=(4, 4, 4),
                 dtype="bf16")["d"] == (32 * 2, 0)


def test_group_norm_on_a_chunk_saves_a_contiguous_copy():
    # a copy of the 4x4x4 half (64 elements) + mean and rstd for 2 groups
    layers = [Conv(name="c", out=8, kernel=1), Chunk(name="k", chunks=2), GroupNorm(name="g", groups=2)]
    assert saved(layers)["g"] == ((64 + 2 * 2) * 4, 0)


def test_flatten_of_a_crop_is_a_copy_and_of_a_chunk_a_view():
    crop = [Conv(name="c", out=2, kernel=1), CenterCrop(name="k", size=2), Flatten(name="f"), Linear(name="fc", out=3)]
    assert saved(crop)["fc"] == (2 * 2 * 2 * 4, 0)       # the copied 2x2x2 crop, not the 2x4x4 base
    chunk = [Conv(name="c", out=2, kernel=1), Chunk(name="k", chunks=2), Flatten(name="f"), Linear(name="fc", out=3)]
    assert saved(chunk)["fc"] == (2 * 4 * 4 * 4, 0)      # a view: the whole 2x4x4 base


def test_new_rules_in_closed_form():
    conv = Conv(name="c", out=4, kernel=1)  # 4x4x4 = 64 elements that need a gradient
    assert saved([conv, LayerNorm(name="n")])["n"] == ((64 + 2 * 16) * 4, 0)     # x; mean, rstd per position
    assert saved([conv, LayerNorm(name="n", over="chw")])["n"] == ((64 + 2) * 4, 0)
    assert saved([conv, InstanceNorm(name="n", affine=True, track_running_stats=True)])["n"] == ((64 + 5 * 4) * 4, 0)
    assert saved([conv, Hardsigmoid(name="a")])["a"] == (64 * 4, 0)               # its input
    assert saved([conv, Softmax(name="a")])["a"] == (64 * 4, 0)                   # its output
    assert saved([conv, StochasticDepth(name="s", p=0.5)])["s"] == (4, 0)         # one noise value per sample
    assert saved([conv, StochasticDepth(name="s", p=0.5, mode="batch")])["s"] == (0, 4)
    # layer scale saves its input (the conv's output); the next conv saves its new output
    assert saved([conv, LayerScale(name="s"), Conv(name="d", out=1, kernel=1)]) == {
        "c": (48 * 4, 0), "s": (64 * 4, 0), "d": (64 * 4, 0)}
    assert saved([conv, AdaptiveMaxPool(name="p", output=1)])["p"] == (64 * 4 + 4 * 8, 0)


def test_layer_scale_output_is_fp32_under_autocast():
    t = trace(Net("n", input=(3, 4, 4), layers=[Conv(name="c", out=4, kernel=1), LayerScale(name="s")]),
              precision=Precision("bf16", "cpu"))
    assert t.steps[1].output.dtype == "fp32" and t.steps[0].output.dtype == "bf16"


# issue 9: each of these predicted other bytes than PyTorch saves (checked against torch above too)

def test_autocast_linear_whose_input_needs_no_grad_saves_no_weight_copy():
    net = Net("n", input=(3, 4, 4), layers=[Flatten(name="f"), Linear(name="fc", out=7)])
    t = trace(net, precision=Precision("bf16", "cpu"))
    assert t.weight_casts().fixed == 0                        # was 48*7 elements x 2 B
    assert t.saved_by_module(2)["fc"] == 2 * 48 * 2           # only the bf16 cast of its input
    assert t.steps[1].new_casts == 48 * 7 + 7                # the copies live in autocast's cache


def test_autocast_conv_whose_input_needs_no_grad_still_saves_its_weight_copy():
    t = trace(Net("n", input=(3, 4, 4), layers=[Conv(name="c", out=4, kernel=3)]), precision=Precision("bf16", "cpu"))
    assert t.weight_casts().fixed == 4 * 3 * 9 * 2            # measured: convolution saves it anyway


def test_fp64_batchnorm_statistics_are_fp64():
    layers = [Conv(name="c", out=4, kernel=1), BatchNorm(name="bn")]
    assert saved(layers, dtype="fp64")["bn"] == (64 * 8, 2 * 4 * 8)      # was 2 * 4 * 4 (fp32)
    assert saved(layers, dtype="bf16")["bn"] == (64 * 2, 2 * 4 * 4)      # autocast: fp32 statistics


@pytest.mark.parametrize("kernel,dilation,rows,cols",
                         [(4, 1, 1, 1), ((2, 3), (1, 3), 1, 0), (4, 2, 0, 0), (4, 3, 1, 1)])
def test_same_padding_with_an_odd_total_saves_the_padded_copy(kernel, dilation, rows, cols):
    # total padding dilation*(kernel-1) odd: one more row/column of zeros, bottom/right, copied first
    out = saved([Conv(name="c", out=2, kernel=kernel, padding="same", dilation=dilation)], input=(3, 9, 9))
    assert out["c"] == (3 * (9 + rows) * (9 + cols) * 4, 0)


def test_same_padding_copy_is_cast_first_under_autocast():
    out = saved([Conv(name="c", out=2, kernel=4, padding="same")], input=(3, 5, 5), dtype="bf16")
    assert out["c"] == (3 * 6 * 6 * 2, 0)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_dropout_p1_saves_a_scalar(device):
    layers = [Conv(name="c", out=4, kernel=1), Dropout(name="d", p=1.0)]
    assert saved(layers, device=device)["d"] == (0, 4)       # a 0-d zero, on CUDA too (not fused: p < 1 only)


def test_dropout_p0_is_the_input_itself():
    t = trace(Net("n", input=(3, 4, 4), layers=[Conv(name="c", out=4, kernel=1), Dropout(name="d", p=0.0)]),
              precision=Precision("fp32", "cpu"))
    assert t.steps[1].output is t.steps[0].output and not t.steps[1].saved


def test_out_of_place_leaky_relu_saves_its_input():
    layers = [Conv(name="c", out=4, kernel=1), LeakyReLU(name="a", inplace=False), Conv(name="d", out=2, kernel=1)]
    assert saved(layers) == {"c": (48 * 4, 0), "a": (64 * 4, 0), "d": (64 * 4, 0)}   # was a: 64*4, d: 0
    in_place = [Conv(name="c", out=4, kernel=1), LeakyReLU(name="a"), Conv(name="d", out=2, kernel=1)]
    assert saved(in_place) == {"c": (48 * 4, 0), "a": (64 * 4, 0), "d": (0, 0)}


# CUDA rules: from PyTorch's autocast op lists and sources, not measured here (docs/memory.md)

def test_cuda_autocast_runs_softmax_layer_and_group_norm_in_fp32():
    conv = Conv(name="c", out=4, kernel=1)     # its output is bf16 under autocast: 64 elements
    assert saved([conv, Softmax(name="s")], dtype="bf16", device="cuda")["s"] == (64 * 4, 0)
    assert saved([conv, Softmax(name="s")], dtype="bf16", device="cpu")["s"] == (64 * 2, 0)
    # the fp32 copy of x, and fp32 mean and rstd per position
    assert saved([conv, LayerNorm(name="n")], dtype="bf16", device="cuda")["n"] == ((64 + 32) * 4, 0)
    assert saved([conv, LayerNorm(name="n")], dtype="bf16", device="cpu")["n"] == (64 * 2 + 32 * 4, 0)
    assert saved([conv, GroupNorm(name="n", groups=2)], dtype="bf16", device="cuda")["n"] == ((64 + 4) * 4, 0)


def test_reflect_pad_runs_in_fp32_under_cpu_autocast_only():
    layers = [Conv(name="c", out=4, kernel=1), Pad(name="p", padding=1, mode="reflect")]
    assert saved(layers, dtype="bf16", device="cpu")["p"] == (64 * 4, 0)    # a new fp32 copy of x
    assert saved(layers, dtype="bf16", device="cuda")["p"] == (64 * 2, 0)   # x itself


def test_center_offsets_round_half_to_even_as_torchvision():
    pytest.importorskip("torch")
    from cnncost.torch_backend.own_modules import center_offset
    assert (center_offset(7, 6), center_offset(9, 6)) == (0, 2)  # surplus 1: round(0.5) = 0; surplus 3: round(1.5) = 2
    assert center_offset(10, 4) == 3


def test_the_shufflenet_unit_of_docs_spec():
    spec = cnncost.parse_spec("""
name: shuffle-unit
input: [116, 8, 8]
layers:
  - {name: stem, type: conv, out: 116, kernel: 1}
  - name: unit
    type: sequential
    layers:
      - {name: x1, type: chunk, chunks: 2, index: 0}
      - {name: x2, type: chunk, chunks: 2, index: 1, from: stem}
      - name: branch2
        type: sequential
        from: x2
        layers:
          - {name: conv1, type: conv, out: 58, kernel: 1, bias: false}
          - {name: relu1, type: relu}
          - {name: dw, type: conv, out: 58, kernel: 3, padding: 1, groups: 58, bias: false}
          - {name: conv2, type: conv, out: 58, kernel: 1, bias: false}
          - {name: relu2, type: relu}
      - {name: cat, type: concat, from: [x1, branch2]}
      - {name: shuffle, type: channel_shuffle, groups: 2}
""")
    graph = cnncost.compile(spec)
    assert graph.output_shape == (116, 8, 8)
    # branch2's first conv reads the second half but saves the whole stem output: 116*64*4 B
    assert trace(spec, precision=Precision("fp32", "cpu")).saved_by_path()["unit.branch2.conv1"].per_sample \
        == 116 * 64 * 4
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    assert_agrees(check(spec, batch=2, device="cpu", init=False))
