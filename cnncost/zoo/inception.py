"""Inception v3 (Szegedy et al. 2015), Inception-v4 and Inception-ResNet-v2 (Szegedy et al. 2016).

The modules live in `_inception_blocks`; here are the three network layouts and their names.
Inception v3 follows torchvision's `inception_v3` (the released TF-slim model); Inception-v4 and
Inception-ResNet-v2 follow timm, which has the only PyTorch implementations. All take 299x299.
"""
from __future__ import annotations

from ..layers import Dropout, Flatten, GlobalAvgPool, Linear, MaxPool, Node, ReLU, Repeat, Sequential
from ..net import Net
from ._inception_blocks import (basic_conv, block8, block17, block35, inception_resnet_v2_5b,
                                inception_resnet_v2_7a, inception_v3_a, inception_v3_aux, inception_v3_b,
                                inception_v3_c, inception_v3_d, inception_v3_e, inception_v4_a,
                                inception_v4_b, inception_v4_c, inception_v4_stem, reduction_a, reduction_b)
from .arch import register_arch


def _head(classes: int, dropout: float, fc: str) -> list[Node]:
    """timm's head: global average pool -> flatten -> dropout -> linear."""
    return [GlobalAvgPool(name="global_pool"), Flatten(name="flatten"),
            Dropout(name="head_drop", p=dropout), Linear(name=fc, out=classes)]


def inception_v3(*, aux: bool = False, classes: int = 1000, resolution: int = 299,
                 name: str | None = None) -> Net:
    """Inception v3 as torchvision builds it; `aux` adds the auxiliary classifier after Mixed_6e.

    >>> from cnncost.zoo.inception import inception_v3
    >>> [n.name for n in inception_v3().layers][7:10]
    ['Mixed_5b', 'Mixed_5c', 'Mixed_5d']
    """
    layers: list[Node] = [
        basic_conv("Conv2d_1a_3x3", 32, 3, stride=2),
        basic_conv("Conv2d_2a_3x3", 32, 3),
        basic_conv("Conv2d_2b_3x3", 64, 3, padding=1),
        MaxPool(name="maxpool1", kernel=3, stride=2),
        basic_conv("Conv2d_3b_1x1", 80, 1),
        basic_conv("Conv2d_4a_3x3", 192, 3),
        MaxPool(name="maxpool2", kernel=3, stride=2),
        inception_v3_a("Mixed_5b", pool_proj=32),
        inception_v3_a("Mixed_5c", pool_proj=64),
        inception_v3_a("Mixed_5d", pool_proj=64),
        inception_v3_b("Mixed_6a"),
        inception_v3_c("Mixed_6b", c7=128),
        inception_v3_c("Mixed_6c", c7=160),
        inception_v3_c("Mixed_6d", c7=160),
        inception_v3_c("Mixed_6e", c7=192),
        *([inception_v3_aux(classes)] if aux else []),
        inception_v3_d("Mixed_7a"),
        inception_v3_e("Mixed_7b"),
        inception_v3_e("Mixed_7c"),
        # torchvision drops out before flattening; the counts are the same either way
        GlobalAvgPool(name="avgpool"), Dropout(name="dropout", p=0.5), Flatten(name="flatten"),
        Linear(name="fc", out=classes),
    ]
    return Net(name or f"inception-v3{'-aux' if aux else ''}", (3, resolution, resolution), tuple(layers),
               notes="torchvision inception_v3: the released model, whose stem (1x1 80, 3x3 192) and "
                     "5x5 branches differ from the paper's Table 1." +
                     (" The auxiliary classifier (AuxLogits) runs only in training; its costs are counted."
                      if aux else " No auxiliary classifier: the inference graph."))


def inception_v4(*, classes: int = 1000, resolution: int = 299, dropout: float = 0.2) -> Net:
    """Inception-v4: stem, 4 x A, reduction A, 7 x B, reduction B, 3 x C; timm's `inception_v4`.

    >>> from cnncost.zoo.inception import inception_v4
    >>> len(inception_v4().layers[0].layers)     # timm's features.0 ... features.21
    22
    """
    features: list[Node] = [
        *inception_v4_stem(),
        *(inception_v4_a(str(i)) for i in range(6, 10)),
        reduction_a("10", k=192, l=224, m=256, n=384),
        *(inception_v4_b(str(i)) for i in range(11, 18)),
        reduction_b("18"),
        *(inception_v4_c(str(i)) for i in range(19, 22)),
    ]
    return Net("inception-v4", (3, resolution, resolution),
               (Sequential(name="features", layers=tuple(features)), *_head(classes, dropout, "last_linear")),
               notes="timm inception_v4. Dropout keeps 0.8 as in the paper (timm's drop_rate defaults to 0); "
                     "the pool branches exclude padding from the mean, which changes values, not counts.")


def inception_resnet_v2(*, classes: int = 1000, resolution: int = 299, dropout: float = 0.2,
                        scales: tuple[float, float, float] = (0.17, 0.10, 0.20)) -> Net:
    """Inception-ResNet-v2: 10 x A, 20 x B, 10 x C residual inception blocks; timm's `inception_resnet_v2`.

    `scales` multiply the residual branches of the A, B and C blocks (the paper's section 3.3).
    """
    def repeat(name: str, times: int, block: Node) -> Repeat:
        # nn.ReLU() after the addition, not in place, as timm builds it
        return Repeat(name=name, times=times, layers=(block, ReLU(name="act", inplace=False)))

    layers: list[Node] = [
        basic_conv("conv2d_1a", 32, 3, stride=2),
        basic_conv("conv2d_2a", 32, 3),
        basic_conv("conv2d_2b", 64, 3, padding=1),
        MaxPool(name="maxpool_3a", kernel=3, stride=2),
        basic_conv("conv2d_3b", 80, 1),
        basic_conv("conv2d_4a", 192, 3),
        MaxPool(name="maxpool_5a", kernel=3, stride=2),
        inception_resnet_v2_5b(),
        repeat("repeat", 10, block35(scales[0])),
        reduction_a("mixed_6a", k=256, l=256, m=384, n=384),
        repeat("repeat_1", 20, block17(scales[1])),
        inception_resnet_v2_7a(),
        repeat("repeat_2", 9, block8(scales[2])),
        block8(1.0, name="block8"),      # the last C block: unscaled, no ReLU
        basic_conv("conv2d_7b", 1536, 1),
        *_head(classes, dropout, "classif"),
    ]
    return Net("inception-resnet-v2", (3, resolution, resolution), tuple(layers),
               notes="timm inception_resnet_v2 (the TF-slim model): its stem is Inception v3's, not the "
                     "paper's Figure 3 stem, and its widths (320, 1088, 2080) are not printed in the paper.")


register_arch("inception-v3", source="torchvision inception_v3(aux_logits=False)",
              description="Inception v3, 299x299, without the auxiliary classifier",
              reference={"params": 23_834_568})(lambda: inception_v3())
register_arch("inception-v3-aux", source="torchvision inception_v3 (default aux_logits=True)",
              description="Inception v3, 299x299, with the auxiliary classifier (training graph)",
              reference={"params": 27_161_264})(lambda: inception_v3(aux=True))
# torchvision's inception_v3() builds the aux classifier by default: the -tv twin is that network.
register_arch("inception-v3-tv", source="torchvision inception_v3() (aux_logits=True)",
              description="= inception-v3-aux: what torchvision's default constructor builds",
              reference={"params": 27_161_264})(lambda: inception_v3(aux=True, name="inception-v3-tv"))
register_arch("inception-v4", source="timm inception_v4",
              description="Inception-v4, 299x299", reference={"params": 42_679_816})(lambda: inception_v4())
register_arch("inception-resnet-v2", source="timm inception_resnet_v2",
              description="Inception-ResNet-v2, 299x299",
              reference={"params": 55_843_464})(lambda: inception_resnet_v2())
