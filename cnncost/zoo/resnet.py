"""ResNet (He et al. 2015) and its descendants, all from one builder, `resnet()`:
ResNet-B/C/D (He et al. 2019, "Bag of Tricks"), ResNeXt (Xie et al. 2017), SENet (Hu et al. 2018)
and Wide ResNet (Zagoruyko & Komodakis 2016; its CIFAR WRN-n-k family is `wrn()`).

A block is `Sequential(<i>: Residual(residual: conv1, bn1, relu1, ...; shortcut: conv, bn), relu)`,
so paths read layer2.0.residual.conv1, layer2.0.residual.shortcut.conv, layer2.0.relu.
`layout="torchvision"` writes the same block with torchvision's (and timm's) module paths instead,
layer2.0.conv1, layer2.0.downsample.0, as a small DAG: the shortcut reads the block's input by name
and an `add` joins it to the branch. `dilate` replaces the stride of stages 2-4 by dilation
(torchvision's `replace_stride_with_dilation`, the segmentation backbones).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

from ..errors import CnnCostError
from ..layers import (Add, AvgPool, BatchNorm, Conv, Dropout, MaxPool, Node, ReLU, Residual, Sequential,
                      SqueezeExcite)
from ..layers.base import suggest
from ..net import Net
from ._torchvision import numbered
from .common import classifier
from .arch import register_arch

BlockKind = Literal["basic", "bottleneck"]
Layout = Literal["cnncost", "torchvision"]
EXPANSION = {"basic": 1, "bottleneck": 4}
LAYOUTS = ("cnncost", "torchvision")


@dataclass(frozen=True)
class BlockDesign:
    """What every residual block of a net shares.

    kind: two 3x3 convs ("basic") or 1x1 -> 3x3 -> 1x1 with 4x expansion ("bottleneck").
    groups, width_per_group: the 3x3 is `groups` x `width_per_group * planes / 64` channels (ResNeXt).
    reduce_first: conv1 is that many times narrower than the 3x3 (2 in SENet-154).
    stride_in: where a bottleneck downsamples: "1x1" (the paper, Caffe) or "3x3" (ResNet-B, torchvision).
    shortcut: projection "conv" (strided 1x1) or "avgpool" (2x2/2 avg pool then 1x1: ResNet-D).
    shortcut_kernel: kernel of strided projections (3 in SENet-154).
    se_reduction: squeeze-and-excitation on the residual branch, before the add, C -> C/r -> C.
    se_divisor: round the squeeze width C/r to a multiple of this, as timm's `make_divisible(C/r, 8,
        round_limit=0)` does (None: C // r, the SENet releases).
    """

    kind: BlockKind = "bottleneck"
    groups: int = 1
    width_per_group: int = 64
    reduce_first: int = 1
    stride_in: Literal["1x1", "3x3"] = "1x1"
    shortcut: Literal["conv", "avgpool"] = "conv"
    shortcut_kernel: int = 1
    se_reduction: int | None = None
    se_divisor: int | None = None

    def __post_init__(self) -> None:
        choices = (("block", self.kind, tuple(EXPANSION)), ("stride_in", self.stride_in, ("1x1", "3x3")),
                   ("shortcut", self.shortcut, ("conv", "avgpool")))
        for field, value, allowed in choices:
            if value not in allowed:
                raise CnnCostError(f"unknown {field} {value!r}" + suggest(str(value), allowed))

    def out_channels(self, planes: int) -> int:
        return planes * EXPANSION[self.kind]

    def squeeze_excite(self, channels: int) -> SqueezeExcite:
        assert self.se_reduction
        if self.se_divisor is None:
            return SqueezeExcite(name="se", reduction=self.se_reduction)
        return SqueezeExcite(name="se", squeeze=timm_divisible(channels / self.se_reduction, self.se_divisor))


def timm_divisible(value: float, divisor: int, round_limit: float = 0.0) -> int:
    """timm's `make_divisible`: the nearest multiple of `divisor` (at least `divisor`), one step up
    if that falls below `round_limit` x value. SE widths use round_limit 0 (never bumped).

    >>> timm_divisible(2048 / 16, 8), timm_divisible(200 / 16, 8), timm_divisible(20 / 16, 8)
    (128, 16, 8)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def residual_block(design: BlockDesign, in_channels: int, planes: int, stride: int = 1,
                   name: str = "block", *, dilation: int = 1, layout: Layout = "cnncost",
                   source: str | None = None) -> Sequential:
    """One residual block with its post-add ReLU; `planes` is the stage width (64 in layer1).

    `dilation` dilates (and pads) the bottleneck's 3x3. `layout="torchvision"` names the layers as
    torchvision does (conv1, bn1, ..., downsample.0, downsample.1) and joins them with an explicit
    `add`; `source` is then the name of the block's input as seen from inside the block (the
    previous block, or the stem's `maxpool`), which the shortcut reads.

    >>> from cnncost import Net, table
    >>> block = residual_block(BlockDesign(kind="bottleneck"), 256, 64)
    >>> table(Net("b", (256, 56, 56), [block]), batch=1).totals.params
    70400
    >>> tv = residual_block(BlockDesign(kind="bottleneck"), 64, 64, name="b", layout="torchvision", source="input")
    >>> [n.name for n in tv.layers][-4:], tv.layers[-2].inputs
    (['bn3', 'downsample', 'add', 'relu'], ('bn3', 'downsample'))
    """
    if layout not in LAYOUTS:
        raise CnnCostError(f"unknown layout {layout!r}" + suggest(str(layout), LAYOUTS))
    out = design.out_channels(planes)
    if design.kind == "basic":
        if dilation > 1:  # as torchvision's BasicBlock
            raise CnnCostError("dilation > 1 needs bottleneck blocks")
        branch: list[Node] = [Conv(name="conv1", out=planes, kernel=3, stride=stride, padding=1, bias=False),
                  BatchNorm(name="bn1"), ReLU(name="relu1"),
                  Conv(name="conv2", out=planes, kernel=3, padding=1, bias=False), BatchNorm(name="bn2")]
    else:
        width = planes * design.width_per_group // 64 * design.groups
        stride_1x1, stride_3x3 = (stride, 1) if design.stride_in == "1x1" else (1, stride)
        first = width // design.reduce_first
        branch = [Conv(name="conv1", out=first, kernel=1, stride=stride_1x1, bias=False),
                  BatchNorm(name="bn1"), ReLU(name="relu1"),
                  Conv(name="conv2", out=width, kernel=3, stride=stride_3x3, padding=dilation,
                       dilation=dilation, groups=design.groups, bias=False),
                  BatchNorm(name="bn2"), ReLU(name="relu2"),
                  Conv(name="conv3", out=out, kernel=1, bias=False), BatchNorm(name="bn3")]
    if design.se_reduction:
        branch.append(design.squeeze_excite(out))
    shortcut = None
    if stride != 1 or in_channels != out:
        shortcut = _projection(design, out, stride)
    if layout == "torchvision":
        if source is None:
            raise CnnCostError("a torchvision-layout block needs the name of its input (source)")
        nodes: list[Node] = list(branch)
        skip = source
        if shortcut is not None:
            nodes.append(Sequential(name="downsample", inputs=(source,), layers=numbered(shortcut)))
            skip = "downsample"
        nodes += [Add(name="add", inputs=(branch[-1].name or "", skip)), ReLU(name="relu")]
        return Sequential(name=name, layers=tuple(nodes))
    return Sequential(name=name, layers=(Residual(name="residual", layers=tuple(branch), shortcut=shortcut),
                                         ReLU(name="relu")))


def _projection(design: BlockDesign, out: int, stride: int) -> tuple[Node, ...]:
    if design.shortcut == "avgpool" and stride != 1:
        # ResNet-D: every input pixel reaches the 1x1 conv (timm's avg_down pool).
        return (AvgPool(name="pool", kernel=2, stride=stride, ceil_mode=True, count_include_pad=False),
                Conv(name="conv", out=out, kernel=1, bias=False), BatchNorm(name="bn"))
    kernel = design.shortcut_kernel if stride != 1 else 1
    return (Conv(name="conv", out=out, kernel=kernel, stride=stride, padding=kernel // 2, bias=False),
            BatchNorm(name="bn"))


def _stem(kind: Literal["7x7", "deep"], width: int, pool_ceil: bool) -> list[Node]:
    if kind not in ("7x7", "deep"):
        raise CnnCostError(f"unknown stem {kind!r}" + suggest(str(kind), ("7x7", "deep")))
    if kind == "7x7":
        layers: list[Node] = [Conv(name="conv1", out=width, kernel=7, stride=2, padding=3, bias=False),
                              BatchNorm(name="bn1"), ReLU(name="relu")]
    else:  # ResNet-C: three 3x3 convs, width/2, width/2, width; the first one strided
        layers = []
        for i, (out, stride) in enumerate(((width // 2, 2), (width // 2, 1), (width, 1)), start=1):
            layers += [Conv(name=f"conv1_{i}", out=out, kernel=3, stride=stride, padding=1, bias=False),
                       BatchNorm(name=f"bn1_{i}"), ReLU(name=f"relu1_{i}")]
    if pool_ceil:  # Caffe's rounding, kept by the SENet releases; differs from padding at odd sizes
        return layers + [MaxPool(name="maxpool", kernel=3, stride=2, ceil_mode=True)]
    return layers + [MaxPool(name="maxpool", kernel=3, stride=2, padding=1)]


def resnet(*, block: BlockKind = "bottleneck", depths: tuple[int, ...] = (3, 4, 6, 3),
           widths: tuple[int, ...] = (64, 128, 256, 512), groups: int = 1, width_per_group: int = 64,
           reduce_first: int = 1, stem: Literal["7x7", "deep"] = "7x7", stem_width: int = 64,
           pool_ceil: bool = False, stride_in: Literal["1x1", "3x3"] = "1x1",
           shortcut: Literal["conv", "avgpool"] = "conv", shortcut_kernel: int = 1,
           se_reduction: int | None = None, se_divisor: int | None = None, dropout: float = 0.0,
           classes: int = 1000, resolution: int = 224, dilate: tuple[bool, ...] = (),
           layout: Layout = "cnncost", head: bool = True, name: str | None = None) -> Net:
    """An ImageNet ResNet: stem, stages of residual blocks (the first of stages 2+ strided), head.

    `depths` and `widths` give blocks and planes per stage; see `BlockDesign` for the block options.
    `stem`: one 7x7 conv or three 3x3 ("deep", ResNet-C), ending in `stem_width` channels; then a
    3x3/2 max pool, padded or (`pool_ceil`) rounding up as Caffe does.
    `dilate`: one flag per stage after the first (torchvision's `replace_stride_with_dilation`): that
    stage keeps its resolution and dilates its 3x3s instead, the first block by the dilation so far
    (as torchvision's `previous_dilation`), the others by twice that.
    `layout`: "cnncost" (paths layer1.0.residual.conv1) or "torchvision" (layer1.0.conv1, downsample.0).
    `head=False` stops after the last stage (a backbone).
    The defaults are the paper's ResNet-50.

    >>> from cnncost import table
    >>> table(resnet(block="basic", depths=(2, 2, 2, 2)), batch=1).totals.params   # ResNet-18
    11689512
    >>> table(resnet(stride_in="3x3", dilate=(False, True, True), head=False), batch=1).rows[-1].output_shape
    (2048, 28, 28)
    """
    design = BlockDesign(block, groups, width_per_group, reduce_first, stride_in, shortcut,
                         shortcut_kernel, se_reduction, se_divisor)
    if len(dilate) > max(0, len(depths) - 1):
        raise CnnCostError(f"dilate has {len(dilate)} flags for {len(depths) - 1} stages after the first")
    layers = _stem(stem, stem_width, pool_ceil)
    channels, dilation, source = stem_width, 1, "maxpool"
    for s, (depth, planes) in enumerate(zip(depths, widths), start=1):
        blocks = []
        stride, previous = (2 if s > 1 else 1), dilation
        if s > 1 and s - 2 < len(dilate) and dilate[s - 2]:
            dilation, stride = dilation * stride, 1
        for i in range(depth):
            blocks.append(residual_block(design, channels, planes, stride if i == 0 else 1, name=str(i),
                                         dilation=previous if i == 0 else dilation, layout=layout,
                                         source=source if i == 0 else str(i - 1)))
            channels = design.out_channels(planes)
        layers.append(Sequential(name=f"layer{s}", layers=tuple(blocks)))
        source = f"layer{s}"
    if head:
        layers += classifier(classes, dropout)
    convs = sum(depths) * (2 if block == "basic" else 3) + 2
    notes = (f"{block} blocks {depths}, planes {widths}, groups {groups} x {width_per_group}d, "
             f"stem {stem}, stride in the {stride_in}, shortcut {shortcut}, SE r={se_reduction}")
    if any(dilate):
        notes += f", dilated stages {[s + 2 for s, d in enumerate(dilate) if d]}"
    if layout != "cnncost":
        notes += f", {layout} paths"
    if not head:
        notes += ", no head"
    return Net(name or f"resnet{convs}", (3, resolution, resolution), tuple(layers), notes=notes)


def equal_complexity_width(cardinality: int, *, channels: int = 256, width: int = 64) -> int:
    """ResNeXt's d for `cardinality` groups: the group width whose stage-1 block (1x1 channels->C*d,
    grouped 3x3, 1x1 back) has closest to the weights of the plain bottleneck of `width`.
    Gives the paper's Table 3 (1x64d, 2x40d, 4x24d, 8x14d, 32x4d).

    >>> [equal_complexity_width(c) for c in (1, 2, 4, 8, 32)]
    [64, 40, 24, 14, 4]
    """
    def weights(groups: int, d: int) -> int:
        return groups * d * (2 * channels + 9 * d)
    return min(range(1, width + 1), key=lambda d: abs(weights(cardinality, d) - weights(1, width)))


def wrn(depth: int, k: int, *, classes: int = 10, resolution: int = 32, dropout: float = 0.0,
        name: str | None = None) -> Net:
    """CIFAR Wide ResNet WRN-`depth`-`k`: (depth-4)/6 pre-activation basic blocks in each of 3
    stages of 16k, 32k, 64k channels (the paper's Table 1, "B(3,3)"), dropout between the convs.

    >>> from cnncost import table
    >>> table(wrn(28, 10), batch=1).totals.params
    36479194
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n+4 with n >= 1, got {depth}")
    layers: list[Node] = [Conv(name="conv1", out=16, kernel=3, padding=1, bias=False)]
    channels = 16
    for s, width in enumerate((16 * k, 32 * k, 64 * k), start=1):
        blocks = [_preact_block(channels if i == 0 else width, width, 2 if i == 0 and s > 1 else 1,
                                dropout, str(i)) for i in range((depth - 4) // 6)]
        layers.append(Sequential(name=f"layer{s}", layers=tuple(blocks)))
        channels = width
    layers += [BatchNorm(name="bn"), ReLU(name="relu"), *classifier(classes)]
    return Net(name or f"wrn-{depth}-{k}", (3, resolution, resolution), tuple(layers),
               notes="Zagoruyko & Komodakis 2016: pre-activation (BN-ReLU-conv) basic blocks")


def _preact_block(in_channels: int, out: int, stride: int, dropout: float, name: str) -> Sequential:
    branch: list[Node] = [Conv(name="conv1", out=out, kernel=3, stride=stride, padding=1, bias=False),
                          BatchNorm(name="bn2"), ReLU(name="relu2")]
    if dropout:
        branch.append(Dropout(name="dropout", p=dropout))
    branch.append(Conv(name="conv2", out=out, kernel=3, padding=1, bias=False))
    pre = [BatchNorm(name="bn1"), ReLU(name="relu1")]
    if stride == 1 and in_channels == out:
        return Sequential(name=name, layers=(Residual(name="residual", layers=tuple(pre + branch)),))
    # A projection sees the pre-activated input, as the residual branch does.
    projection = (Conv(name="conv", out=out, kernel=1, stride=stride, bias=False),)
    return Sequential(name=name, layers=(*pre, Residual(name="residual", layers=tuple(branch),
                                                        shortcut=projection)))


def _register(name: str, source: str, description: str, params: int, build: Callable[..., Net]) -> None:
    register_arch(name, source=source, description=description, reference={"params": params},
                  scale=getattr(build, "scale", None))(build)


def _resnet(**kwargs) -> Callable[[], Net]:
    """`lambda: resnet(**kwargs)`, with the `scale(width, depth)` hook `cnncost.sweep` uses."""
    def build() -> Net:
        return resnet(**kwargs)
    build.scale = lambda width, depth: scaled_resnet(width, depth, **kwargs)  # type: ignore[attr-defined]
    return build


def scaled_resnet(width: float = 1.0, depth: float = 1.0, **kwargs) -> Net:
    """`resnet(**kwargs)` with every stage's planes and the stem times `width` (rounded to a multiple of
    8, as torchvision's `_make_divisible`) and every stage's blocks times `depth` (rounded up).

    >>> from cnncost import table
    >>> table(scaled_resnet(0.5, 2, depths=(2, 2, 2, 2), block="basic"), batch=1).totals.params
    6193160
    """
    from .mbconv import make_divisible
    depths = kwargs.pop("depths", (3, 4, 6, 3))
    widths = kwargs.pop("widths", (64, 128, 256, 512))
    name = kwargs.pop("name", None) or "resnet"
    kwargs["stem_width"] = make_divisible(kwargs.get("stem_width", 64) * width)
    return resnet(depths=tuple(max(1, math.ceil(n * depth)) for n in depths),
                  widths=tuple(make_divisible(w * width) for w in widths),
                  name=f"{name}-w{width:g}-d{depth:g}", **kwargs)


DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
TV = "torchvision 0.29.1"
# Reference params: sum(p.numel()) of the torch model named in `source` (weights=None).
_register("resnet18", f"{TV} resnet18", "ResNet-18: basic blocks (2, 2, 2, 2)", 11_689_512,
          _resnet(block="basic", depths=DEPTHS[18], name="resnet18"))
_register("resnet34", f"{TV} resnet34", "ResNet-34: basic blocks (3, 4, 6, 3)", 21_797_672,
          _resnet(block="basic", depths=DEPTHS[34], name="resnet34"))
for _depth, _params in ((50, 25_557_032), (101, 44_549_160), (152, 60_192_808)):
    _register(f"resnet{_depth}", f"paper (params = {TV} resnet{_depth})",
              f"ResNet-{_depth} as in the paper: bottlenecks {DEPTHS[_depth]}, stride in the first 1x1",
              _params, _resnet(depths=DEPTHS[_depth], name=f"resnet{_depth}"))
    _register(f"resnet{_depth}-tv", f"{TV} resnet{_depth}",
              f"ResNet-{_depth} as torchvision builds it: stride in the 3x3 (ResNet-B)",
              _params, _resnet(depths=DEPTHS[_depth], stride_in="3x3", name=f"resnet{_depth}-tv"))
_register("resnet50-b", "timm 1.0.31 resnet50 (= torchvision resnet50)",
          "ResNet-50-B: stride moved into the 3x3", 25_557_032,
          _resnet(stride_in="3x3", name="resnet50-b"))
_register("resnet50-c", "timm 1.0.31 resnet50c", "ResNet-50-C: ResNet-B with a 3x3-3x3-3x3 stem",
          25_576_264, _resnet(stride_in="3x3", stem="deep", name="resnet50-c"))
_register("resnet50-d", "timm 1.0.31 resnet50d", "ResNet-50-D: ResNet-C with 2x2 avg pool in the shortcut",
          25_576_264, _resnet(stride_in="3x3", stem="deep", shortcut="avgpool", name="resnet50-d"))

# ResNeXt and Wide ResNet come from fb.resnet.torch: stride in the 3x3, as torchvision.
RESNEXT50_PARAMS = {1: 25_557_032, 2: 25_425_000, 4: 25_292_968, 8: 25_603_016, 32: 25_028_904}
for _groups, _params in RESNEXT50_PARAMS.items():  # the paper's Table 3: equal complexity
    _d = equal_complexity_width(_groups)
    _name = f"resnext50-{_groups}x{_d}d"
    _source = (f"{TV} resnext50_32x4d" if _groups == 32 else
               f"{TV} ResNet(Bottleneck, [3, 4, 6, 3], groups={_groups}, width_per_group={_d})")
    _register(_name, _source,
              f"ResNeXt-50 ({_groups}x{_d}d): cardinality {_groups} at the complexity of ResNet-50", _params,
              _resnet(groups=_groups, width_per_group=_d, stride_in="3x3", name=_name))
_register("resnext101-32x8d", f"{TV} resnext101_32x8d", "ResNeXt-101 (32x8d)", 88_791_336,
          _resnet(depths=DEPTHS[101], groups=32, width_per_group=8, stride_in="3x3",
                  name="resnext101-32x8d"))
for _depth, _params in ((50, 68_883_240), (101, 126_886_696)):
    _register(f"wide-resnet{_depth}-2", f"{TV} wide_resnet{_depth}_2",
              f"WRN-{_depth}-2 (bottleneck): ResNet-{_depth} with 3x3s twice as wide", _params,
              _resnet(depths=DEPTHS[_depth], width_per_group=128, stride_in="3x3",
                      name=f"wide-resnet{_depth}-2"))
for (_depth, _k), _params in {(16, 8): 10_961_370, (28, 10): 36_479_194, (40, 4): 8_949_210}.items():
    _register(f"wrn-{_depth}-{_k}", "paper (WRN Table 1, pre-activation; no torchvision/timm model)",
              f"CIFAR WRN-{_depth}-{_k}, 3x32x32, 10 classes", _params, lambda d=_depth, k=_k: wrn(d, k))

# SENets as released by the SENet authors (Caffe), as timm's legacy_* ports them.
_register("se-resnet50", "timm 1.0.31 legacy_seresnet50", "SE-ResNet-50: r=16, stride in the first 1x1",
          28_088_024, _resnet(se_reduction=16, pool_ceil=True, name="se-resnet50"))
_register("se-resnext50-32x4d", "timm 1.0.31 legacy_seresnext50_32x4d", "SE-ResNeXt-50 (32x4d), r=16",
          27_559_896, _resnet(groups=32, width_per_group=4, stride_in="3x3", se_reduction=16,
                                     pool_ceil=True, name="se-resnext50-32x4d"))
_register("senet154", "timm 1.0.31 legacy_senet154",
          "SENet-154: SE-ResNeXt-152 (64x4d) with a 3x3 stem, 3x3 projections, half-width first 1x1",
          115_088_984, _resnet(depths=DEPTHS[152], groups=64, width_per_group=4, reduce_first=2,
                                      stem="deep", stem_width=128, stride_in="3x3", shortcut_kernel=3,
                                      se_reduction=16, dropout=0.2, pool_ceil=True, name="senet154"))

# timm's own SE-ResNet-50 (not the legacy Caffe port above): torchvision's ResNet-50 layout, stride in
# the 3x3, SE after bn3 with timm's SEModule (fc1, act, fc2 as biased 1x1 convs, sigmoid gate), its
# width make_divisible(C / 16, 8). Paths are timm's (= torchvision's): layer1.0.se.fc1, downsample.0.
_register("seresnet50-timm", "timm 1.0.31 seresnet50",
          "SE-ResNet-50 as timm builds it: stride in the 3x3, SE r=16 after the last BN", 28_088_024,
          _resnet(stride_in="3x3", se_reduction=16, se_divisor=8, layout="torchvision",
                         name="seresnet50-timm"))
