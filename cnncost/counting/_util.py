"""Shapes and sizes of one node at a batch, as the counters see them (whole-batch tensors)."""
from __future__ import annotations

import dataclasses
from math import prod
from typing import TYPE_CHECKING, Any, cast

from ..shapes import spatial
from ..layers.conv import maps

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.base import Layer
    from ..layers.conv import Conv, ConvTranspose
    from ..layers.pool import AvgPool, MaxPool
    from ..layers.imported import Fixed


def on_inner(rules: Any) -> Any:
    """A `fixed` node's rule: the rule of the layer it wraps, on the node seen as that layer (its
    params stay 0: the weights are buffers)."""
    def rule(node: GraphNode, impl: Any, batch: int) -> int:
        inner = cast("Fixed", node.layer).inner
        return rules[type(inner)](dataclasses.replace(node, layer=inner), impl, batch)
    return rule


def x_of(node: GraphNode) -> tuple[int, ...]:
    """The (first) input's per-sample shape (a merge row shows its block's input instead)."""
    return node.input_shapes[0] if node.input_shapes else node.input_shape


def n_in(node: GraphNode, batch: int) -> int:
    return batch * prod(x_of(node))


def n_out(node: GraphNode, batch: int) -> int:
    return batch * prod(node.output_shape)


def kernel_area(node: GraphNode) -> int:
    """The kernel's elements per channel: kh x kw on a C x H x W map (one size per spatial dim)."""
    layer = cast("Conv | ConvTranspose | MaxPool | AvgPool", node.layer)
    return prod(spatial(layer.kernel, len(maps(layer, x_of(node))) - 1))


def channels(node: GraphNode) -> int:
    """The input channels of a conv or norm, as torch sees them: C of a `folded` layer's (k, C, ...)
    too (torch's (N*k, C, ...))."""
    return maps(cast("Layer", node.layer), x_of(node))[0]


def family(name: str) -> tuple[str, int | None]:
    """A torch.nn class name without its spatial rank: 'Conv3d' -> ('Conv', 3); 'Linear' -> ('Linear', None)."""
    if len(name) > 2 and name[-1] == "d" and name[-2] in "123":
        return name[:-2], int(name[-2])
    return name, None


def has_bias(node: GraphNode) -> bool:
    return bool(getattr(node.layer, "bias", False))


def macs(node: GraphNode, batch: int) -> int:
    """Conv, transposed conv and linear multiply-accumulates (the engine's), whole batch."""
    return batch * node.macs


def affine(node: GraphNode) -> bool:
    """A norm with a learnable scale and shift."""
    layer = node.layer
    return bool(getattr(layer, "affine", getattr(layer, "elementwise_affine", False)))

