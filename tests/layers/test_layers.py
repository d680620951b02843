"""Closed-form cases per layer type, and the errors a bad layer gets."""
import dataclasses

import pytest

import cnncost
from cnncost import (GELU, LRN, AdaptiveAvgPool, AvgPool, BatchNorm, Concat, Conv, Dropout, Flatten, Gate,
                     GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, Net, ReLU, ReLU6, Repeat, Residual,
                     Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from cnncost import compile as compile_graph
from cnncost.layers import Layer
from cnncost.shapes import numel
from cnncost.errors import CnnCostError, ShapeError, SpecError


def leaf(layer, shape):
    """A layer's row, or for a block the sum of its rows (its output is the last row's)."""
    leaves = compile_graph(Net("t", shape, [layer])).nodes[1:]
    if len(leaves) == 1:
        return leaves[0]
    return dataclasses.replace(leaves[-1], params=sum(c.params for c in leaves), macs=sum(c.macs for c in leaves))


# (layer, input, output, params, macs, allocates a tensor)
CASES = {
    "conv 3x3 same": (Conv(out=8, kernel=3, padding=1), (3, 32, 32), (8, 32, 32), 8 * 3 * 9 + 8, 32 * 32 * 8 * 27, True),
    "conv stride 2 no bias": (Conv(out=4, kernel=3, stride=2, bias=False), (2, 9, 9), (4, 4, 4), 72, 16 * 4 * 18, True),
    "conv pair kernel 1x7": (Conv(out=6, kernel=(1, 7), padding=(0, 3)), (4, 17, 17), (6, 17, 17), 6 * 4 * 7 + 6,
                             17 * 17 * 6 * 28, True),
    "conv dilation 2": (Conv(out=2, kernel=3, dilation=2), (1, 9, 9), (2, 5, 5), 20, 25 * 2 * 9, True),
    "conv grouped": (Conv(out=8, kernel=3, padding=1, groups=4, bias=False), (8, 5, 5), (8, 5, 5), 8 * 2 * 9,
                     25 * 8 * 18, True),
    "conv depthwise": (Conv(out=16, kernel=3, padding=1, groups=16), (16, 7, 7), (16, 7, 7), 16 * 9 + 16,
                       49 * 16 * 9, True),
    "conv same even kernel": (Conv(out=1, kernel=4, padding="same"), (1, 10, 10), (1, 10, 10), 17, 100 * 16, True),
    "maxpool 3/2": (MaxPool(kernel=3, stride=2), (96, 55, 55), (96, 27, 27), 0, 0, True),
    "maxpool ceil": (MaxPool(kernel=3, stride=2, ceil_mode=True), (64, 112, 112), (64, 56, 56), 0, 0, True),
    # ceil((5 + 2 - 2) / 2) + 1 = 4, but the 4th window would start in the right padding: 3
    "maxpool ceil drops window in padding": (MaxPool(kernel=2, stride=2, padding=1, ceil_mode=True), (1, 5, 5),
                                             (1, 3, 3), 0, 0, True),
    "avgpool default stride": (AvgPool(kernel=2), (3, 7, 7), (3, 3, 3), 0, 0, True),
    "adaptive avgpool": (AdaptiveAvgPool(output=6), (256, 13, 13), (256, 6, 6), 0, 0, True),
    "global avgpool": (GlobalAvgPool(), (1024, 7, 7), (1024, 1, 1), 0, 0, True),
    "batchnorm": (BatchNorm(), (64, 8, 8), (64, 8, 8), 128, 0, True),
    "batchnorm no affine": (BatchNorm(affine=False), (64, 8, 8), (64, 8, 8), 0, 0, True),
    "lrn": (LRN(size=5), (96, 55, 55), (96, 55, 55), 0, 0, True),
    "relu in place": (ReLU(), (8, 4, 4), (8, 4, 4), 0, 0, False),
    "relu not in place": (ReLU(inplace=False), (8, 4, 4), (8, 4, 4), 0, 0, True),
    "sigmoid": (Sigmoid(), (8, 1, 1), (8, 1, 1), 0, 0, True),
    "relu6 in place": (ReLU6(), (8, 4, 4), (8, 4, 4), 0, 0, False),
    "leaky relu not in place": (LeakyReLU(inplace=False), (8, 4, 4), (8, 4, 4), 0, 0, True),
    "silu in place": (SiLU(), (8, 4, 4), (8, 4, 4), 0, 0, False),
    "hardswish not in place": (Hardswish(inplace=False), (8, 4, 4), (8, 4, 4), 0, 0, True),
    "tanh": (Tanh(), (8, 4, 4), (8, 4, 4), 0, 0, True),
    "gelu": (GELU(), (16,), (16,), 0, 0, True),
    "gate (SE-like)": (Gate(layers=(GlobalAvgPool(), Conv(out=8, kernel=1), Sigmoid())), (8, 4, 4), (8, 4, 4),
                       8 * 8 + 8, 64, True),
    "dropout": (Dropout(p=0.5), (4096,), (4096,), 0, 0, True),
    "flatten is a view": (Flatten(), (256, 6, 6), (9216,), 0, 0, False),
    "linear": (Linear(out=4096), (9216,), (4096,), 9216 * 4096 + 4096, 9216 * 4096, True),
    "linear no bias": (Linear(out=10, bias=False), (20,), (10,), 200, 200, True),
}


@pytest.mark.parametrize("layer,x,y,params,macs,allocates", CASES.values(), ids=CASES.keys())
def test_layer_closed_forms(layer, x, y, params, macs, allocates):
    cost = leaf(layer, x)
    assert cost.output_shape == y
    assert cost.params == params
    assert cost.macs == macs
    if isinstance(layer, Layer):
        assert cost.activations == (numel(y) if allocates else 0)


def test_concat_sums_channels_and_allocates_its_output():
    net = Net("c", (8, 10, 10), [Concat(name="mix", branches=[[Conv(out=3, kernel=1)], [MaxPool(kernel=3, stride=1,
                                                                                              padding=1)]])])
    leaves = {c.path: c for c in compile_graph(net).nodes}
    assert leaves["mix.concat"].output_shape == (11, 10, 10)
    assert leaves["mix.concat"].activations == 11 * 100
    assert "mix.branch1.conv0" in leaves and "mix.branch2.maxpool0" in leaves


def test_residual_with_projection_shortcut():
    net = Net("r", (16, 8, 8), [Residual(name="block", layers=(Conv(name="conv", out=32, kernel=3, stride=2,
                                                                          padding=1),),
                                         shortcut=(Conv(name="proj", out=32, kernel=1, stride=2),))])
    leaves = {c.path: c for c in compile_graph(net).nodes}
    assert leaves["block.shortcut.proj"].output_shape == (32, 4, 4)
    assert leaves["block.add"].output_shape == (32, 4, 4)


def test_squeeze_excite_params():
    # SE on C channels with reduction r: 2*C*(C/r) weights + C/r + C biases
    net = Net("se", (256, 14, 14), [SqueezeExcite(name="se", reduction=16)])
    assert sum(c.params for c in compile_graph(net).nodes) == 2 * 256 * 16 + 16 + 256


ERRORS = {
    "kernel larger than input": (Conv(name="c", out=4, kernel=7), (3, 5, 5), ShapeError,
                                 r"layer 'c' \(conv\): kernel 7x7 .* larger than its padded input; input shape 3x5x5"),
    "groups do not divide input": (Conv(name="c", out=8, kernel=1, groups=4), (6, 5, 5), ShapeError,
                                   r"in channels 6 not divisible by groups=4; input shape 6x5x5"),
    # a linear on a CxHxW map acts on its last dim, as nn.Linear does (tokens: tests/layers/test_attention_layers.py)
    "softmax dim out of range": (cnncost.Softmax(name="sm", dim=3), (3, 4, 4), ShapeError,
                                 r"layer 'sm' \(softmax\): dim 3 is out of range for shape 3x4x4"),
    "conv on a vector": (Conv(name="c", out=4, kernel=1), (10,), ShapeError,
                         r"layer 'c' \(conv\): needs a map with 1, 2 or 3 spatial dims .*; got a flat vector"),
    "pool larger than input": (MaxPool(name="p", kernel=3), (1, 2, 2), ShapeError, r"larger than its padded input"),
}


@pytest.mark.parametrize("layer,x,error,message", ERRORS.values(), ids=ERRORS.keys())
def test_shape_errors_name_the_layer(layer, x, error, message):
    with pytest.raises(error, match=message):
        compile_graph(Net("t", x, [layer]))


def test_field_errors_at_construction():
    with pytest.raises(SpecError, match=r"field 'out' must be an integer, got '8'"):
        Conv(out="8", kernel=3)
    with pytest.raises(SpecError, match=r"field 'kernel' must be positive"):
        Conv(out=8, kernel=0)
    with pytest.raises(CnnCostError, match=r"out channels 6 not divisible by groups=4"):
        Conv(out=6, kernel=1, groups=4)
    with pytest.raises(CnnCostError, match=r"padding 'same' needs stride 1"):
        Conv(out=6, kernel=3, stride=2, padding="same")
    with pytest.raises(SpecError, match=r"field 'bias' must be true or false"):
        Conv(out=6, kernel=3, bias=1)


def test_error_path_is_the_full_path():
    net = Net("t", (3, 8, 8), [Sequential(name="stage1", layers=(Conv(name="conv", out=4, kernel=9),))])
    with pytest.raises(ShapeError, match=r"^layer 'stage1.conv' \(conv\)"):
        compile_graph(net)


def test_add_of_different_shapes_is_an_error():
    net = Net("t", (8, 8, 8), [Residual(name="res", layers=(Conv(out=16, kernel=1),))])
    with pytest.raises(ShapeError, match=r"layer 'res' \(residual\): cannot add the residual branch \(16x8x8\) to the shortcut \(8x8x8\)"):
        compile_graph(net)


def test_concat_of_different_spatial_sizes_is_an_error():
    net = Net("t", (8, 8, 8), [Concat(name="mix", branches=[[Conv(name="a", out=4, kernel=1)],
                                                           [Conv(name="b", out=4, kernel=3)]])])
    with pytest.raises(ShapeError, match=r"layer 'mix' \(concat\): cannot concat .* 8x8, branch2 6x6"):
        compile_graph(net)


def test_duplicate_names_are_an_error():
    with pytest.raises(CnnCostError, match=r"layer 'conv'.*two layers have this name"):
        compile_graph(Net("t", (3, 8, 8), [Conv(name="conv", out=4, kernel=1), Conv(name="conv", out=4, kernel=1)]))


def test_every_registered_type_is_exported():
    # the node types of imported graphs (opaque, shared, reshape) included
    public = {cls.__name__ for cls in cnncost.layers.LAYER_TYPES.values() if cls.__module__.startswith("cnncost.layers")}
    assert {"Opaque", "Shared", "Reshape"} <= public <= set(cnncost.__all__)


def test_a_child_named_like_the_merge_row_is_an_error():
    net = Net("t", (4, 8, 8), [Residual(name="res", layers=(Conv(name="add", out=4, kernel=1),))])
    with pytest.raises(CnnCostError, match=r"layer 'res' \(residual\): a layer inside is named 'add'"):
        compile_graph(net)


@pytest.mark.parametrize("bad", [(3, 224.0, 224), (0, 224, 224), "3xax224", 224])
def test_input_override_is_validated(bad):
    with pytest.raises(SpecError, match=r"input must be"):
        cnncost.table("alexnet", input=bad)


def test_an_input_of_another_rank_is_judged_by_the_first_layer():
    """Shapes have any rank (issue 18): a map with 4 spatial dims is a valid input, which alexnet's
    conv1 refuses (convolutions have 1, 2 or 3)."""
    with pytest.raises(ShapeError, match=r"layer 'conv1' \(conv\): needs a map with 1, 2 or 3 spatial dims"):
        cnncost.table("alexnet", input="3x64x64x64x64")


def test_input_override_as_text():
    assert cnncost.table("alexnet", input="3x256x256").rows[1].output_shape == (96, 63, 63)


def test_gate_and_conv_on_the_wrong_rank():
    with pytest.raises(ShapeError, match=r"layer 'g' \(gate\): needs a CxHxW feature map; input shape 192"):
        compile_graph(Net("t", (192,), [Gate(name="g", layers=(Sigmoid(),))]))
    # a 2-D shape is a C x L map (a 1-D convolution); a 5-D one has too many spatial dims
    assert compile_graph(Net("t", (224, 224), [Conv(name="c", out=4, kernel=3)])).output_shape == (4, 222)
    with pytest.raises(ShapeError, match=r"needs a map with 1, 2 or 3 spatial dims .*; got a 5-D shape; "
                                         r"input shape 2x4x4x4x4"):
        compile_graph(Net("t", (2, 4, 4, 4, 4), [Conv(name="c", out=4, kernel=3)]))


def test_repeat_is_capped():
    with pytest.raises(SpecError, match=r"layer 'stage' \(repeat\): times must be at most 10,000"):
        Repeat(name="stage", times=100_000_000, layers=(ReLU(),))


def test_side_branch_is_not_charged_for_the_trunk_under_the_lecture_convention():
    net = Net("aux", (8, 6, 6), [Conv(name="trunk", out=8, kernel=3, padding=1),
                                 Side(name="aux", layers=(GlobalAvgPool(name="pool"), Flatten(name="flat"),
                                                          Linear(name="fc", out=10)))])
    rows = {r.name: r for r in cnncost.table(net, batch=1, activations="lecture").rows}
    assert rows["aux.fc"].activations == 10
    assert rows["aux.pool"].activations == 8
    assert cnncost.compile(net).output_shape == (8, 6, 6)
