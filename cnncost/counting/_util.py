"""Shapes and sizes of one node at a batch, as the counters see them (whole-batch tensors)."""
from __future__ import annotations

import dataclasses
from math import prod
from typing import TYPE_CHECKING, Any

from ..shapes import pair

if TYPE_CHECKING:
    from ..graph import GraphNode


def on_inner(rules: Any) -> Any:
    """A `fixed` node's rule: the rule of the layer it wraps, on the node seen as that layer (its
    params stay 0: the weights are buffers)."""
    def rule(node: GraphNode, impl: Any, batch: int) -> int:
        inner = node.layer.inner
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
    kh, kw = pair(node.layer.kernel)
    return kh * kw


def has_bias(node: GraphNode) -> bool:
    return bool(getattr(node.layer, "bias", False))


def macs(node: GraphNode, batch: int) -> int:
    """Conv, transposed conv and linear multiply-accumulates (the engine's), whole batch."""
    return batch * node.macs


def affine(node: GraphNode) -> bool:
    """A norm with a learnable scale and shift."""
    layer = node.layer
    return bool(getattr(layer, "affine", getattr(layer, "elementwise_affine", False)))

