"""Networks of inverted-residual (MBConv) blocks described by a table: MobileNetV2, EfficientNet,
and any member of the MnasNet/EfficientNet search space (the NAS builder of the lecture).

A network is a stride-2 3x3 stem, one stage per table row, a 1x1 head conv and a classifier.
A block expands its input `expand` times with a 1x1 conv, filters it with a depthwise k x k conv,
optionally re-weights channels (squeeze-and-excitation), then projects back with a linear 1x1 conv
(no activation: the "linear bottleneck"). It is residual when its input and output shapes agree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Literal

from ..layers import Node, ReLU6, Residual, Sequential, SqueezeExcite
from ..net import Net
from .common import classifier, conv_bn_act


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One row of the table: `repeats` blocks, the first with `stride`, all with `out` channels.

    `se` is the squeeze width as a fraction of the block's *input* channels (EfficientNet: 0.25);
    0 means no squeeze-and-excitation.
    """

    expand: float
    kernel: int
    stride: int
    out: int
    repeats: int
    se: float = 0.0


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to the nearest multiple of `divisor`, never more than 10% down.

    This is TF's `round_filters` and torchvision's `_make_divisible`, which MobileNetV2 and
    EfficientNet use for every width multiplier.

    >>> make_divisible(32 * 1.1), make_divisible(32 * 0.6), make_divisible(1280 * 1.4)
    (32, 24, 1792)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def scale_stages(stages: Iterable[Stage], *, width: float = 1.0, depth: float = 1.0) -> tuple[Stage, ...]:
    """Widen every stage (channels rounded by `make_divisible`) and deepen it (repeats rounded up)."""
    return tuple(replace(s, out=make_divisible(s.out * width), repeats=math.ceil(s.repeats * depth))
                 for s in stages)


def mbconv_block(name: str, channels: int, stage: Stage, stride: int, act: type[Node],
                 se_act: Literal["relu", "silu"]) -> Node:
    """One inverted-residual block from `channels` to `stage.out` channels."""
    hidden = channels if stage.expand == 1 else make_divisible(channels * stage.expand)
    layers: list[Node] = []
    if hidden != channels:
        layers += conv_bn_act("expand", hidden, 1, act=act)
    layers += conv_bn_act("dwconv", hidden, stage.kernel, stride, groups=hidden, act=act)
    if stage.se:
        layers.append(SqueezeExcite(name="se", squeeze=max(1, int(channels * stage.se)), activation=se_act))
    layers += conv_bn_act("project", stage.out, 1, act=None)
    if stride == 1 and channels == stage.out:
        return Residual(name=name, layers=tuple(layers))
    return Sequential(name=name, layers=tuple(layers))


def mbconv_net(name: str, stages: Iterable[Stage], *, stem: int = 32, head: int = 1280,
               act: type[Node] = ReLU6, se_act: Literal["relu", "silu"] = "relu",
               resolution: int = 224, classes: int = 1000, dropout: float = 0.2, notes: str = "") -> Net:
    """A network from a stage table, channels and repeats taken as given (scale them first).

    >>> from cnncost.zoo.mbconv import Stage, mbconv_net
    >>> net = mbconv_net("tiny", [Stage(expand=1, kernel=3, stride=1, out=16, repeats=1),
    ...                           Stage(expand=6, kernel=5, stride=2, out=24, repeats=2, se=0.25)])
    >>> [n.name for n in net.layers]
    ['stem', 'stage1', 'stage2', 'head', 'avgpool', 'flatten', 'dropout', 'fc']
    """
    layers: list[Node] = [Sequential(name="stem", layers=tuple(conv_bn_act("conv", stem, 3, 2, act=act)))]
    channels = stem
    for i, stage in enumerate(stages, start=1):
        blocks = []
        for j in range(stage.repeats):
            blocks.append(mbconv_block(str(j), channels, stage, stage.stride if j == 0 else 1, act, se_act))
            channels = stage.out
        layers.append(Sequential(name=f"stage{i}", layers=tuple(blocks)))
    layers.append(Sequential(name="head", layers=tuple(conv_bn_act("conv", head, 1, act=act))))
    layers += classifier(classes, dropout)
    return Net(name, (3, resolution, resolution), tuple(layers), notes=notes)
