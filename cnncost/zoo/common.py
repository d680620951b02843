"""Small pieces shared by the Python families."""
from __future__ import annotations

from ..layers import BatchNorm, Conv, Dropout, Flatten, GlobalAvgPool, Linear, Node, ReLU


def conv_bn_act(name: str, out: int, kernel: int | tuple[int, int], stride: int = 1,
                padding: int | tuple[int, int] | None = None, groups: int = 1,
                act: type[Node] | None = ReLU) -> list[Node]:
    """conv (no bias) -> batchnorm -> activation, named <name>, <name>_bn, <name>_act.

    Padding defaults to kernel // 2 ("same" for odd kernels at any stride, as torchvision pads).
    """
    if padding is None:
        padding = (kernel[0] // 2, kernel[1] // 2) if isinstance(kernel, tuple) else kernel // 2
    layers: list[Node] = [Conv(name=name, out=out, kernel=kernel, stride=stride, padding=padding,
                               groups=groups, bias=False),
                          BatchNorm(name=f"{name}_bn")]
    if act is not None:
        layers.append(act(name=f"{name}_act"))
    return layers


def classifier(classes: int, dropout: float = 0.0, name: str = "fc") -> list[Node]:
    """Global average pool -> flatten -> (dropout) -> linear: the head since GoogLeNet."""
    layers: list[Node] = [GlobalAvgPool(name="avgpool"), Flatten(name="flatten")]
    if dropout:
        layers.append(Dropout(name="dropout", p=dropout))
    layers.append(Linear(name=name, out=classes))
    return layers
