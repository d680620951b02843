"""The lecture's numbers (../shared/seed/cnn-architectures.md), each test naming the sentence it checks.

Lecture conventions: batch 128, fp32, FLOPs = 2 x MACs, MB = 2^20 B, GB = 2^30 B, FLOP prefixes decimal.
"""
import pytest

import cnncost
from cnncost import Concat, Conv, Net, ReLU, Residual, compile as compile_graph

MB, GB = 2**20, 2**30


def rows(name, **options):
    return {row.name: row for row in cnncost.table(name, **options).rows}


def layer_sum(report_rows, names, field):
    return sum(getattr(report_rows[n], field) for n in names)


# --- AlexNet ---

def test_alexnet_input_minibatch_is_73_5_mb():
    # "the total memory in MB for a mini-batch is 128x150528x4/1024/1024 = 73.5"
    r = rows("alexnet")
    assert r["input"].activations == 128 * 150528
    assert round(r["input"].activation_memory_bytes / MB, 1) == 73.5


def test_alexnet_conv1_output_params_flops_memory():
    # "(224 - 11 + 4)/4 + 1 = 55", "(W_K x H_K x C_in + 1) x C_out = 34944", "= 27 Gflops",
    # "we obtain around 283.6 MB of memory needed"
    conv1 = rows("alexnet")["conv1"]
    assert conv1.output_shape == (96, 55, 55)
    assert conv1.params == 34944
    assert conv1.flops == 55 * 55 * 96 * (11 * 11 * 3) * 2 * 128
    assert round(conv1.flops / 1e9) == 27
    assert round(conv1.activation_memory_bytes / MB, 1) == 283.6


def test_alexnet_pool1_halves_resolution_without_params():
    # "the activation H/W halves to 27. The number of learnable parameters is 0"
    pool1 = rows("alexnet")["pool1"]
    assert pool1.output_shape == (96, 27, 27)
    assert pool1.params == 0 and pool1.flops == 0


def test_alexnet_flatten_gives_9216():
    # "We arrive here with a 6x6 matrix with 256 channels, which flattened becomes a vector with 9216 entries"
    r = rows("alexnet")
    assert r["pool5"].output_shape == (256, 6, 6)
    assert r["flatten"].output_shape == (9216,)
    assert r["flatten"].activation_memory_bytes == 0  # "only a different way to watch data"


def test_alexnet_recap_params_in_fc_flops_in_conv():
    # "nearly all parameters are in the three fully connected layers", "almost all the computation
    # is in the convolutional layers", "memory needed for the parameters is more than ... activations"
    report = cnncost.table("alexnet")
    fc = [r for r in report.rows if r.type == "linear"]
    conv = [r for r in report.rows if r.type == "conv"]
    assert sum(r.params for r in fc) / report.totals.params > 0.9
    assert sum(r.flops for r in conv) / report.totals.flops > 0.9
    assert report.totals.param_memory_bytes > report.totals.activation_memory_bytes


# --- VGG-16 ---

def test_vgg16_first_convolution_activations_about_3_gb():
    # "the activations at the beginning are huge (~ 3 GB)"
    conv = rows("vgg16")["stage1.conv1_1"]
    assert conv.activation_memory_bytes == 224 * 224 * 64 * 128 * 4 * 2
    assert round(conv.activation_memory_bytes / GB, 1) == 3.1


def test_vgg16_needs_more_than_14_gb():
    # "so at the end, more than 14 GB are needed"
    assert cnncost.table("vgg16").totals.memory_bytes > 14 * GB
    assert cnncost.table("vgg16", activations="lecture").totals.memory_bytes > 14 * GB


def test_vgg16_fc_layers_124m_params_31_gflops():
    # "VGG that at the same stage needed 124 million parameters and 31 Gflops"
    fc = [r for r in cnncost.table("vgg16").rows if r.type == "linear"]
    params = sum(r.params for r in fc)
    assert params == 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000 == 123_642_856
    assert round(sum(r.flops for r in fc) / 1e9) == 32  # 31.65 G: the lecture truncates to 31


def test_vgg16_first_ten_layers_to_28x28():
    # "the 10 layers used by VGG to reach 28x28 which requires 2.4 Tflops, more than 1.7 M parameters,
    # and 13 GB of memory" (7 convs + 3 pools = stages 1-3)
    stages = rows("vgg16", depth=0)
    first = ["stage1", "stage2", "stage3"]
    assert stages["stage3"].output_shape == (256, 28, 28)
    assert layer_sum(stages, first, "params") == 1_735_488 > 1.7e6
    assert round(layer_sum(stages, first, "flops") / 1e12, 1) == 2.4
    assert round(layer_sum(stages, first + ["input"], "memory_bytes") / GB) == 13


# --- GoogLeNet ---

STEM = ["input", "conv1", "relu1", "pool1", "norm1", "conv2", "relu2", "conv3", "relu3", "norm2", "pool2"]


def test_googlenet_stem_params_flops_memory():
    # "This requires about 130 Gflops, 124 K parameters, and 2 GB of memory"
    r = rows("googlenet", activations="lecture")
    assert r["pool2"].output_shape == (192, 28, 28)
    assert layer_sum(r, STEM, "params") == 9472 + 4160 + 110_784 == 124_416
    # Exact: 122.28 GFLOPs, 6% under the lecture's "about 130" (conv/linear MACs x 2; see docs/lecture.md).
    assert layer_sum(r, STEM, "flops") == 122_284_933_120
    # The lecture's 5-layer stem stores input, 3 conv and 2 pool outputs (no LRN): 1.94 GB.
    assert round(layer_sum(r, STEM, "memory_bytes") / GB, 1) == 1.9


def test_googlenet_head_1m_params_under_270_mflops():
    # "In GoogLeNet this results in having 1 million parameters and less than 270 Mflops"
    r = rows("googlenet")
    head = ["avgpool", "flatten", "dropout", "fc"]
    assert layer_sum(r, head, "params") == 1024 * 1000 + 1000
    assert layer_sum(r, head, "flops") == 2 * 1024 * 1000 * 128 < 270e6


def test_googlenet_7m_params():
    # "Overall it requires only 7 million parameters"
    assert round(cnncost.table("googlenet").totals.params / 1e6) == 7


def test_googlenet_3_3_gb_under_the_lecture_convention():
    # "Overall it requires ... 3.3 GB of memory": module outputs only, 3-4 x params.
    for optimizer in ("momentum", "adam"):
        total = cnncost.table("googlenet", activations="lecture", optimizer=optimizer).totals
        assert round(total.memory_bytes / GB, 1) in (3.3, 3.4)
    # Storing every tensor the network allocates (branch outputs, LRN, concat copies) is twice that.
    assert cnncost.table("googlenet").totals.memory_bytes > 6 * GB


def test_googlenet_390_mflops_are_gflops_per_batch():
    # "only 7 million parameters, 390 Mflops": the real figure is ~3.2 GFLOPs per image,
    # ~405 GFLOPs per batch of 128 -- so "390 Mflops" can only be GFLOPs per mini-batch.
    total = cnncost.table("googlenet").totals
    assert 380e9 < total.flops < 410e9
    assert total.flops / 128 > 3e9


# --- Inception module ---

def test_naive_inception_module_grows_channels():
    # "pooling preserves the number of channels in the input ... the number of channels will grow"
    naive, real = cnncost.table("inception-naive").totals, cnncost.table("inception").totals
    assert naive.output_shape == (64 + 128 + 32 + 192, 28, 28)
    assert real.output_shape == (256, 28, 28)
    # "to keep the computational cost low": the 1x1 reductions cut MACs by 2.4x
    hw = 28 * 28
    assert naive.macs == 128 * hw * 192 * (64 + 128 * 9 + 32 * 25)
    assert real.macs == 128 * hw * (192 * (64 + 96 + 16 + 32) + 96 * 128 * 9 + 16 * 32 * 25)
    assert 2.3 < naive.macs / real.macs < 2.4


# --- Grouped convolution ---

@pytest.mark.parametrize("groups", [2, 4, 8, 32])
def test_grouped_conv_g_times_fewer_params_and_flops_not_g_squared(groups):
    # "G times less parameters and G^2 times less flops": params yes, FLOPs only G times.
    def conv(g):
        net = Net("g", (256, 28, 28), [Conv(out=256, kernel=3, padding=1, groups=g, bias=False)])
        return compile_graph(net).nodes[1]
    dense, grouped = conv(1), conv(groups)
    assert dense.params == groups * grouped.params
    assert dense.macs == groups * grouped.macs
    assert dense.macs != groups**2 * grouped.macs


# --- Bottleneck ---

def block_params(net):
    return sum(leaf.params for leaf in compile_graph(net).nodes)


@pytest.mark.parametrize("c", [64, 128])
def test_bottleneck_is_17c2_not_11c2(c):
    # "the number of parameters goes from 18C^2 to 11C^2": two 3x3 convs on C channels are 18 C^2;
    # the bottleneck on 4C channels (1x1 4C->C, 3x3 C->C, 1x1 C->4C) is 4 + 9 + 4 = 17 C^2.
    basic = Net("basic", (c, 56, 56), [Residual(layers=(
        Conv(out=c, kernel=3, padding=1, bias=False), ReLU(), Conv(out=c, kernel=3, padding=1, bias=False)))])
    bottleneck = Net("bottleneck", (4 * c, 56, 56), [Residual(layers=(
        Conv(out=c, kernel=1, bias=False), ReLU(), Conv(out=c, kernel=3, padding=1, bias=False), ReLU(),
        Conv(out=4 * c, kernel=1, bias=False)))])
    assert block_params(basic) == 18 * c * c
    assert block_params(bottleneck) == 17 * c * c


# --- Depthwise separable ---

@pytest.mark.parametrize("c_in,c_out", [(32, 64), (128, 128), (512, 512), (1024, 1024)])
def test_depthwise_separable_is_under_9x_not_almost_10x(c_in, c_out):
    # "This brings to a reduction of flops of almost 10 times": the ratio is 1 / (1/C_out + 1/9) < 9.
    standard = compile_graph(Net("s", (c_in, 14, 14), [Conv(out=c_out, kernel=3, padding=1, bias=False)]))
    separable = compile_graph(Net("dw", (c_in, 14, 14), [
        Conv(out=c_in, kernel=3, padding=1, groups=c_in, bias=False), Conv(out=c_out, kernel=1, bias=False)]))
    ratio = sum(x.macs for x in standard.nodes) / sum(x.macs for x in separable.nodes)
    assert ratio == pytest.approx(1 / (1 / c_out + 1 / 9))
    assert ratio < 9


def test_inception_module_is_a_concat_of_four_branches():
    module = cnncost.load("inception").layers[0]
    assert isinstance(module, Concat) and len(module.branches) == 4


def test_vgg16_convolutions_take_3_7_not_5_gflops():
    # "each convolution takes almost 5 Gflops": per image, a full-width 3x3 conv of VGG-16's stages 1-4
    # is 2 x H x W x C^2 x 9 = 3.7 GFLOPs (half that where the channels double, a quarter in stage 5).
    r = rows("vgg16", batch=1)
    full = ["stage1.conv1_2", "stage2.conv2_2", "stage3.conv3_2", "stage3.conv3_3", "stage4.conv4_2", "stage4.conv4_3"]
    for name in full:
        assert r[name].flops == 2 * 224 * 224 * 64 * 64 * 9 == 3_699_376_128
    assert max(row.flops for row in r.values()) < 4e9
