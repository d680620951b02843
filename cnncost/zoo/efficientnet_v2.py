"""EfficientNetV2 (Tan & Le 2021) as torchvision builds it: S, M and L; and torchvision's EfficientNet
(V1) from the same class, for `efficientnet-b2-tv`.

The early stages are Fused-MBConv: one k x k conv expands (and strides), a 1x1 projects back; with
expansion 1 a single k x k conv. The later stages are MBConv (1x1 expand, depthwise k x k,
squeeze-and-excitation to 1/4 of the block's *input* channels with SiLU, 1x1 project). All
activations are SiLU; batch norm eps 0.001. The head is a 1x1 conv to 1280, pool, dropout, linear.
A block whose input and output shapes agree adds its input after stochastic depth (drop path; the
identity in eval), whose rate grows linearly from 0 to 0.2 x (block index / number of blocks).
The widths of the table are used as given (torchvision's v2 builders use no width multiplier).
Paths are torchvision's (features.4.0.block.3.fc1).

torchvision's V1 (efficientnet_b0 ... b7) is the same class on MBConv rows only, scaled by a width
(`_make_divisible(c * w, 8)`) and a depth multiplier (`ceil(n * d)`), batch norm eps 1e-5, and a head
of 4x the last stage's width. The zoo's `efficientnet-b0` ... `-b7` (cnncost/zoo/efficientnet.py)
count the same params and MACs but have their own paths and no stochastic depth; their twins
`efficientnet-b0-tv` ... `-b7-tv`, torchvision's module for module at the eval crop of its weights
(B2 at 288, the paper's B2 at 260), are built here.
"""
from __future__ import annotations

from dataclasses import dataclass

import math

from ..layers import (Dropout, Flatten, GlobalAvgPool, Linear, Node, Residual, Sequential, SiLU, SqueezeExcite,
                      StochasticDepth)
from ..net import Net
from ._torchvision import TV, NormArgs, conv_norm_act, sequential
from .efficientnet import PUBLISHED, TORCHVISION_PARAMS
from .mbconv import make_divisible
from .arch import register_arch


@dataclass(frozen=True)
class V2Stage:
    """A row of torchvision's table: fused or not, expansion, kernel, stride, in/out channels, blocks."""

    fused: bool
    expand: int
    kernel: int
    stride: int
    inp: int
    out: int
    blocks: int


def _table(rows: str) -> tuple[V2Stage, ...]:
    """'F 1 3 1 24 24 2; M 4 3 2 64 128 6' -> stages (F: Fused-MBConv, M: MBConv)."""
    return tuple(V2Stage(kind == "F", *map(int, numbers))
                 for kind, *numbers in (row.split() for row in rows.split(";")))


# torchvision's _efficientnet_conf; the paper's Table 4 (S) and the released M/L configurations.
V2 = {
    "s": (_table("F 1 3 1 24 24 2; F 4 3 2 24 48 4; F 4 3 2 48 64 4; M 4 3 2 64 128 6; M 6 3 1 128 160 9;"
                 "M 6 3 2 160 256 15"), 0.2, 384, 21_458_488),
    "m": (_table("F 1 3 1 24 24 3; F 4 3 2 24 48 5; F 4 3 2 48 80 5; M 4 3 2 80 160 7; M 6 3 1 160 176 14;"
                 "M 6 3 2 176 304 18; M 6 3 1 304 512 5"), 0.3, 480, 54_139_356),
    "l": (_table("F 1 3 1 32 32 4; F 4 3 2 32 64 7; F 4 3 2 64 96 7; M 4 3 2 96 192 10; M 6 3 1 192 224 19;"
                 "M 6 3 2 224 384 25; M 6 3 1 384 640 7"), 0.4, 480, 118_515_272),
}
# EfficientNet-B0 in torchvision's form (the paper's Table 1).
V1_B0 = _table("M 1 3 1 32 16 1; M 6 3 2 16 24 2; M 6 5 2 24 40 2; M 6 3 2 40 80 3; M 6 5 1 80 112 3;"
               "M 6 5 2 112 192 4; M 6 3 1 192 320 1")


def v1_stages(width: float = 1.0, depth: float = 1.0) -> tuple[V2Stage, ...]:
    """B0's rows scaled as torchvision's `MBConvConfig`: channels `_make_divisible(c * width, 8)`,
    blocks `ceil(n * depth)`."""
    return tuple(V2Stage(s.fused, s.expand, s.kernel, s.stride, make_divisible(s.inp * width, 8),
                         make_divisible(s.out * width, 8), int(math.ceil(s.blocks * depth))) for s in V1_B0)


def v2_block(name: str, stage: V2Stage, inp: int, stride: int, drop: float, eps: float = 0.001) -> Node:
    """torchvision's `FusedMBConv` or `MBConv` from `inp` to `stage.out` channels."""
    bn: NormArgs = {"eps": eps}
    expanded = make_divisible(inp * stage.expand, 8)
    layers: list[Node]
    if stage.fused:
        if expanded != inp:
            layers = [conv_norm_act("expand", expanded, stage.kernel, stride, act=SiLU, **bn),
                      conv_norm_act("project", stage.out, 1, act=None, **bn)]
        else:
            layers = [conv_norm_act("conv", stage.out, stage.kernel, stride, act=SiLU, **bn)]
    else:
        layers = [conv_norm_act("dw", expanded, stage.kernel, stride, groups=expanded, act=SiLU, **bn)]
        if expanded != inp:
            layers.insert(0, conv_norm_act("expand", expanded, 1, act=SiLU, **bn))
        layers += [SqueezeExcite(squeeze=max(1, inp // 4), activation="silu"),
                   conv_norm_act("project", stage.out, 1, act=None, **bn)]
    block = sequential("block", layers)
    if stride == 1 and inp == stage.out:
        return Residual(name=name, layers=(block, StochasticDepth(name="stochastic_depth", p=drop, mode="row")))
    return Sequential(name=name, layers=(block,))


def efficientnet_v2(stages: tuple[V2Stage, ...], *, head: int | None = 1280, dropout: float = 0.2,
                    stochastic_depth: float = 0.2, eps: float = 0.001, classes: int = 1000,
                    resolution: int = 384, name: str = "efficientnet-v2") -> Net:
    """torchvision's `EfficientNet` from a stage table (`V2["s"][0]`, `v1_stages(1.1, 1.2)`, ...).

    `head`: the last conv's width (None: 4x the last stage's, as V1); `eps`: batch norm's (V1 1e-5).

    >>> from cnncost import table
    >>> table(efficientnet_v2(V2["s"][0]), batch=1).totals.params
    21458488
    """
    bn: NormArgs = {"eps": eps}
    features: list[Node] = [conv_norm_act("stem", stages[0].inp, 3, 2, act=SiLU, **bn)]
    total = sum(s.blocks for s in stages)
    index = 0
    channels = stages[0].inp
    for stage in stages:
        blocks = []
        for i in range(stage.blocks):
            blocks.append(v2_block(str(i), stage, channels, stage.stride if i == 0 else 1,
                                   stochastic_depth * index / total, eps))
            channels = stage.out
            index += 1
        features.append(Sequential(name="stage", layers=tuple(blocks)))
    head = 4 * stages[-1].out if head is None else head
    features.append(conv_norm_act("head", head, 1, act=SiLU, **bn))
    return Net(name, (3, resolution, resolution),
               (sequential("features", features), GlobalAvgPool(name="avgpool"), Flatten(name="flatten"),
                sequential("classifier", (Dropout(p=dropout, inplace=True), Linear(out=classes)))),
               notes=f"{TV} EfficientNetV2: {len(stages)} stages, {total} blocks, head {head}")


for _size, (_stages, _dropout, _crop, _params) in V2.items():
    register_arch(f"efficientnet-v2-{_size}", source=f"{TV} efficientnet_v2_{_size}",
                  reference={"params": _params},
                  description=f"EfficientNetV2-{_size.upper()}: Fused-MBConv then MBConv stages, {_crop}x{_crop}")(
        lambda st=_stages, p=_dropout, r=_crop, s=_size: efficientnet_v2(st, dropout=p, resolution=r,
                                                                         name=f"efficientnet-v2-{s}"))

# torchvision's efficientnet_b0 ... _b7, module for module (stochastic depth, paths), at the eval crop
# of their weights: the paper's resolutions but B2's, evaluated at 288 (the paper's B2 input is 260).
TV_CROPS = {"b0": 224, "b1": 240, "b2": 288, "b3": 300, "b4": 380, "b5": 456, "b6": 528, "b7": 600}
for _variant, _crop in TV_CROPS.items():
    _w, _d, _, _p = PUBLISHED[_variant]
    register_arch(f"efficientnet-{_variant}-tv", source=f"{TV} efficientnet_{_variant}",
                  reference={"params": TORCHVISION_PARAMS[_variant]},
                  description=f"EfficientNet-{_variant.upper()} as torchvision builds it (stochastic depth, "
                              f"its paths), {_crop}x{_crop}")(
        lambda w=_w, d=_d, p=_p, r=_crop, v=_variant: efficientnet_v2(
            v1_stages(w, d), head=None, dropout=p, eps=1e-5, resolution=r, name=f"efficientnet-{v}-tv"))
