"""ConvNeXt (Liu et al. 2022) as torchvision builds it: Tiny, Small, Base and Large.

A 4x4/4 "patchify" stem conv with layer norm, four stages of ConvNeXt blocks, and between stages a
layer norm and a 2x2/2 conv that doubles the channels. A block is a 7x7 depthwise conv, layer norm
over the channels, an MLP (C -> 4C, GELU, 4C -> C), a learnt per-channel layer scale (init 1e-6),
stochastic depth (the identity in eval), and the residual add. The head is pool, layer norm,
flatten, linear.

torchvision computes the MLP with `nn.Linear` on a channels-last tensor between two permutes;
here each linear is the equal 1x1 conv (same params, same MACs) on the channels-first map, under
torchvision's index (block.3 and block.5; the permutes block.1 and block.6 are views and have no
row). The layer scale is a parameter of the block itself in torchvision (`features.1.0.layer_scale`),
the path of its row here. The stochastic-depth rate grows linearly over the blocks from 0 to the
model's rate (0.1 Tiny, 0.4 Small, 0.5 Base and Large).
"""
from __future__ import annotations

from ..layers import (GELU, Conv, Flatten, GlobalAvgPool, LayerNorm, LayerScale, Linear, Node, Residual,
                      Sequential, StochasticDepth)
from ..net import Net
from ._torchvision import TV, sequential
from .arch import register_arch


def cn_block(name: str, dim: int, drop: float) -> Residual:
    """torchvision's `CNBlock` on `dim` channels."""
    block = Sequential(name="block", layers=(
        Conv(name="0", out=dim, kernel=7, padding=3, groups=dim), LayerNorm(name="2", over="channels", eps=1e-6),
        Conv(name="3", out=4 * dim, kernel=1), GELU(name="4"), Conv(name="5", out=dim, kernel=1)))
    return Residual(name=name, layers=(block, LayerScale(name="layer_scale"),
                                       StochasticDepth(name="stochastic_depth", p=drop, mode="row")))


def convnext(widths: tuple[int, ...] = (96, 192, 384, 768), depths: tuple[int, ...] = (3, 3, 9, 3), *,
             stochastic_depth: float = 0.1, classes: int = 1000, resolution: int = 224,
             name: str = "convnext") -> Net:
    """A ConvNeXt with `depths` blocks of `widths` channels per stage; the defaults are ConvNeXt-T.

    >>> from cnncost import table
    >>> table(convnext(), batch=1).totals.params
    28589128
    """
    features: list[Node] = [sequential("stem", (Conv(out=widths[0], kernel=4, stride=4),
                                                LayerNorm(over="channels", eps=1e-6)))]
    total = sum(depths)
    index = 0
    for s, (width, depth) in enumerate(zip(widths, depths)):
        blocks = []
        for i in range(depth):
            blocks.append(cn_block(str(i), width, stochastic_depth * index / (total - 1.0)))
            index += 1
        features.append(Sequential(name="stage", layers=tuple(blocks)))
        if s + 1 < len(widths):
            features.append(sequential("downsample", (LayerNorm(over="channels", eps=1e-6),
                                                      Conv(out=widths[s + 1], kernel=2, stride=2))))
    return Net(name, (3, resolution, resolution),
               (sequential("features", features), GlobalAvgPool(name="avgpool"),
                sequential("classifier", (LayerNorm(over="channels", eps=1e-6), Flatten(), Linear(out=classes)))),
               notes=f"{TV} ConvNeXt: widths {widths}, depths {depths}, stochastic depth {stochastic_depth:g}")


# size: (widths, depths, stochastic-depth rate, torchvision's params); all evaluated at 224
CONVNEXTS = {
    "tiny": ((96, 192, 384, 768), (3, 3, 9, 3), 0.1, 28_589_128),
    "small": ((96, 192, 384, 768), (3, 3, 27, 3), 0.4, 50_223_688),
    "base": ((128, 256, 512, 1024), (3, 3, 27, 3), 0.5, 88_591_464),
    "large": ((192, 384, 768, 1536), (3, 3, 27, 3), 0.5, 197_767_336),
}
for _size, (_widths, _depths, _sd, _params) in CONVNEXTS.items():
    register_arch(f"convnext-{_size}", source=f"{TV} convnext_{_size}", reference={"params": _params},
                  description=f"ConvNeXt-{_size[0].upper()}: widths {_widths}, blocks {_depths}")(
        lambda w=_widths, d=_depths, p=_sd, s=_size: convnext(w, d, stochastic_depth=p, name=f"convnext-{s}"))
