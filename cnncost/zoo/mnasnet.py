"""MnasNet (Tan et al. 2019) as torchvision builds it: the B1 variant (no squeeze-and-excitation),
scaled by a depth multiplier alpha.

alpha scales every width of the stem and the stages, rounded to a multiple of 8 by
`_round_to_multiple_of` (round to nearest, one step up if that lost more than 10%: the same rule as
`_make_divisible`); the 1280-channel head conv is never scaled. An inverted residual expands its
*input* by exactly its expansion factor (no rounding), and adds its input when the shapes agree.
Paths are torchvision's: layers.0 ... layers.16, layers.8.0.layers.3, classifier.1.
"""
from __future__ import annotations

from ..layers import BatchNorm, Conv, Dropout, Flatten, GlobalAvgPool, Linear, Node, ReLU, Residual, Sequential
from ..net import Net
from ._torchvision import TV, sequential
from .mbconv import make_divisible
from .arch import register_arch

BN_MOMENTUM = 1 - 0.9997  # torchvision's _BN_MOMENTUM: TF's decay 0.9997
DEPTHS = (32, 16, 24, 40, 80, 96, 192, 320)  # stem, separable conv, then the six stages' outputs
# The six stages after the stem: (kernel, stride of the first block, expansion, repeats).
STAGES = ((3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1))


def inverted_residual(name: str, in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int) -> Node:
    """torchvision's MnasNet `_InvertedResidual`: 1x1 expand, k x k depthwise, linear 1x1 project."""
    mid = in_ch * expansion
    layers = sequential("layers", (
        Conv(out=mid, kernel=1, bias=False), BatchNorm(momentum=BN_MOMENTUM), ReLU(),
        Conv(out=mid, kernel=kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False),
        BatchNorm(momentum=BN_MOMENTUM), ReLU(),
        Conv(out=out_ch, kernel=1, bias=False), BatchNorm(momentum=BN_MOMENTUM)))
    if in_ch == out_ch and stride == 1:
        return Residual(name=name, layers=(layers,))
    return Sequential(name=name, layers=(layers,))


def mnasnet(alpha: float = 1.0, *, classes: int = 1000, dropout: float = 0.2, resolution: int = 224,
            name: str | None = None) -> Net:
    """torchvision's `MNASNet(alpha)`.

    >>> from cnncost import table
    >>> table(mnasnet(0.5), batch=1).totals.params
    2218512
    """
    d = [make_divisible(depth * alpha, 8) for depth in DEPTHS]
    layers: list[Node] = [
        Conv(out=d[0], kernel=3, stride=2, padding=1, bias=False), BatchNorm(momentum=BN_MOMENTUM), ReLU(),
        Conv(out=d[0], kernel=3, padding=1, groups=d[0], bias=False), BatchNorm(momentum=BN_MOMENTUM), ReLU(),
        Conv(out=d[1], kernel=1, bias=False), BatchNorm(momentum=BN_MOMENTUM)]
    channels = d[1]
    for out, (kernel, stride, expansion, repeats) in zip(d[2:], STAGES):
        blocks = []
        for i in range(repeats):
            blocks.append(inverted_residual(str(i), channels, out, kernel, stride if i == 0 else 1, expansion))
            channels = out
        layers.append(Sequential(name="stack", layers=tuple(blocks)))
    layers += [Conv(out=1280, kernel=1, bias=False), BatchNorm(momentum=BN_MOMENTUM), ReLU()]
    return Net(name or f"mnasnet-{alpha:g}", (3, resolution, resolution),
               (sequential("layers", layers), GlobalAvgPool(name="avgpool"), Flatten(name="flatten"),
                sequential("classifier", (Dropout(p=dropout, inplace=True), Linear(out=classes)))),
               notes=f"{TV} mnasnet (B1, alpha {alpha:g}); x.mean([2, 3]) is the rows avgpool, flatten")


# builder suffix: (alpha, torchvision's params)
MNASNETS = {"0_5": (0.5, 2_218_512), "0_75": (0.75, 3_170_208), "1_0": (1.0, 4_383_312),
            "1_3": (1.3, 6_282_256)}
for _suffix, (_alpha, _params) in MNASNETS.items():
    _name = f"mnasnet{_suffix.replace('_', '-')}"
    register_arch(_name, source=f"{TV} mnasnet{_suffix}", reference={"params": _params},
                  description=f"MnasNet-B1, depth multiplier {_alpha:g}")(
        lambda a=_alpha, n=_name: mnasnet(a, name=n))
