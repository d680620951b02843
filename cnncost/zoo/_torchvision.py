"""Pieces shared by the families written after torchvision's own definitions.

They build nodes whose paths are torchvision's module paths: an `nn.Sequential`'s children are
named 0, 1, 2, ... and `Conv2dNormActivation` is a sequential of conv (0), norm (1), activation (2).
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, TypedDict

from ..layers import BatchNorm, Conv, Node, ReLU, Sequential

TV = "torchvision 0.29.1"


class NormArgs(TypedDict, total=False):
    """`conv_norm_act`'s batch-norm keywords, as a family passes them with `**`."""
    eps: float
    momentum: float


def numbered(nodes: Iterable[Node]) -> tuple[Node, ...]:
    """The nodes renamed 0, 1, 2, ...: the children of an `nn.Sequential`."""
    return tuple(dataclasses.replace(node, name=str(i)) for i, node in enumerate(nodes))


def sequential(name: str, nodes: Iterable[Node]) -> Sequential:
    """An `nn.Sequential` called `name` whose children are numbered."""
    return Sequential(name=name, layers=numbered(nodes))


def conv_norm_act(name: str, out: int, kernel: int, stride: int = 1, *, groups: int = 1, dilation: int = 1,
                  padding: int | None = None, act: type[Node] | None = ReLU, norm: bool = True,
                  eps: float = 1e-5, momentum: float = 0.1, bias: bool | None = None) -> Sequential:
    """torchvision's `Conv2dNormActivation`: conv (bias only without a norm), batch norm, activation.

    Padding defaults to `(kernel - 1) // 2 * dilation`, torchvision's rule.
    """
    padding = (kernel - 1) // 2 * dilation if padding is None else padding
    layers: list[Node] = [Conv(out=out, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                               groups=groups, bias=(not norm) if bias is None else bias)]
    if norm:
        layers.append(BatchNorm(eps=eps, momentum=momentum))
    if act is not None:
        layers.append(act())
    return sequential(name, layers)
