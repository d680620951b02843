"""The ResNet family (cnncost/zoo/resnet.py) against its reference implementations, and the
lecture's claims about its blocks (../shared/seed/cnn-architectures.md: ResNet, ResNeXt, SENet,
Wide ResNet).

Reference data, per image at 224x224 (32x32 for wrn-*), 1000 classes (10 for wrn-*):
params = sum(p.numel() for p in model.parameters()); MACs = forward hooks on every nn.Conv2d
(out.numel() / N * in_channels / groups * kh * kw) and nn.Linear (out.numel() / N * in_features).
Models built with weights=None / pretrained=False in torch 2.14.1, torchvision 0.29.1, timm 1.0.31.
"""
import pytest

import cnncost
from cnncost import Conv, Net, compile as compile_graph
from cnncost.errors import CnnCostError
from cnncost.zoo.registry import arch_info, list_archs
from cnncost.zoo.resnet import BlockDesign, equal_complexity_width, residual_block, resnet, wrn

TV, TIMM = "torchvision 0.29.1", "timm 1.0.31"
# The paper's nets are torchvision's with conv1/conv2 strides swapped in each stage's first block.
PAPER = "torchvision resnetN, stride moved to conv1"

REFERENCE = {  # name: (params, MACs per image, where both come from)
    "resnet18": (11_689_512, 1_814_073_344, f"{TV} resnet18"),
    "resnet34": (21_797_672, 3_663_761_408, f"{TV} resnet34"),
    "resnet50": (25_557_032, 3_857_973_248, PAPER),
    "resnet101": (44_549_160, 7_570_194_432, PAPER),
    "resnet152": (60_192_808, 11_282_415_616, PAPER),
    "resnet50-tv": (25_557_032, 4_089_184_256, f"{TV} resnet50"),
    "resnet101-tv": (44_549_160, 7_801_405_440, f"{TV} resnet101"),
    "resnet152-tv": (60_192_808, 11_513_626_624, f"{TV} resnet152"),
    "resnet50-b": (25_557_032, 4_089_184_256, f"{TIMM} resnet50"),
    "resnet50-c": (25_576_264, 4_328_824_832, f"{TIMM} resnet50c"),
    "resnet50-d": (25_576_264, 4_328_824_832, f"{TIMM} resnet50d"),
    "resnext50-1x64d": (25_557_032, 4_089_184_256, f"{TV} ResNet(Bottleneck, groups=1, width_per_group=64)"),
    "resnext50-2x40d": (25_425_000, 4_124_508_160, f"{TV} ResNet(Bottleneck, groups=2, width_per_group=40)"),
    "resnext50-4x24d": (25_292_968, 4_159_832_064, f"{TV} ResNet(Bottleneck, groups=4, width_per_group=24)"),
    "resnext50-8x14d": (25_603_016, 4_267_409_408, f"{TV} ResNet(Bottleneck, groups=8, width_per_group=14)"),
    "resnext50-32x4d": (25_028_904, 4_230_479_872, f"{TV} resnext50_32x4d"),
    "resnext101-32x8d": (88_791_336, 16_414_015_488, f"{TV} resnext101_32x8d"),
    "wide-resnet50-2": (68_883_240, 11_398_021_120, f"{TV} wide_resnet50_2"),
    "wide-resnet101-2": (126_886_696, 22_753_050_624, f"{TV} wide_resnet101_2"),
    "se-resnet50": (28_088_024, 3_860_488_192, f"{TIMM} legacy_seresnet50"),
    "se-resnext50-32x4d": (27_559_896, 4_232_994_816, f"{TIMM} legacy_seresnext50_32x4d"),
    "senet154": (115_088_984, 20_688_363_520, f"{TIMM} legacy_senet154 (= senet154)"),
    # No torchvision/timm CIFAR WRN: a 25-line torch model of the paper's pre-activation layout
    # (its params are the 36,479,194 usually quoted for WRN-28-10; paper: 36.5M, 8.9M, 11.0M).
    "wrn-16-8": (10_961_370, 1_548_145_664, "torch, WRN paper layout"),
    "wrn-28-10": (36_479_194, 5_243_328_768, "torch, WRN paper layout"),
    "wrn-40-4": (8_949_210, 1_298_582_016, "torch, WRN paper layout"),
}

# The same references at 3x225x225: odd sizes tell padded from ceil-rounded pools apart.
AT_225 = {
    "resnet50": 4_382_657_728,
    "resnet50-d": 4_870_652_768,          # timm's ceil-mode avg pool in the shortcut
    "se-resnet50": 3_862_604_992,         # Caffe's ceil-mode stem max pool, no padding
    "senet154": 20_713_635_520,
}

FAMILY = ("resnet*", "resnext*", "wide-resnet*", "wrn-*", "se-*", "senet*")


def totals(arch, **options):
    return cnncost.table(arch, batch=1, **options).totals


def block_net(design, in_channels, planes, size=56):
    return Net("block", (in_channels, size, size), [residual_block(design, in_channels, planes)])


@pytest.mark.parametrize("name", sorted(REFERENCE), ids=str)
def test_params_and_macs_equal_the_reference(name):
    params, macs, _ = REFERENCE[name]
    t = totals(name)
    assert (t.params, t.macs) == (params, macs)
    assert arch_info(name).reference == {"params": params}


@pytest.mark.parametrize("name", sorted(AT_225), ids=str)
def test_macs_equal_the_reference_at_an_odd_resolution(name):
    t = totals(name, input=(3, 225, 225))
    assert (t.params, t.macs) == (REFERENCE[name][0], AT_225[name])


def test_every_family_member_has_reference_data():
    # resnext101-64x4d and the other torchvision twins registered elsewhere: test_zoo_torchvision.py
    names = {a.name for pattern in FAMILY for a in list_archs(pattern) if a.build.__module__ == "cnncost.zoo.resnet"}
    assert names == set(REFERENCE)


@pytest.mark.parametrize("twin, same", [("resnet50-tv", "resnet50-b"), ("resnet50-tv", "resnext50-1x64d")],
                         ids=["tv=B", "tv=resnext-1x64d"])
def test_names_for_the_same_network_build_the_same_layers(twin, same):
    assert cnncost.load(twin).layers == cnncost.load(same).layers


def test_paths_follow_torchvision_names():
    names = {row.name for row in cnncost.table("resnet50", batch=1).rows}
    assert {"conv1", "bn1", "maxpool", "layer2.0.residual.conv1", "layer2.0.residual.shortcut.conv",
            "layer2.0.residual.add", "layer2.0.relu", "avgpool", "fc"} <= names


# --- ResNet: "the number of parameters goes from 18C^2 to 11C^2" ---

def test_bottleneck_vs_basic_block_true_figures():
    c = 64
    basic = cnncost.table(block_net(BlockDesign(kind="basic"), c, c), batch=1)
    bottleneck = cnncost.table(block_net(BlockDesign(kind="bottleneck"), 4 * c, c), batch=1)
    conv_weights = [sum(r.params for r in t.rows if r.type == "conv") for t in (basic, bottleneck)]
    # Basic block on C channels: two 3x3 C->C. Bottleneck on 4C = 256 channels: 1x1 4C->C, 3x3 C->C,
    # 1x1 C->4C = 17C^2, not 11C^2; BN adds 4C and 12C.
    assert conv_weights == [18 * c * c, 17 * c * c] == [73_728, 69_632]
    assert (basic.totals.params, bottleneck.totals.params) == (73_984, 70_400)
    assert (basic.totals.macs, bottleneck.totals.macs) == (231_211_008, 218_365_952)


def test_eleven_c_squared_counts_a_bottleneck_without_expansion():
    c = 64
    layers = [Conv(out=c, kernel=1, bias=False), Conv(out=c, kernel=3, padding=1, bias=False),
              Conv(out=c, kernel=1, bias=False)]
    assert sum(leaf.params for leaf in compile_graph(Net("c-c-c", (c, 56, 56), layers)).nodes) == 11 * c * c


# --- ResNet-B, -C, -D ("Further model tweaks") ---

def test_resnet_b_moves_the_stride_same_params_more_macs():
    paper, b = totals("resnet50"), totals("resnet50-b")
    assert b.params == paper.params
    # In each stage's first block conv1 (planes x 2*planes inputs) now runs at 4x the pixels.
    stage_extra = [3 * planes * 2 * planes * side * side for planes, side in ((128, 28), (256, 14), (512, 7))]
    assert b.macs - paper.macs == sum(stage_extra) == 231_211_008


def test_resnet_c_stem_adds_params_and_macs():
    b, c = totals("resnet50-b"), totals("resnet50-c")
    # conv 3->32/2, 32->32, 32->64, all 3x3 at 112x112, instead of 3->64 7x7/2; two more BNs of 32.
    extra_weights = (3 * 32 + 32 * 32 + 32 * 64) * 9 - 3 * 64 * 49
    assert c.params - b.params == extra_weights + 2 * (32 + 32) == 19_232
    assert c.macs - b.macs == extra_weights * 112 * 112 == 239_640_576


def test_resnet_d_adds_avgpools_only():
    c, d = cnncost.table("resnet50-c", batch=1), cnncost.table("resnet50-d", batch=1)
    assert (d.totals.params, d.totals.macs) == (c.totals.params, c.totals.macs)
    pools = [r.name for r in d.rows if r.type == "avgpool"]
    assert pools == [f"layer{s}.0.residual.shortcut.pool" for s in (2, 3, 4)]
    assert all(r.type != "avgpool" for r in c.rows)


# --- ResNeXt: "fixing G, it is possible to find d which keeps the complexity equal" ---

def test_equal_complexity_width_gives_the_papers_table_3():
    assert [equal_complexity_width(g) for g in (1, 2, 4, 8, 32)] == [64, 40, 24, 14, 4]


def test_resnext_trade_off_keeps_params_within_two_percent():
    params = [totals(f"resnext50-{g}x{equal_complexity_width(g)}d").params for g in (1, 2, 4, 8, 32)]
    assert max(params) / min(params) < 1.03


def test_grouped_3x3_has_g_times_fewer_params():
    plain = Net("g1", (128, 28, 28), [Conv(out=128, kernel=3, padding=1, bias=False)])
    grouped = Net("g32", (128, 28, 28), [Conv(out=128, kernel=3, padding=1, groups=32, bias=False)])
    p1, p32 = (compile_graph(n).nodes[1] for n in (plain, grouped))
    assert p1.params == 32 * p32.params and p1.macs == 32 * p32.macs


# --- SENet: excitation C -> C/r -> C ---

def test_se_overhead_on_a_block_is_2c2_over_r_plus_biases():
    c, r = 256, 16
    plain = cnncost.table(block_net(BlockDesign(), c, c // 4), batch=1).totals
    se = cnncost.table(block_net(BlockDesign(se_reduction=r), c, c // 4), batch=1).totals
    assert se.params - plain.params == 2 * c * c // r + c // r + c == 8_464
    assert se.macs - plain.macs == 2 * c * c // r == 8_192


def test_se_resnet50_overhead_over_resnet50():
    plain, se = totals("resnet50"), totals("se-resnet50")
    blocks = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    assert se.params - plain.params == sum(2 * c * c // 16 + c // 16 + c for c in blocks) == 2_530_992
    assert se.macs - plain.macs == sum(2 * c * c // 16 for c in blocks) == 2_514_944


# --- Wide ResNet: "ResNet-152 and WRN-50-2 ... the latter requires more parameters and flops" ---

def test_wrn50_2_vs_resnet152():
    wide, deep = cnncost.table("wide-resnet50-2", batch=1), cnncost.table("resnet152-tv", batch=1)

    def main_path_convs(report):
        return sum(r.type == "conv" and ".shortcut." not in r.name for r in report.rows)
    assert (main_path_convs(wide), main_path_convs(deep)) == (49, 151)
    assert wide.totals.params - deep.totals.params == 8_690_432          # 1.14x the params
    # Same stride placement (torchvision's), WRN-50-2 does 1% *fewer* MACs than ResNet-152;
    # it has more only against the paper's ResNet-152 (stride in the 1x1).
    assert wide.totals.macs < deep.totals.macs
    assert wide.totals.macs > totals("resnet152").macs


# --- the builders ---

def test_resnet_defaults_are_the_papers_resnet50():
    assert resnet().layers == cnncost.load("resnet50").layers


@pytest.mark.parametrize("depth, k, params", [(28, 10, 36_479_194), (10, 1, 77_850)],
                         ids=["wrn-28-10", "wrn-10-1"])
def test_wrn_any_member(depth, k, params):
    assert cnncost.table(wrn(depth, k), batch=1).totals.params == params


def test_wrn_rejects_a_depth_that_is_not_6n_plus_4():
    with pytest.raises(ValueError, match="6n\\+4"):
        wrn(27, 10)


def test_resnet_unknown_block_suggests_the_allowed_ones():
    with pytest.raises(CnnCostError, match="unknown block 'bottleneck2'.*allowed: basic, bottleneck"):
        resnet(block="bottleneck2")
