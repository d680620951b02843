"""torchvision's twins of networks defined elsewhere in the zoo.

- `vgg_tv`: VGG as torchvision builds it, on the configurations of `vgg.CONFIGS`: one flat
  `features` sequential, an `AdaptiveAvgPool2d((7, 7))` (the identity at 224x224, but it keeps
  the classifier's 25088 inputs, and so the params, right at any input size) and a `classifier`
  sequential. Paths are torchvision's: features.0, ..., avgpool, classifier.0, ..., classifier.6.
- ResNeXt-101 (64x4d), from the ResNet builder with torchvision's paths (layer1.0.conv2,
  layer1.0.downsample.0). (EfficientNet-B2's twin at torchvision's crop is in efficientnet_v2.py.)
"""
from __future__ import annotations

from ..layers import AdaptiveAvgPool, BatchNorm, Conv, Dropout, Flatten, Linear, MaxPool, Node, ReLU
from ..net import Net
from ._torchvision import TV, sequential
from .arch import register_arch
from .resnet import DEPTHS, resnet
from .vgg import CONFIGS


def vgg_tv(depth: int, *, batch_norm: bool = False, classes: int = 1000, dropout: float = 0.5,
           resolution: int = 224, name: str | None = None) -> Net:
    """torchvision's `vgg<depth>[_bn]`: the paper's convs, a 7x7 adaptive pool, 4096-4096-classes.

    >>> from cnncost import table
    >>> table(vgg_tv(16), batch=1).totals.params
    138357544
    """
    features: list[Node] = []
    for widths in CONFIGS[depth]:
        for width in widths:
            features.append(Conv(out=width, kernel=3, padding=1))
            if batch_norm:
                features.append(BatchNorm())
            features.append(ReLU())
        features.append(MaxPool(kernel=2, stride=2))
    classifier = [Linear(out=4096), ReLU(), Dropout(p=dropout), Linear(out=4096), ReLU(), Dropout(p=dropout),
                  Linear(out=classes)]
    suffix = "-bn" if batch_norm else ""
    return Net(name or f"vgg{depth}{suffix}-tv", (3, resolution, resolution),
               (sequential("features", features), AdaptiveAvgPool(name="avgpool", output=7),
                Flatten(name="flatten"), sequential("classifier", classifier)),
               notes=f"{TV} vgg{depth}{'_bn' if batch_norm else ''}: module paths as torchvision's")


for _depth in CONFIGS:
    register_arch(f"vgg{_depth}-tv", source=f"{TV} vgg{_depth}",
                  description=f"VGG-{_depth} as torchvision builds it: 7x7 adaptive pool before the classifier")(
        lambda d=_depth: vgg_tv(d))
    register_arch(f"vgg{_depth}-bn-tv", source=f"{TV} vgg{_depth}_bn",
                  description=f"VGG-{_depth} with batch norm, as torchvision builds it (7x7 adaptive pool)")(
        lambda d=_depth: vgg_tv(d, batch_norm=True))

register_arch("resnext101-64x4d", source=f"{TV} resnext101_64x4d", reference={"params": 83_455_272},
              description="ResNeXt-101 (64x4d)")(
    lambda: resnet(depths=DEPTHS[101], groups=64, width_per_group=4, stride_in="3x3", layout="torchvision",
                   name="resnext101-64x4d"))
