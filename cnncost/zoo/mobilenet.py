"""MobileNet V1 (Howard et al. 2017) and V2 (Sandler et al. 2018).

V1 is a 3x3 stem and 13 depthwise separable convolutions (a 3x3 depthwise conv that filters, a 1x1
pointwise conv that mixes), shrunk by a width multiplier alpha and a resolution multiplier rho.
V2 stacks inverted residuals with linear bottlenecks; it is `mbconv_net` with the paper's Table 2.
"""
from __future__ import annotations

from ..layers import Node, ReLU, ReLU6, Sequential
from ..net import Net
from .common import classifier, conv_bn_act
from .mbconv import Stage, make_divisible, mbconv_net, scale_stages
from .arch import register_arch

# The paper's Table 1 after the stem: (stride of the depthwise conv, pointwise out channels).
# The table prints s2 for the 13th depthwise conv, but its input and output are both 7x7: the
# authors' TF-slim code uses stride 1 there, as we do.
MOBILENET_V1 = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
                (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))


def mobilenet_v1(alpha: float = 1.0, resolution: int = 224, *, separable: bool = True,
                 classes: int = 1000, name: str | None = None) -> Net:
    """MobileNet V1 with width multiplier `alpha` and input `resolution` (rho = resolution / 224).

    Channels are `max(8, int(c * alpha))`, the rule of the authors' TF-slim code; for the paper's
    alphas (1, 0.75, 0.5, 0.25) every width is a multiple of 8, so timm's rounding agrees.
    `separable=False` replaces each depthwise separable pair by one full 3x3 conv (the paper's
    "Conv MobileNet" of Table 4).

    >>> from cnncost.zoo.mobilenet import mobilenet_v1
    >>> mobilenet_v1(0.5, 160).input, mobilenet_v1(0.5).layers[1].layers[3].out
    ((3, 160, 160), 32)
    """
    def width(c: int) -> int:
        return max(8, int(c * alpha))

    stem = conv_bn_act("conv", width(32), 3, 2, act=ReLU)
    layers: list[Node] = [Sequential(name="stem", layers=tuple(stem))]
    channels = width(32)
    for i, (stride, out) in enumerate(MOBILENET_V1, start=1):
        block = (conv_bn_act("dw", channels, 3, stride, groups=channels, act=ReLU)
                 + conv_bn_act("pw", width(out), 1, act=ReLU) if separable
                 else conv_bn_act("conv", width(out), 3, stride, act=ReLU))
        layers.append(Sequential(name=f"block{i}", layers=tuple(block)))
        channels = width(out)
    layers += classifier(classes)
    return Net(name or f"mobilenet-v1-{alpha:g}-{resolution}", (3, resolution, resolution), tuple(layers),
               notes="Howard et al. 2017, Table 1: conv-BN-ReLU throughout, 13 depthwise separable convs")


# The paper's Table 2: t (expansion), kernel, s (stride of the first block), c (out), n (repeats).
MOBILENET_V2 = (
    Stage(expand=1, kernel=3, stride=1, out=16, repeats=1),
    Stage(expand=6, kernel=3, stride=2, out=24, repeats=2),
    Stage(expand=6, kernel=3, stride=2, out=32, repeats=3),
    Stage(expand=6, kernel=3, stride=2, out=64, repeats=4),
    Stage(expand=6, kernel=3, stride=1, out=96, repeats=3),
    Stage(expand=6, kernel=3, stride=2, out=160, repeats=3),
    Stage(expand=6, kernel=3, stride=1, out=320, repeats=1),
)


def mobilenet_v2(alpha: float = 1.0, resolution: int = 224, *, classes: int = 1000,
                 name: str | None = None, depth: float = 1.0) -> Net:
    """MobileNet V2 with width multiplier `alpha`, rounded as torchvision does (`make_divisible`).

    The 1280-channel head conv only ever widens (alpha > 1), as in the paper and torchvision.
    `depth` multiplies every stage's blocks (rounded up; 1: the paper's Table 2).

    >>> from cnncost.zoo.mobilenet import mobilenet_v2
    >>> net = mobilenet_v2(0.5)
    >>> net.layers[0].layers[0].out, net.layers[-5].layers[0].out     # stem, head
    (16, 1280)
    """
    return mbconv_net(name or f"mobilenet-v2-{alpha:g}-{resolution}", scale_stages(MOBILENET_V2, width=alpha, depth=depth),
                      stem=make_divisible(32 * alpha), head=make_divisible(1280 * max(1.0, alpha)),
                      act=ReLU6, resolution=resolution, classes=classes, dropout=0.2,
                      notes="Sandler et al. 2018, Table 2; equal to torchvision's mobilenet_v2")


def _v1_scaled(alpha: float, width: float, depth: float, name: str) -> Net:
    """The `scale` hook of the V1s: the width multiplier only (V1 has no stages to deepen)."""
    if depth != 1:
        from ..errors import CnnCostError
        raise CnnCostError(f"{name} takes a width multiplier only (MobileNet V1 has no repeated stages); "
                           f"got depth {depth:g}")
    return mobilenet_v1(alpha * width, name=f"{name}-w{width:g}-d1")


# Reference params: sum(p.numel()) of the torch model named in `source` (weights=None).
TIMM_V1 = "timm 1.0.31 _gen_mobilenet_v1(channel_multiplier={:g}) (paper Table 1 layout; ReLU6 for ReLU)"
for _alpha, _params in ((1.0, 4_231_976), (0.75, 2_585_560), (0.5, 1_331_592), (0.25, 470_072)):
    _name = "mobilenet-v1" if _alpha == 1 else f"mobilenet-v1-{_alpha:g}"
    register_arch(_name, source=TIMM_V1.format(_alpha), reference={"params": _params},
                  description=f"MobileNet V1, width multiplier {_alpha:g}, 224x224",
                  scale=lambda w, d, a=_alpha, n=_name: _v1_scaled(a, w, d, n))(
        lambda a=_alpha, n=_name: mobilenet_v1(a, name=n))

TV_V2 = "torchvision 0.29.1 mobilenet_v2"
for _alpha, _params in ((1.0, 3_504_872), (0.75, 2_636_424), (0.5, 1_968_680), (1.4, 6_108_776)):
    _name = "mobilenet-v2" if _alpha == 1 else f"mobilenet-v2-{_alpha:g}"
    register_arch(_name, source=TV_V2 if _alpha == 1 else f"{TV_V2}(width_mult={_alpha:g})",
                  reference={"params": _params},
                  description=f"MobileNet V2, width multiplier {_alpha:g}, 224x224",
                  scale=lambda w, d, a=_alpha, n=_name: mobilenet_v2(a * w, depth=d, name=f"{n}-w{w:g}-d{d:g}"))(
        lambda a=_alpha, n=_name: mobilenet_v2(a, name=n))
