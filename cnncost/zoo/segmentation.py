"""torchvision's semantic segmentation models, without their auxiliary heads: FCN and DeepLabV3 on a
dilated ResNet, DeepLabV3 and LR-ASPP on a dilated MobileNetV3-Large (docs/zoo-segmentation.md).

Each is a backbone, a head (`classifier`) and the final `F.interpolate` back to the input size
(bilinear, align_corners=False), a row of its own (`upsample`). Row paths are torchvision's module
paths: backbone.layer1.0.conv1, backbone.4.block.2.fc1, classifier.0.convs.4.1, classifier.cbr.0.

- Backbones: torchvision's ResNet-50/101 with `replace_stride_with_dilation=[False, True, True]`
  (output stride 8: layer3 and layer4 dilate their 3x3s by 2 and 4 instead of striding), cut after
  layer4; MobileNetV3-Large `features` with the last stage dilated (output stride 16).
- FCNHead: 3x3 conv to C/4, BN, ReLU, dropout 0.1, 1x1 conv to the classes.
- DeepLabHead: ASPP (a 1x1 conv, three 3x3 convs dilated 12, 24, 36, and a pooling branch, global
  average pool -> 1x1 conv -> BN -> ReLU -> bilinear upsample back to the map's size; concatenated,
  projected to 256 by a 1x1 conv, dropout 0.5), then 3x3 conv, BN, ReLU, 1x1 conv to the classes.
- LRASPPHead: two taps of the backbone (a real DAG): the high one (backbone.16, 960 ch, stride 16)
  through a 1x1 conv-BN-ReLU, gated by sigmoid(1x1 conv(global pool)) of itself, upsampled to the
  low tap's size (backbone.4, 40 ch, stride 8); each tap gets a 1x1 classifier, and they add.

The heads' ReLUs are not in place (torchvision's `nn.ReLU()`), except LR-ASPP's `cbr`.
"""
from __future__ import annotations

import dataclasses
from typing import Literal, cast

from ..errors import CnnCostError
from ..graph import compile
from ..layers import (Add, AdaptiveAvgPool, BatchNorm, Concat, Conv, Dropout, Mul, Node, ReLU, Sequential,
                      Sigmoid, Upsample)
from ..layers.base import suggest
from ..net import Net
from ..shapes import Shape
from ._torchvision import TV, numbered, sequential
from .mobilenet_v3 import mobilenet_v3
from .arch import register_arch
from .resnet import DEPTHS, resnet

RESOLUTION = 520  # torchvision's segmentation presets resize to 520
CLASSES = 21      # the Pascal VOC categories of torchvision's weights
Backbone = Literal["resnet50", "resnet101", "mobilenet_v3_large"]
BACKBONES = ("resnet50", "resnet101", "mobilenet_v3_large")
LOW_TAP = "4"  # MobileNetV3-Large features.4: the last block at output stride 8 (torchvision's C2)


def backbone(kind: Backbone) -> Sequential:
    """The dilated backbone, as torchvision's `IntermediateLayerGetter` keeps it, named `backbone`."""
    if kind not in BACKBONES:
        raise CnnCostError(f"unknown backbone {kind!r}" + suggest(str(kind), BACKBONES))
    if kind == "mobilenet_v3_large":
        features = cast(Sequential, mobilenet_v3("large", dilated=True).layers[0])
        return dataclasses.replace(features, name="backbone")
    net = resnet(depths=DEPTHS[int(kind[len("resnet"):])], stride_in="3x3", dilate=(False, True, True),
                 layout="torchvision", head=False)
    return Sequential(name="backbone", layers=net.layers)


def _two_input_upsample() -> bool:
    return Upsample.arity is None  # Upsample(inputs=[x, like]) resizes x to like's HxW


def _upsample_to(name: str, x: str, like: str, like_shape: Shape) -> Upsample:
    """`F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)`; x is the node
    just before (every use here).

    With a two-input Upsample the size follows `like` at any input; otherwise it is fixed to
    `like_shape`, the size at the resolution the net is built for."""
    if _two_input_upsample():
        return Upsample(name=name, inputs=(x, like), mode="bilinear", align_corners=False)
    return Upsample(name=name, size=tuple(like_shape[1:]), mode="bilinear", align_corners=False)


def fcn_head(in_channels: int, classes: int = CLASSES) -> Sequential:
    """torchvision's `FCNHead(in_channels, classes)`, named `classifier`."""
    return sequential("classifier", [
        Conv(out=in_channels // 4, kernel=3, padding=1, bias=False), BatchNorm(), ReLU(inplace=False),
        Dropout(p=0.1), Conv(out=classes, kernel=1)])


def _cbr(conv: Conv) -> list[Node]:
    return [conv, BatchNorm(), ReLU(inplace=False)]


def aspp(features: str, features_shape: Shape, rates: tuple[int, ...] = (12, 24, 36), out: int = 256,
         name: str = "0") -> Sequential:
    """torchvision's `ASPP`: parallel 1x1, dilated 3x3 and image-pooling branches (`convs`), concatenated
    and projected. `features` names the map the pooling branch is upsampled back to (the ASPP's input)."""
    branches: list[Node] = [sequential("0", _cbr(Conv(out=out, kernel=1, bias=False)))]
    branches += [sequential(str(i), _cbr(Conv(out=out, kernel=3, padding=rate, dilation=rate, bias=False)))
                 for i, rate in enumerate(rates, start=1)]
    pooling = numbered([AdaptiveAvgPool(output=1), *_cbr(Conv(out=out, kernel=1, bias=False))])
    branches.append(Sequential(name=str(len(rates) + 1), layers=(
        *pooling, _upsample_to("upsample", pooling[-1].name or "", features, features_shape))))
    project = sequential("project", [*_cbr(Conv(out=out, kernel=1, bias=False)), Dropout(p=0.5)])
    return Sequential(name=name, layers=(Concat(name="convs", branches=tuple(branches)), project))


def deeplab_head(features: str, features_shape: Shape, classes: int = CLASSES) -> Sequential:
    """torchvision's `DeepLabHead`: ASPP, then 3x3 conv-BN-ReLU and a 1x1 conv to the classes."""
    rest = [*_cbr(Conv(out=256, kernel=3, padding=1, bias=False)), Conv(out=classes, kernel=1)]
    return sequential("classifier", [aspp(features, features_shape), *rest])


def lraspp_head(low: str, low_shape: Shape, classes: int = CLASSES, inter: int = 128) -> Sequential:
    """torchvision's `LRASPPHead`: reads the backbone's output (the high tap) and `low`."""
    return Sequential(name="classifier", layers=(
        sequential("cbr", [Conv(out=inter, kernel=1, bias=False), BatchNorm(), ReLU()]),
        Sequential(name="scale", inputs=("backbone",), layers=numbered(
            [AdaptiveAvgPool(output=1), Conv(out=inter, kernel=1, bias=False), Sigmoid()])),
        Mul(name="mul", inputs=("cbr", "scale")),
        _upsample_to("upsample", "mul", low, low_shape),
        Conv(name="low_classifier", inputs=(low,), out=classes, kernel=1),
        Conv(name="high_classifier", inputs=("upsample",), out=classes, kernel=1),
        Add(name="add", inputs=("low_classifier", "high_classifier")),
    ))


def _shape(body: Sequential, resolution: int, path: str) -> Shape:
    """The output shape of block `path` of the backbone at a square input (for fixed-size resizes)."""
    graph = compile(Net("backbone", (3, resolution, resolution), (body,)))
    return next(block.output_shape for block in graph.blocks if block.path == path)


def segmentation(head: Literal["fcn", "deeplabv3", "lraspp"], kind: Backbone, *, classes: int = CLASSES,
                 resolution: int = RESOLUTION, name: str | None = None) -> Net:
    """torchvision's `<head>_<backbone>(weights=None, weights_backbone=None, aux_loss=False)`.

    >>> from cnncost import table
    >>> net = segmentation("fcn", "resnet50", resolution=64)
    >>> [n.name for n in net.layers], table(net, batch=1).rows[-1].output_shape
    (['backbone', 'classifier', 'upsample'], (21, 64, 64))
    """
    body = backbone(kind)
    out_shape = _shape(body, resolution, "backbone")
    if head == "fcn":
        if kind == "mobilenet_v3_large":
            raise CnnCostError("torchvision builds FCN on ResNet-50/101 only")
        top: Node = fcn_head(out_shape[0], classes)
    elif head == "deeplabv3":
        top = deeplab_head("backbone", out_shape, classes)
    elif head == "lraspp":
        if kind != "mobilenet_v3_large":
            raise CnnCostError("torchvision builds LR-ASPP on MobileNetV3-Large only")
        top = lraspp_head(f"backbone.{LOW_TAP}", _shape(body, resolution, f"backbone.{LOW_TAP}"), classes)
    else:
        raise CnnCostError(f"unknown head {head!r}" + suggest(str(head), ("fcn", "deeplabv3", "lraspp")))
    layers = (body, top, _upsample_to("upsample", "classifier", "input", (3, resolution, resolution)))
    return Net(name or f"{head}-{kind.replace('_', '-')}", (3, resolution, resolution), layers,
               notes=f"{TV} {head}_{kind}(weights=None, weights_backbone=None, aux_loss=False), "
                     f"{classes} classes; module paths as torchvision's")


# Reference params: sum(p.numel()) of the torchvision model (weights=None, weights_backbone=None,
# aux_loss=False); tests/zoo/test_zoo_segmentation.py compares params, MACs and every module with the fixture.
MODELS = {
    ("fcn", "resnet50"): 32_957_013, ("fcn", "resnet101"): 51_949_141,
    ("deeplabv3", "resnet50"): 39_638_869, ("deeplabv3", "resnet101"): 58_630_997,
    ("deeplabv3", "mobilenet_v3_large"): 11_025_477, ("lraspp", "mobilenet_v3_large"): 3_221_538,
}
DESCRIPTION = {"fcn": "FCN (FCNHead)", "deeplabv3": "DeepLabV3 (ASPP)", "lraspp": "LR-ASPP (two taps)"}
for (_head, _kind), _params in MODELS.items():
    _name = f"{_head}-{_kind.replace('_', '-')}"
    register_arch(_name, source=f"{TV} {_head}_{_kind} (aux_loss=False)", reference={"params": _params},
                  description=f"{DESCRIPTION[_head]} on a dilated {_kind.replace('_', '-')}, 3x520x520, "
                              f"21 classes")(
        lambda h=_head, k=_kind, n=_name: segmentation(h, k, name=n))
