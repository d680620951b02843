"""EfficientNet (Tan & Le 2019): the NAS-found B0 and its compound scaling.

B0 is an MBConv table (the paper's Table 1) built by `mbconv_net`. A scaled member multiplies the
depth of every stage by d (repeats rounded up), the width by w (channels rounded to a multiple of 8
by `make_divisible`) and the input side by r. Compound scaling ties the three to one coefficient
phi: d = alpha**phi, w = beta**phi, r = gamma**phi with alpha = 1.2, beta = 1.1, gamma = 1.15
(alpha * beta**2 * gamma**2 = 1.92, so MACs grow about 1.92**phi, "roughly 2**phi").

The released B1..B7 do not sit at integer phi: their (w, d, resolution) were set by hand (the TF
reference's `efficientnet_params`, copied by torchvision and timm). The registered names use those
published multipliers, so they equal torchvision's models; `efficientnet(phi)` is the pure rule.
"""
from __future__ import annotations

from ..layers import SiLU
from ..net import Net
from .mbconv import Stage, make_divisible, mbconv_net, scale_stages
from .arch import register_arch

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15

# The paper's Table 1: every block has squeeze-and-excitation to 1/4 of its input channels.
B0 = (
    Stage(expand=1, kernel=3, stride=1, out=16, repeats=1, se=0.25),
    Stage(expand=6, kernel=3, stride=2, out=24, repeats=2, se=0.25),
    Stage(expand=6, kernel=5, stride=2, out=40, repeats=2, se=0.25),
    Stage(expand=6, kernel=3, stride=2, out=80, repeats=3, se=0.25),
    Stage(expand=6, kernel=5, stride=1, out=112, repeats=3, se=0.25),
    Stage(expand=6, kernel=5, stride=2, out=192, repeats=4, se=0.25),
    Stage(expand=6, kernel=3, stride=1, out=320, repeats=1, se=0.25),
)

# Published (width, depth, resolution, dropout) per variant: TF `efficientnet_params`, torchvision.
# torchvision evaluates B2 at 288 and B3 at 300 (crop); the architecture is the same at any size.
# EfficientNet-B8 is one more line: "b8": (2.2, 3.6, 672, 0.5).
PUBLISHED: dict[str, tuple[float, float, int, float]] = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
    "b4": (1.4, 1.8, 380, 0.4),
    "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5),
    "b7": (2.0, 3.1, 600, 0.5),
}
# sum(p.numel()) of torchvision 0.29.1 efficientnet_bN(weights=None): each name's reference.
TORCHVISION_PARAMS = {"b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232,
                      "b4": 19_341_616, "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960}


def efficientnet_scaled(width: float = 1.0, depth: float = 1.0, resolution: int = 224, *,
                        dropout: float = 0.2, classes: int = 1000, name: str | None = None) -> Net:
    """B0 with explicit multipliers, rounded as the reference implementations round them.

    >>> from cnncost.zoo.efficientnet import efficientnet_scaled
    >>> net = efficientnet_scaled(width=1.1, depth=1.2, resolution=260)      # = B2
    >>> net.input, net.layers[0].layers[0].out, len(net.layers[6].layers)
    ((3, 260, 260), 32, 5)
    """
    return mbconv_net(name or f"efficientnet-w{width:g}-d{depth:g}-{resolution}",
                      scale_stages(B0, width=width, depth=depth), stem=make_divisible(32 * width),
                      head=make_divisible(1280 * width), act=SiLU, se_act="silu",
                      resolution=resolution, classes=classes, dropout=dropout,
                      notes=f"Tan & Le 2019: B0 scaled by width {width:g}, depth {depth:g}")


def compound(phi: float) -> tuple[float, float, int]:
    """(width, depth, resolution) of compound coefficient `phi`: beta**phi, alpha**phi, 224*gamma**phi.

    >>> compound(1)
    (1.1, 1.2, 258)
    """
    return round(BETA**phi, 6), round(ALPHA**phi, 6), round(224 * GAMMA**phi)


def efficientnet(phi: float = 0, *, classes: int = 1000, name: str | None = None) -> Net:
    """EfficientNet at any compound coefficient, integer or not, by the paper's rule.

    >>> from cnncost.zoo.efficientnet import efficientnet
    >>> efficientnet(0.5).input
    (3, 240, 240)
    """
    width, depth, resolution = compound(phi)
    return efficientnet_scaled(width, depth, resolution, classes=classes,
                               name=name or f"efficientnet-phi{phi:g}")


for _variant, (_w, _d, _r, _p) in PUBLISHED.items():
    _tv = _variant in TORCHVISION_PARAMS
    register_arch(f"efficientnet-{_variant}",
                  source=f"torchvision 0.29.1 efficientnet_{_variant}" if _tv else "TF efficientnet_params",
                  reference={"params": TORCHVISION_PARAMS[_variant]} if _tv else {},
                  description=f"EfficientNet-{_variant.upper()}: B0 x width {_w:g}, depth {_d:g}, {_r}x{_r}",
                  scale=lambda w, d, w0=_w, d0=_d, r=_r, p=_p, v=_variant: efficientnet_scaled(
                      w0 * w, d0 * d, r, dropout=p, name=f"efficientnet-{v}-w{w:g}-d{d:g}"))(
        lambda w=_w, d=_d, r=_r, p=_p, v=_variant: efficientnet_scaled(w, d, r, dropout=p,
                                                                       name=f"efficientnet-{v}"))
