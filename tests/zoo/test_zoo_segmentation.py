"""Segmentation and DAG-shaped networks (cnncost/zoo/segmentation.py, specs/unet.yaml, cnncost/zoo/parnet.py,
seresnet50-timm in cnncost/zoo/resnet.py): docs/zoo-segmentation.md.

- torchvision's FCN, DeepLabV3 and LR-ASPP (aux_loss=False) at 3x520x520 and timm's seresnet50 at
  3x224x224 against the figures measured on the real models (tests/fixtures/torchvision_reference.json
  and torchvision_modules.json, written by tests/fixtures/measure_torchvision.py; a model the fixture
  lacks is skipped): params and conv + transposed-conv + linear MACs to the unit, every module with
  weights or MACs a row of the same path with the same counts and output shape, saved bytes at batch 2.
- U-Net (the paper's Fig. 1): shapes, params by arithmetic and against a plain torch U-Net.
- ParNet with the authors' edges: the counts pinned before the rewrite, the edges themselves.
- Each network run in PyTorch by `cnncost.torch_backend.check` at a reduced input (CI has 2 cores).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnncost
from cnncost.graph import compile
from cnncost.zoo.registry import arch_info
from cnncost.zoo.parnet import VARIANTS, parnet
from cnncost.zoo.resnet import DEPTHS, resnet
from cnncost.zoo.segmentation import segmentation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# cnncost name -> name in the fixture (torchvision builder, or timm/<name>)
SEGMENTATION = {
    "fcn-resnet50": "fcn_resnet50", "fcn-resnet101": "fcn_resnet101",
    "deeplabv3-resnet50": "deeplabv3_resnet50", "deeplabv3-resnet101": "deeplabv3_resnet101",
    "deeplabv3-mobilenet-v3-large": "deeplabv3_mobilenet_v3_large",
    "lraspp-mobilenet-v3-large": "lraspp_mobilenet_v3_large",
}
MODELS = {**SEGMENTATION, "seresnet50-timm": "timm/seresnet50"}
HEAD_AND_BACKBONE = {name: (tv.split("_", 1)[0], tv.split("_", 1)[1]) for name, tv in SEGMENTATION.items()}


def _load(name: str) -> dict:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"tests/fixtures/{name} is missing (tests/fixtures/measure_torchvision.py writes it)")
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)["models"]


@pytest.fixture(scope="module")
def reference() -> dict:
    return _load("torchvision_reference.json")


@pytest.fixture(scope="module")
def modules() -> dict:
    return _load("torchvision_modules.json")


def _entry(table: dict, name: str) -> dict | list:
    entry = table.get(name)
    if entry is None:
        pytest.skip(f"the fixture has no '{name}' yet (tests/fixtures/measure_torchvision.py)")
    if isinstance(entry, dict) and "error" in entry:
        pytest.skip(f"the fixture recorded an error for '{name}': {entry['error']}")
    return entry


@pytest.mark.parametrize("name", list(MODELS))
def test_totals_equal_the_real_model(name: str, reference: dict) -> None:
    ref = _entry(reference, MODELS[name])
    net = cnncost.load(name)
    graph = compile(net)
    assert list(net.input) == ref["input"]
    assert sum(n.params for n in graph.nodes) == ref["params"] == arch_info(name).reference["params"]
    macs = sum(n.macs for n in graph.nodes if n.type in ("conv", "conv_transpose", "linear"))
    assert macs == ref["macs"]["conv2d"] + ref["macs"]["conv_transpose2d"] + ref["macs"]["linear"]


@pytest.mark.parametrize("name", list(MODELS))
def test_every_module_with_weights_or_macs_is_a_row_of_its_path(name: str, modules: dict) -> None:
    """torchvision's module paths are row paths: backbone.layer3.0.conv2, classifier.0.convs.4.1."""
    real = [m for m in _entry(modules, MODELS[name]) if m["params"] or m["macs"]]
    rows = {n.path: n for n in compile(cnncost.load(name)).nodes}
    wrong = [f"{m['path']} ({m['type']}): ours {rows[m['path']].params if m['path'] in rows else 'no row'}"
             for m in real if m['path'] not in rows or (rows[m["path"]].params, rows[m["path"]].macs,
                                                       list(rows[m["path"]].output_shape)) !=
             (m["params"], m["macs"], m["out"])]
    assert not wrong, f"{len(wrong)} modules differ:\n" + "\n".join(wrong[:20])
    assert sum(n.params for n in rows.values()) == sum(m["params"] for m in real)


@pytest.mark.parametrize("name", list(MODELS))
def test_saved_bytes_at_batch_2_equal_the_real_model_on_cpu(name: str, reference: dict) -> None:
    ref = _entry(reference, MODELS[name])
    report = cnncost.table(name, batch=2, memory="autograd", device="cpu")
    assert report.totals.saved_bytes == ref["saved_b2"]["total"]


# Arithmetic, independent of any fixture: the backbone's output stride and the heads' shapes.
@pytest.mark.parametrize("name", list(SEGMENTATION))
def test_segmentation_nets_end_at_the_input_size(name: str) -> None:
    graph = compile(cnncost.load(name))
    shapes = {b.path: b.output_shape for b in graph.blocks}
    assert graph.output_shape == (21, 520, 520) and graph.nodes[graph.outputs[0]].path == "upsample"
    assert len(graph.outputs) == 1  # no auxiliary head
    stride = 16 if "mobilenet" in name else 8  # dilated: 65x65 (ResNet), 33x33 (MobileNetV3)
    assert shapes["backbone"][1:] == ((520 + stride - 1) // stride,) * 2


def test_dilation_keeps_a_resnets_params_and_torchvision_paths_keep_its_counts() -> None:
    plain = cnncost.table("resnet50-tv", batch=1).totals
    paths = cnncost.table(resnet(stride_in="3x3", layout="torchvision"), batch=1).totals
    assert (paths.params, paths.macs, paths.activations) == (plain.params, plain.macs, plain.activations)
    dilated = resnet(depths=DEPTHS[101], stride_in="3x3", dilate=(False, True, True), layout="torchvision")
    rows = {n.path: n for n in compile(dilated).nodes}
    assert cnncost.table(dilated, batch=1).totals.params == 44_549_160  # resnet101's
    assert rows["layer3.0.conv2"].layer.dilation == 1 and rows["layer3.1.conv2"].layer.dilation == 2
    assert rows["layer4.0.conv2"].layer.dilation == 2 and rows["layer4.2.conv2"].layer.dilation == 4
    assert rows["layer4.2.conv3"].output_shape == (2048, 28, 28)
    assert rows["layer2.0.add"].inputs == (list(rows).index("layer2.0.bn3"), list(rows).index("layer2.0.downsample.1"))


def test_lraspp_reads_two_taps_of_the_backbone() -> None:
    graph = compile(cnncost.load("lraspp-mobilenet-v3-large"))
    index = {n.path: i for i, n in enumerate(graph.nodes)}
    node = {n.path: n for n in graph.nodes}
    low = max(i for p, i in index.items() if p.startswith("backbone.4."))  # the low tap: features.4's output
    high = max(i for p, i in index.items() if p.startswith("backbone.16."))
    assert node["classifier.low_classifier"].inputs == (low,) and graph.nodes[low].output_shape == (40, 65, 65)
    assert node["classifier.cbr.0"].inputs == (high,) and node["classifier.scale.0"].inputs == (high,)
    assert node["classifier.upsample"].output_shape == (128, 65, 65)
    assert node["classifier.add"].inputs == (index["classifier.low_classifier"], index["classifier.high_classifier"])


def test_aspp_pools_the_image_and_upsamples_it_back() -> None:
    rows = {n.path: n for n in compile(cnncost.load("deeplabv3-resnet50")).nodes}
    assert rows["classifier.0.convs.4.0"].output_shape == (2048, 1, 1)
    assert rows["classifier.0.convs.4.upsample"].output_shape == (256, 65, 65)
    assert rows["classifier.0.convs.concat"].output_shape == (1280, 65, 65)
    assert [rows[f"classifier.0.convs.{i}.0"].layer.dilation for i in range(4)] == [1, 12, 24, 36]


# --- U-Net ---

UNET_PARAMS = 31_030_658  # 1 input channel; the often quoted 31,031,810 is the 3-channel net


def _unet_params(channels_in: int = 1, classes: int = 2) -> int:
    def conv(i: int, o: int, k: int) -> int:
        return i * o * k * k + o
    widths = (64, 128, 256, 512)
    total, c = 0, channels_in
    for w in (*widths, 1024):  # contracting path and bottom: two 3x3 convs per level
        total += conv(c, w, 3) + conv(w, w, 3)
        c = w
    for w in reversed(widths):  # 2x2 up-conv halving, then two 3x3 convs on the concatenation
        total += conv(2 * w, w, 2) + conv(2 * w, w, 3) + conv(w, w, 3)
    return total + conv(64, classes, 1)


def test_unet_params_by_arithmetic() -> None:
    assert _unet_params() == UNET_PARAMS and _unet_params(3) == 31_031_810
    assert cnncost.table("unet", batch=1).totals.params == UNET_PARAMS
    assert arch_info("unet").source == "specs/unet.yaml"


def test_unet_shapes_are_the_papers_figure_1() -> None:
    rows = {r.name: r.output_shape for r in cnncost.table("unet", batch=1).rows}
    assert [rows[f"down{i}.conv2"] for i in (1, 2, 3, 4)] == [(64, 568, 568), (128, 280, 280), (256, 136, 136),
                                                             (512, 64, 64)]
    assert rows["bottom.conv2"] == (1024, 28, 28)
    for level, (up, crop_from, out) in {4: (56, 64, 52), 3: (104, 136, 100), 2: (200, 280, 196),
                                        1: (392, 568, 388)}.items():
        width = 64 * 2 ** (level - 1)
        assert rows[f"up{level}.upconv"] == (width, up, up)
        assert rows[f"up{level}.crop"] == (width, up, up) and rows[f"down{level}.conv2"][1] == crop_from
        assert rows[f"up{level}.concat"] == (2 * width, up, up)
        assert rows[f"up{level}.conv2"] == (width, out, out)
    assert rows["out"] == (2, 388, 388)
    assert cnncost.table("unet", batch=1, input=(1, 188, 188)).rows[-1].output_shape == (2, 4, 4)


def _plain_torch_unet():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def double(i: int, o: int):
        return nn.Sequential(nn.Conv2d(i, o, 3), nn.ReLU(inplace=True), nn.Conv2d(o, o, 3), nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            widths = (64, 128, 256, 512)
            self.downs = nn.ModuleList(double(i, o) for i, o in zip((1, *widths[:-1]), widths))
            self.bottom = double(512, 1024)
            self.ups = nn.ModuleList(nn.ConvTranspose2d(2 * w, w, 2, stride=2) for w in reversed(widths))
            self.convs = nn.ModuleList(double(2 * w, w) for w in reversed(widths))
            self.out = nn.Conv2d(64, 2, 1)

        def forward(self, x):
            skips = []
            for down in self.downs:
                x = down(x)
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
            x = self.bottom(x)
            for up, conv, skip in zip(self.ups, self.convs, reversed(skips)):
                x = up(x)
                top, left = (skip.shape[2] - x.shape[2]) // 2, (skip.shape[3] - x.shape[3]) // 2
                x = conv(torch.cat([skip[:, :, top:top + x.shape[2], left:left + x.shape[3]], x], 1))
            return self.out(x)

    return torch, UNet


def test_unet_equals_a_plain_torch_unet() -> None:
    """Params, output shape and conv + up-conv MACs of a 30-line torch U-Net (shapes only: meta device)."""
    torch, UNet = _plain_torch_unet()
    with torch.device("meta"):
        model = UNet()
    macs = []

    def hook(module, args, out) -> None:
        if isinstance(module, torch.nn.ConvTranspose2d):
            macs.append(args[0][0].numel() * module.weight[0].numel())
        else:
            macs.append(out[0].numel() * module.weight[0].numel())

    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.register_forward_hook(hook)
    out = model(torch.zeros(1, 1, 572, 572, device="meta"))
    report = cnncost.table("unet", batch=1)
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    assert tuple(out.shape[1:]) == report.rows[-1].output_shape == (2, 388, 388)
    ours = [r.macs for r in report.rows if r.type in ("conv", "conv_transpose")]
    assert sorted(ours) == sorted(macs) and sum(macs) == report.totals.macs


# --- ParNet ---

# Counts pinned before the edges were rewritten (params, MACs, activations per image: unchanged) and
# saved bytes at batch 2 (CPU): the real graph saves downsample4's output (w3 x 14 x 14) in stream 3's
# first block, where the rerouted one read the first fusion's output, which another BN saves anyway.
PARNET = {  # (size, fused): (params, MACs, activations, saved bytes at batch 2, saved bytes before)
    ("s", False): (20_983_848, 5_373_907_136, 30_420_395, 169_782_040, 169_179_928),
    ("s", True): (19_177_032, 4_836_823_232, 13_793_323, 101_091_608, 100_489_496),
    ("m", False): (38_953_256, 9_534_824_640, 38_926_251, 215_180_312, 214_377_496),
    ("m", True): (35_576_616, 8_581_882_048, 17_839_787, 128_237_592, 127_434_776),
    ("l", False): (60_180_008, 14_803_691_712, 47_356_075, 260_168_984, 259_165_464),
    ("l", True): (54_914_824, 13_324_101_824, 21_860_395, 155_178_776, 154_175_256),
    ("xl", False): (93_176_168, 23_016_065_472, 57_893_355, 316_404_824, 315_150_424),
    ("xl", True): (84_962_784, 20_715_596_224, 26_886_155, 188_855_256, 187_600_856),
}


@pytest.mark.parametrize("size, fused", list(PARNET), ids=[f"{s}-{'fused' if f else 'train'}" for s, f in PARNET])
def test_parnet_counts_are_unchanged_by_the_real_edges(size: str, fused: bool) -> None:
    widths, head, _ = VARIANTS[size]
    net = parnet(widths, head, fused=fused)
    t = cnncost.table(net, batch=1).totals
    params, macs, activations, saved, before = PARNET[size, fused]
    assert (t.params, t.macs, t.activations) == (params, macs, activations)
    assert cnncost.table(net, batch=2, memory="autograd", device="cpu").totals.saved_bytes == saved
    assert saved - before == 2 * widths[2] * 14 * 14 * 4


def test_parnet_edges_are_the_authors() -> None:
    graph = compile(cnncost.load("parnet-m"))
    index = {n.path: i for i, n in enumerate(graph.nodes)}
    node = {n.path: n for n in graph.nodes}
    ds3, ds4 = "fusion1.concat.stream2.downsample3", "fusion1.concat.stream2.to_stream3.downsample4"
    # stream 3 reads downsample4, stream 2 reads downsample3, downsample4 reads downsample3
    assert node["fusion2.concat.stream3.0.branches.convs.conv3x3"].inputs == (index[f"{ds4}.act"],)
    assert node["fusion1.concat.stream2.0.branches.convs.conv3x3"].inputs == (index[f"{ds3}.act"],)
    assert node[f"{ds4}.convs.conv3x3"].inputs == (index[f"{ds3}.act"],)
    assert node[f"{ds4}.se.pool"].inputs == (index[f"{ds3}.act"],)
    # a downsampling block multiplies its conv sum by the gate of its input
    assert node["downsample2.scale"].inputs == (index["downsample2.convs.add"], index["downsample2.se.sigmoid"])
    assert node["downsample1.se.pool"].inputs == node["downsample1.convs.conv3x3"].inputs == (0,)
    assert len(graph.outputs) == 1  # no side outputs left


# --- PyTorch: each network run at a reduced input ---

def _nets():
    """(id, net, input override): the segmentation nets are built at the smaller size (their resize
    layers may be fixed to the size they are built for), the others take an input override."""
    yield from ((name, segmentation(*HEAD_AND_BACKBONE[name], resolution=32), None) for name in SEGMENTATION)
    yield "seresnet50-timm", cnncost.load("seresnet50-timm"), (3, 32, 32)
    yield "unet", cnncost.load("unet"), (1, 188, 188)  # the smallest input U-Net's crops allow
    yield "parnet", parnet((16, 32, 64), 128, resolution=64), None  # ParNet's graph, narrow
    yield "parnet-fused", parnet((16, 32, 64), 128, fused=True, resolution=64), None


NETS = list(_nets())


@pytest.mark.parametrize("name, net, size", NETS, ids=[n for n, _, _ in NETS])
def test_torch_check_at_a_reduced_input(name: str, net, size) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    memory = "resnet101" not in name  # the same graph as resnet50's, deeper; saved bytes: the fixture tests
    result = check(net, batch=2, input=size, init=False, memory=memory)
    wrong = result.mismatches
    assert result.ok, "\n".join(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in wrong[:20])
    if memory:
        assert result.total("saved_bytes").ours == result.total("saved_bytes").torch
