"""DenseNet-BC (Huang et al. 2017) as torchvision builds it.

A dense layer is BN-ReLU-1x1 conv (to bn_size x growth channels)-BN-ReLU-3x3 conv (to `growth`
channels) on the concatenation of the block's input and every earlier layer's output, so a block
of n layers adds n x growth channels. As in torchvision, each layer concatenates its inputs
anew (its first row, `denselayer3.cat`) and the block concatenates everything once more at the
end (`denseblock1.cat`): those copies are real allocations of torchvision's forward. Between
blocks a transition halves the channels (BN-ReLU-1x1 conv) and the size (2x2/2 average pool).
torchvision applies the last ReLU and the global pool as functions (no modules): they are the rows
`relu` and `avgpool` here.
"""
from __future__ import annotations

from typing import cast

from ..layers import (AvgPool, BatchNorm, Concat, Conv, Flatten, GlobalAvgPool, Linear, MaxPool, Node, ReLU,
                      Sequential)
from ..net import Net
from ._torchvision import TV
from .arch import register_arch


def dense_block(name: str, layers: int, growth: int, bn_size: int, before: str) -> Sequential:
    """torchvision's `_DenseBlock` reading the node `before`: dense layer i concatenates the block's
    input and the outputs of layers 1..i-1 (its row `cat`, torchvision's `torch.cat(inputs)`),
    then BN-ReLU-1x1 conv-BN-ReLU-3x3 conv to `growth` channels; the block's output (row `cat`)
    concatenates its input and all its layers' outputs."""
    nodes: list[Node] = []
    for i in range(1, layers + 1):
        earlier = (before, *(f"denselayer{j}" for j in range(1, i)))
        nodes.append(Sequential(name=f"denselayer{i}", layers=(
            Concat(name="cat", inputs=earlier),
            BatchNorm(name="norm1"), ReLU(name="relu1"),
            Conv(name="conv1", out=bn_size * growth, kernel=1, bias=False),
            BatchNorm(name="norm2"), ReLU(name="relu2"),
            Conv(name="conv2", out=growth, kernel=3, padding=1, bias=False))))
    nodes.append(Concat(name="cat", inputs=(before, *(f"denselayer{j}" for j in range(1, layers + 1)))))
    return Sequential(name=name, layers=tuple(nodes))


def densenet(growth: int = 32, blocks: tuple[int, ...] = (6, 12, 24, 16), init_features: int = 64, *,
             bn_size: int = 4, classes: int = 1000, resolution: int = 224, name: str | None = None) -> Net:
    """DenseNet-BC with growth rate `growth`, `blocks` dense layers per block, a stem of `init_features`.

    The defaults are DenseNet-121 (1 stem conv + 2 x 58 dense-layer convs + 3 transitions + 1 FC).

    >>> from cnncost import table
    >>> table(densenet(), batch=1).totals.params
    7978856
    """
    features: list[Node] = [Conv(name="conv0", out=init_features, kernel=7, stride=2, padding=3, bias=False),
                            BatchNorm(name="norm0"), ReLU(name="relu0"),
                            MaxPool(name="pool0", kernel=3, stride=2, padding=1)]
    channels = init_features
    for b, layers in enumerate(blocks, start=1):
        features.append(dense_block(f"denseblock{b}", layers, growth, bn_size, before=cast(str, features[-1].name)))
        channels += layers * growth
        if b < len(blocks):
            channels //= 2
            features.append(Sequential(name=f"transition{b}", layers=(
                BatchNorm(name="norm"), ReLU(name="relu"), Conv(name="conv", out=channels, kernel=1, bias=False),
                AvgPool(name="pool", kernel=2, stride=2))))
    features.append(BatchNorm(name="norm5"))
    depth = 2 * sum(blocks) + len(blocks) + 1
    return Net(name or f"densenet{depth}", (3, resolution, resolution),
               (Sequential(name="features", layers=tuple(features)), ReLU(name="relu"),
                GlobalAvgPool(name="avgpool"), Flatten(name="flatten"), Linear(name="classifier", out=classes)),
               notes=f"{TV} densenet{depth}: growth {growth}, blocks {blocks}, stem {init_features}, "
                     f"bottleneck {bn_size} x growth, compression 0.5")


# name: (growth rate, layers per block, stem channels, torchvision's params)
DENSENETS = {121: (32, (6, 12, 24, 16), 64, 7_978_856), 161: (48, (6, 12, 36, 24), 96, 28_681_000),
             169: (32, (6, 12, 32, 32), 64, 14_149_480), 201: (32, (6, 12, 48, 32), 64, 20_013_928)}
for _depth, (_growth, _blocks, _init, _params) in DENSENETS.items():
    register_arch(f"densenet{_depth}", source=f"{TV} densenet{_depth}", reference={"params": _params},
                  description=f"DenseNet-{_depth} (BC): growth {_growth}, dense blocks {_blocks}")(
        lambda g=_growth, b=_blocks, i=_init: densenet(g, b, i))
