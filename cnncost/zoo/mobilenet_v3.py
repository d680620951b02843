"""MobileNetV3 (Howard et al. 2019) as torchvision builds it: Large and Small.

Each row of the paper's Tables 1 and 2 is one inverted residual: 1x1 expansion (skipped when it
would not widen), k x k depthwise, optional squeeze-and-excitation, linear 1x1 projection; ReLU
("RE") or hardswish ("HS"). The SE squeezes the *expanded* channels to `_make_divisible(exp // 4, 8)`
with ReLU and gates them with a hardsigmoid. The head is a 1x1 conv to 6x the last block's
channels, global pool, linear to 1280 (Large) or 1024 (Small), hardswish, dropout, linear.
Every width goes through `_make_divisible(c * width_mult, 8)`. Batch norm: eps 0.001, momentum 0.01.

`reduced_tail` halves the last stage and `dilated` makes it dilated instead of strided: the
settings torchvision's segmentation backbones use. Paths are torchvision's (features.4.block.2.fc1).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..layers import (Dropout, Flatten, GlobalAvgPool, Hardswish, Linear, Node, ReLU, Residual, Sequential,
                      SqueezeExcite)
from ..net import Net
from ._torchvision import TV, NormArgs, conv_norm_act, sequential
from .mbconv import make_divisible
from .arch import register_arch

BN: NormArgs = {"eps": 0.001, "momentum": 0.01}


@dataclass(frozen=True)
class Bneck:
    """A row of the table: input, kernel, expanded and output channels, SE, activation, stride,
    and whether it belongs to the last stage (halved by `reduced_tail`, dilated by `dilated`)."""

    inp: int
    kernel: int
    expanded: int
    out: int
    se: bool
    act: str  # "RE" or "HS"
    stride: int
    tail: bool = False


LARGE = (
    Bneck(16, 3, 16, 16, False, "RE", 1), Bneck(16, 3, 64, 24, False, "RE", 2),
    Bneck(24, 3, 72, 24, False, "RE", 1), Bneck(24, 5, 72, 40, True, "RE", 2),
    Bneck(40, 5, 120, 40, True, "RE", 1), Bneck(40, 5, 120, 40, True, "RE", 1),
    Bneck(40, 3, 240, 80, False, "HS", 2), Bneck(80, 3, 200, 80, False, "HS", 1),
    Bneck(80, 3, 184, 80, False, "HS", 1), Bneck(80, 3, 184, 80, False, "HS", 1),
    Bneck(80, 3, 480, 112, True, "HS", 1), Bneck(112, 3, 672, 112, True, "HS", 1),
    Bneck(112, 5, 672, 160, True, "HS", 2, tail=True), Bneck(160, 5, 960, 160, True, "HS", 1, tail=True),
    Bneck(160, 5, 960, 160, True, "HS", 1, tail=True),
)
SMALL = (
    Bneck(16, 3, 16, 16, True, "RE", 2), Bneck(16, 3, 72, 24, False, "RE", 2),
    Bneck(24, 3, 88, 24, False, "RE", 1), Bneck(24, 5, 96, 40, True, "HS", 2),
    Bneck(40, 5, 240, 40, True, "HS", 1), Bneck(40, 5, 240, 40, True, "HS", 1),
    Bneck(40, 5, 120, 48, True, "HS", 1), Bneck(48, 5, 144, 48, True, "HS", 1),
    Bneck(48, 5, 288, 96, True, "HS", 2, tail=True), Bneck(96, 5, 576, 96, True, "HS", 1, tail=True),
    Bneck(96, 5, 576, 96, True, "HS", 1, tail=True),
)
CONFIGS = {"large": (LARGE, 1280), "small": (SMALL, 1024)}


def inverted_residual(name: str, row: Bneck, width_mult: float, divider: int, dilation: int) -> Node:
    """torchvision's MobileNetV3 `InvertedResidual` for one table row."""
    def adjust(c: int, tail_part: bool) -> int:
        return make_divisible((c // divider if tail_part else c) * width_mult, 8)
    # torchvision halves the tail's expanded/out widths, and the input of every row after the first tail row
    first_tail = row.tail and row.stride == 2
    inp = adjust(row.inp, row.tail and not first_tail)
    exp = adjust(row.expanded, row.tail and not first_tail)
    out = adjust(row.out, row.tail)
    act = Hardswish if row.act == "HS" else ReLU
    dil = dilation if row.tail else 1
    layers: list[Node] = []
    if exp != inp:
        layers.append(conv_norm_act("expand", exp, 1, act=act, **BN))
    layers.append(conv_norm_act("dw", exp, row.kernel, 1 if dil > 1 else row.stride, groups=exp, dilation=dil,
                                act=act, **BN))
    if row.se:
        layers.append(SqueezeExcite(squeeze=make_divisible(exp // 4, 8), activation="relu", gate="hardsigmoid"))
    layers.append(conv_norm_act("project", out, 1, act=None, **BN))
    block = sequential("block", layers)
    if row.stride == 1 and inp == out:
        return Residual(name=name, layers=(block,))
    return Sequential(name=name, layers=(block,))


def mobilenet_v3(arch: str = "large", width_mult: float = 1.0, *, reduced_tail: bool = False,
                 dilated: bool = False, classes: int = 1000, dropout: float = 0.2, resolution: int = 224,
                 name: str | None = None) -> Net:
    """torchvision's `mobilenet_v3_large` / `mobilenet_v3_small` (`arch` "large" or "small").

    >>> from cnncost import table
    >>> table(mobilenet_v3("small"), batch=1).totals.params
    2542856
    """
    rows, last = CONFIGS[arch]
    divider = 2 if reduced_tail else 1
    first = make_divisible(rows[0].inp * width_mult, 8)
    features: list[Node] = [conv_norm_act("stem", first, 3, 2, act=Hardswish, **BN)]
    features += [inverted_residual("block", row, width_mult, divider, 2 if dilated else 1) for row in rows]
    last_in = make_divisible(rows[-1].out // divider * width_mult, 8)
    features.append(conv_norm_act("head", 6 * last_in, 1, act=Hardswish, **BN))
    head = make_divisible(last // divider * width_mult, 8)
    return Net(name or f"mobilenet-v3-{arch}-{width_mult:g}", (3, resolution, resolution),
               (sequential("features", features), GlobalAvgPool(name="avgpool"), Flatten(name="flatten"),
                sequential("classifier", (Linear(out=head), Hardswish(), Dropout(p=dropout, inplace=True),
                                          Linear(out=classes)))),
               notes=f"{TV} mobilenet_v3_{arch}(width_mult={width_mult:g}, reduced_tail={reduced_tail}, "
                     f"dilated={dilated})")


for _arch, _params in (("large", 5_483_032), ("small", 2_542_856)):
    register_arch(f"mobilenet-v3-{_arch}", source=f"{TV} mobilenet_v3_{_arch}", reference={"params": _params},
                  description=f"MobileNetV3-{_arch.capitalize()}: hardswish, SE with a hardsigmoid gate")(
        lambda a=_arch: mobilenet_v3(a, name=f"mobilenet-v3-{a}"))
