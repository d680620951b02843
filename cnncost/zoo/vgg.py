"""VGG (Simonyan & Zisserman 2014): 3x3 convs in stages that end in a 2x2/2 max pool.

One table of configurations (the paper's Table 1, columns A, B, D, E) and one builder.
"""
from __future__ import annotations

from ..layers import BatchNorm, Conv, Dropout, Flatten, Linear, MaxPool, Node, ReLU, Sequential
from ..net import Net
from .arch import register_arch

# Convolution widths per stage; every stage ends with a 2x2/2 max pool.
CONFIGS: dict[int, tuple[tuple[int, ...], ...]] = {
    11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    16: ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    19: ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}


def vgg(depth: int, *, batch_norm: bool = False, classes: int = 1000, resolution: int = 224,
        name: str | None = None) -> Net:
    """VGG-`depth` (11, 13, 16 or 19 weight layers) with the paper's 4096-4096-classes head.

    >>> from cnncost.zoo.vgg import vgg
    >>> vgg(16).layers[0].layers[0]
    Conv(name='conv1_1', out=64, kernel=3, stride=1, padding=1, dilation=1, groups=1, bias=True)
    """
    stages: list[Node] = []
    for s, widths in enumerate(CONFIGS[depth], start=1):
        layers: list[Node] = []
        for i, width in enumerate(widths, start=1):
            layers.append(Conv(name=f"conv{s}_{i}", out=width, kernel=3, padding=1))
            if batch_norm:
                layers.append(BatchNorm(name=f"bn{s}_{i}"))
            layers.append(ReLU(name=f"relu{s}_{i}"))
        layers.append(MaxPool(name=f"pool{s}", kernel=2, stride=2))
        stages.append(Sequential(name=f"stage{s}", layers=tuple(layers)))
    head: list[Node] = [Flatten(name="flatten")]
    for i in (6, 7):
        head += [Linear(name=f"fc{i}", out=4096), ReLU(name=f"relu{i}"), Dropout(name=f"drop{i}", p=0.5)]
    head.append(Linear(name="fc8", out=classes))
    return Net(name or f"vgg{depth}{'-bn' if batch_norm else ''}", (3, resolution, resolution),
               tuple(stages + head),
               notes="Simonyan & Zisserman 2014, Table 1; parameters equal torchvision's vgg*"
                     " (its 7x7 adaptive pool is the identity at 224x224).")


for _depth in CONFIGS:
    register_arch(f"vgg{_depth}", source="paper (= torchvision params)",
                  description=f"VGG-{_depth}: {sum(map(len, CONFIGS[_depth]))} convs in 5 stages + 3 FC")(
        lambda d=_depth: vgg(d))
    register_arch(f"vgg{_depth}-bn", source="torchvision vgg*_bn",
                  description=f"VGG-{_depth} with batch norm after every conv")(
        lambda d=_depth: vgg(d, batch_norm=True))
