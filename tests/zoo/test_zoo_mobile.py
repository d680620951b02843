"""MobileNet V1/V2, EfficientNet, ParNet and the MBConv builder (cnncost/zoo/mobilenet.py,
efficientnet.py, parnet.py, mbconv.py) against their reference implementations, and the lecture's
claims (../shared/seed/cnn-architectures.md: MobileNet, EfficientNet, NAS, Non-deep Networks).

Reference data, per image, 1000 classes: params = sum(p.numel() for p in model.parameters());
MACs = forward hooks on every nn.Conv2d (out.numel() / N * in_channels / groups * kh * kw) and
nn.Linear (in_features * out_features). Models built with weights=None in torch 2.14.1,
torchvision 0.29.1, timm 1.0.31, at the resolution in the table.
"""
from fractions import Fraction

import pytest

import cnncost
from cnncost import Conv, Net, ReLU, Residual, compile as compile_graph
from cnncost.zoo.registry import arch_info, list_archs
from cnncost.zoo.efficientnet import (ALPHA, BETA, GAMMA, PUBLISHED, compound, efficientnet,
                                      efficientnet_scaled)
from cnncost.zoo.mbconv import Stage, make_divisible, mbconv_block, mbconv_net
from cnncost.zoo.mobilenet import mobilenet_v1
from cnncost.zoo.parnet import VARIANTS, parnet

TV, TIMM = "torchvision 0.29.1", "timm 1.0.31"
# ParNet has no torchvision/timm model: a 50-line torch model of the real three-stream DAG, written
# from the paper and the authors' RepVGGBlock (imankgoyal/NonDeepNetworks), training-time.
PARNET = "torch, paper + authors' block layout"

REFERENCE = {  # name: (params, MACs per image, resolution, where both come from)
    "mobilenet-v1": (4_231_976, 568_740_352, 224, f"{TIMM} mobilenetv1_100"),
    "mobilenet-v1-0.75": (2_585_560, 325_400_448, 224, f"{TIMM} _gen_mobilenet_v1(channel_multiplier=0.75)"),
    "mobilenet-v1-0.5": (1_331_592, 149_497_088, 224, f"{TIMM} _gen_mobilenet_v1(channel_multiplier=0.5)"),
    "mobilenet-v1-0.25": (470_072, 41_030_272, 224, f"{TIMM} _gen_mobilenet_v1(channel_multiplier=0.25)"),
    "mobilenet-v2": (3_504_872, 300_774_272, 224, f"{TV} mobilenet_v2"),
    "mobilenet-v2-0.75": (2_636_424, 209_069_792, 224, f"{TV} mobilenet_v2(width_mult=0.75)"),
    "mobilenet-v2-0.5": (1_968_680, 97_131_840, 224, f"{TV} mobilenet_v2(width_mult=0.5)"),
    "mobilenet-v2-1.4": (6_108_776, 582_195_824, 224, f"{TV} mobilenet_v2(width_mult=1.4)"),
    "efficientnet-b0": (5_288_548, 385_814_752, 224, f"{TV} efficientnet_b0"),
    "efficientnet-b1": (7_794_184, 686_802_832, 240, f"{TV} efficientnet_b1"),
    "efficientnet-b2": (9_109_994, 993_561_872, 260, f"{TV} efficientnet_b2"),
    "efficientnet-b3": (12_233_232, 1_827_141_392, 300, f"{TV} efficientnet_b3"),
    "efficientnet-b4": (19_341_616, 4_393_771_024, 380, f"{TV} efficientnet_b4"),
    "efficientnet-b5": (30_389_784, 10_266_384_752, 456, f"{TV} efficientnet_b5"),
    "efficientnet-b6": (43_040_704, 19_067_593_536, 528, f"{TV} efficientnet_b6"),
    "efficientnet-b7": (66_347_960, 37_745_884_192, 600, f"{TV} efficientnet_b7"),
    "parnet-s": (20_983_848, 5_373_907_136, 224, PARNET),
    "parnet-m": (38_953_256, 9_534_824_640, 224, PARNET),
    "parnet-l": (60_180_008, 14_803_691_712, 224, PARNET),
    "parnet-xl": (93_176_168, 23_016_065_472, 224, PARNET),
}


def totals(arch, **options):
    return cnncost.table(arch, batch=1, **options).totals


@pytest.mark.parametrize("name", list(REFERENCE), ids=list(REFERENCE))
def test_params_and_macs_equal_the_reference(name):
    params, macs, resolution, _ = REFERENCE[name]
    net = cnncost.load(name)
    assert net.input == (3, resolution, resolution)
    assert (totals(net).params, totals(net).macs) == (params, macs)
    assert arch_info(name).reference == {"params": params}


def test_every_family_member_has_reference_data():
    # the torchvision twins of other modules (mobilenet-v3, efficientnet-*-tv, -v2) are checked against
    # the measured fixture in test_zoo_torchvision.py
    family = ("cnncost.zoo.mobilenet", "cnncost.zoo.efficientnet", "cnncost.zoo.parnet")
    names = {a.name for pattern in ("mobilenet*", "efficientnet*", "parnet*") for a in list_archs(pattern)
             if a.build.__module__ in family}
    assert names == set(REFERENCE)


# torchvision's own `_ops` meta (GMACs at each weight's crop size), rounded to 3 decimals.
TORCHVISION_OPS = {"mobilenet-v2": (0.301, 224), "efficientnet-b0": (0.386, 224),
                   "efficientnet-b1": (0.687, 240), "efficientnet-b2": (1.088, 288),
                   "efficientnet-b3": (1.827, 300), "efficientnet-b4": (4.394, 380),
                   "efficientnet-b5": (10.266, 456), "efficientnet-b6": (19.068, 528),
                   "efficientnet-b7": (37.746, 600)}


@pytest.mark.parametrize("name", list(TORCHVISION_OPS), ids=list(TORCHVISION_OPS))
def test_macs_equal_torchvision_ops_meta_at_its_crop_size(name):
    gmacs, crop = TORCHVISION_OPS[name]
    assert round(totals(name, input=(3, crop, crop)).macs / 1e9, 3) == gmacs


# --- The papers' own figures (docs/zoo-mobile.md explains each gap) ---

# MobileNet V1 Tables 4, 6, 7: (alpha, resolution) -> (params in 0.1M, mult-adds in M).
V1_PAPER = {(1.0, 224): (42, 569), (0.75, 224): (26, 325), (0.5, 224): (13, 149), (0.25, 224): (5, 41),
            (1.0, 192): (42, 418), (1.0, 160): (42, 290), (1.0, 128): (42, 186)}


@pytest.mark.parametrize("alpha, resolution", list(V1_PAPER), ids=[f"{a:g}-{r}" for a, r in V1_PAPER])
def test_mobilenet_v1_matches_the_paper_tables(alpha, resolution):
    t = totals(mobilenet_v1(alpha, resolution))
    params, madds = V1_PAPER[alpha, resolution]
    assert round(t.params / 1e5) == params
    assert abs(t.macs / 1e6 - madds) < 1  # the paper truncates 290.7M to 290


def test_conv_mobilenet_is_the_papers_table_4():
    # Table 4: full-conv MobileNet 29.3M params, 4866M mult-adds; separable 4.2M, 569M.
    full, separable = totals(mobilenet_v1(separable=False)), totals("mobilenet-v1")
    assert round(full.params / 1e5) == 293
    assert abs(full.macs / 4866e6 - 1) < 0.001
    assert 8 < full.macs / separable.macs < 9


@pytest.mark.parametrize("size", list(VARIANTS), ids=list(VARIANTS))
def test_parnet_fused_params_are_the_papers(size):
    # The paper's 19.2M / 35.6M / 54.9M / 85.0M count the re-parameterised network.
    paper = {"s": 192, "m": 356, "l": 549, "xl": 850}[size]
    widths, head, _ = VARIANTS[size]
    assert round(totals(parnet(widths, head, fused=True)).params / 1e5) == paper
    assert totals(f"parnet-{size}").params / (paper * 1e5) == pytest.approx(1.095, abs=0.003)


def test_parnet_streams_run_at_three_resolutions():
    # Streams of 4, 5 and 5 RepVGG-SSE blocks at 56, 28 and 14 px: depth 4 + 5 + 3 = 12 with the
    # downsampling blocks, the second fusion, the last downsampling and the FC.
    spans = {b.path: b for b in compile_graph(cnncost.load("parnet-m")).blocks}
    blocks = {s: sorted(p for p in spans if p.count(".") == 3 and p.split(".")[2] == s
                        and p.split(".")[3].isdigit()) for s in ("stream1", "stream2", "stream3")}
    assert [len(b) for b in blocks.values()] == [4, 5, 5]
    assert [spans[b[0]].input_shape for b in blocks.values()] == [(128, 56, 56), (256, 28, 28), (512, 14, 14)]


# --- Lecture: depthwise separable convolution ---

SEPARABLE_CASES = [(3, 32, 112), (32, 64, 112), (256, 256, 28), (512, 512, 14), (1024, 1024, 7)]


@pytest.mark.parametrize("c_in, c_out, size", SEPARABLE_CASES,
                         ids=[f"{a}to{b}@{s}" for a, b, s in SEPARABLE_CASES])
def test_depthwise_separable_saves_1_over_c_out_plus_1_over_9(c_in, c_out, size):
    # "This brings to a reduction of flops of almost 10 times": exactly 1/C_out + 1/9 of a 3x3 conv.
    x = (c_in, size, size)
    standard = compile_graph(Net("std", x, [Conv(out=c_out, kernel=3, padding=1)]))
    separable = compile_graph(Net("dws", x, [Conv(out=c_in, kernel=3, padding=1, groups=c_in),
                                       Conv(out=c_out, kernel=1)]))
    ratio = Fraction(sum(r.macs for r in separable.nodes), sum(r.macs for r in standard.nodes))
    assert ratio == Fraction(1, c_out) + Fraction(1, 9)
    assert 1 / ratio < 9  # "almost 10": never more than 9x; 8.8x at 512 channels


# --- Lecture: inverted residual vs bottleneck ---

def block_macs(block, x):
    return sum(r.macs for r in compile_graph(Net("b", x, [block])).nodes)


@pytest.mark.parametrize("channels", [24, 64, 160], ids=["c24", "c64", "c160"])
def test_inverted_residual_vs_bottleneck(channels):
    # Expand C -> 6C, depthwise 3x3 there, project back: 12C^2 + 54C MACs per pixel, where a
    # ResNet bottleneck (C -> C/4 -> 3x3 -> C) costs 17C^2/16 and a full 3x3 at 6C would cost 324C^2.
    x, hw = (channels, 14, 14), 14 * 14
    inverted = mbconv_block("ir", channels, Stage(expand=6, kernel=3, stride=1, out=channels, repeats=1),
                            1, ReLU, "relu")
    bottleneck = Residual(layers=(Conv(out=channels // 4, kernel=1),
                                  Conv(out=channels // 4, kernel=3, padding=1),
                                  Conv(out=channels, kernel=1)))
    assert isinstance(inverted, Residual)
    assert block_macs(inverted, x) == hw * (12 * channels**2 + 54 * channels)
    assert block_macs(bottleneck, x) == hw * 17 * channels**2 // 16
    depthwise_share = Fraction(54 * channels, 12 * channels**2 + 54 * channels)
    assert depthwise_share < Fraction(1, 6)  # the expanded 3x3 is cheap because it is depthwise


def test_mobilenet_v2_has_residuals_only_where_shapes_match():
    # "whenever spatial dimensions or number of channels do not match ... no residual connections"
    adds = [r for r in compile_graph(cnncost.load("mobilenet-v2")).nodes if r.type == "add"]
    assert len(adds) == 10  # 17 blocks minus the 7 that open a stage
    assert all(r.input_shape == r.output_shape for r in adds)


def test_linear_bottleneck_has_no_activation_after_the_projection():
    names = [r.path for r in compile_graph(cnncost.load("mobilenet-v2")).nodes if ".stage2.0." in f".{r.path}"]
    assert names[-2:] == ["stage2.0.project", "stage2.0.project_bn"]


# --- Lecture: width and resolution multipliers ---

@pytest.mark.parametrize("alpha", [0.75, 0.5, 0.25], ids=["a0.75", "a0.5", "a0.25"])
def test_width_multiplier_scales_macs_about_alpha_squared(alpha):
    # Pointwise convs scale by alpha^2; depthwise convs, the stem and the FC only by alpha.
    ratio = totals(mobilenet_v1(alpha)).macs / totals(mobilenet_v1()).macs
    assert alpha**2 < ratio < alpha
    assert ratio / alpha**2 == pytest.approx(1, abs=0.16)


@pytest.mark.parametrize("resolution", [192, 160, 128], ids=["r192", "r160", "r128"])
def test_resolution_multiplier_scales_conv_macs_exactly_rho_squared(resolution):
    fc = 1024 * 1000
    base, scaled = totals(mobilenet_v1()).macs, totals(mobilenet_v1(1.0, resolution)).macs
    assert Fraction(scaled - fc, base - fc) == Fraction(resolution, 224) ** 2
    assert totals(mobilenet_v1(1.0, resolution)).params == totals(mobilenet_v1()).params


# --- Lecture: EfficientNet compound scaling ---

def test_compound_coefficients_double_flops_per_phi():
    # "we force alpha * beta^2 * gamma^2 ~ 2"
    assert ALPHA * BETA**2 * GAMMA**2 == pytest.approx(1.92, abs=0.005)


@pytest.mark.parametrize("phi", range(1, 8), ids=[f"phi{p}" for p in range(1, 8)])
def test_compound_scaling_macs_grow_about_2_to_the_phi(phi):
    # Measured per-step growth (MACs ratio)^(1/phi): 2.57 at phi=1 (ceil turns 1 repeat into 2),
    # then 2.17, 2.03, 2.01, 1.97, 1.93, 1.94: towards the continuous 1.92, never exactly 2.
    growth = (totals(efficientnet(phi)).macs / totals(efficientnet(0)).macs) ** (1 / phi)
    assert 1.9 < growth < (2.6 if phi == 1 else 2.2)


def test_phi_0_is_b0_and_the_published_variants_are_not_integer_phi():
    assert totals(efficientnet(0)) == totals("efficientnet-b0")
    assert compound(1) == (1.1, 1.2, 258)
    assert PUBLISHED["b1"][:3] == (1.0, 1.1, 240)  # B1 is not phi=1 ...
    assert compound(1)[:2] == PUBLISHED["b2"][:2]  # ... B2's width and depth are


@pytest.mark.parametrize("variant", list(PUBLISHED), ids=list(PUBLISHED))
def test_named_variants_are_b0_scaled_by_the_published_multipliers(variant):
    width, depth, resolution, dropout = PUBLISHED[variant]
    scaled = efficientnet_scaled(width, depth, resolution, dropout=dropout)
    assert totals(scaled) == totals(f"efficientnet-{variant}")


def test_fractional_phi_builds():
    net = efficientnet(2.5)
    assert net.input == (3, round(224 * GAMMA**2.5), round(224 * GAMMA**2.5))
    assert totals(efficientnet(2)).macs < totals(net).macs < totals(efficientnet(3)).macs


# --- NAS: the MBConv table builder ---

@pytest.mark.parametrize("value, expected", [(32 * 1.1, 32), (32 * 0.6, 24), (1280 * 1.4, 1792), (3.0, 8)],
                         ids=["35.2", "19.2-no-more-than-10pct-down", "1792", "min-8"])
def test_make_divisible(value, expected):
    assert make_divisible(value) == expected


def test_mbconv_net_builds_any_table():
    rows = [Stage(expand=1, kernel=3, stride=1, out=16, repeats=1),
            Stage(expand=3, kernel=5, stride=2, out=24, repeats=2, se=0.25),
            Stage(expand=6, kernel=7, stride=2, out=40, repeats=1)]
    net = mbconv_net("nas", rows, stem=16, head=320, classes=10, resolution=64)
    report = compile_graph(net)
    assert report.output_shape == (10,)
    se = {r.path: r for r in report.nodes if ".se." in r.path}
    # SE of stage2.1: 24 -> 72 expanded, squeeze int(24 * 0.25) = 6, two 1x1 convs with bias.
    assert se["stage2.1.se.fc1"].params == 72 * 6 + 6
    assert se["stage2.1.se.fc2"].params == 6 * 72 + 72
    residual = {r.path.removesuffix(".add") for r in report.nodes if r.type == "add"}
    assert residual == {"stage1.0", "stage2.1"}  # the blocks that keep their input's shape


def test_batchnorm_counts_in_blocks():
    # Every conv of an MBConv block is followed by a BN with 2C params.
    block = compile_graph(Net("b", (16, 8, 8), [mbconv_block("b", 16, Stage(expand=6, kernel=3, stride=1, out=16,
                                                                        repeats=1), 1, ReLU, "relu")]))
    bns = [r.params for r in block.nodes if r.type == "batchnorm"]
    assert bns == [2 * 96, 2 * 96, 2 * 16]
