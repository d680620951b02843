"""torchscan 0.2.0, `crawl_module(model, (C, H, W))`: module formulas on every call of a leaf
module, chosen by `isinstance` (subclasses count as their base), in eval mode under no_grad.
`NAME` gives its "Module-formula forward FLOPs" (`totals["module_flops"]`); `torchscan-macs` its
"Multiply-Accumulations" (`totals["macs"]`). Per node, n = |x| (input), m = |y| (output), whole
batch; k = the pooling module's `kernel_size` as stored: an int k stays k (not k x k, torchscan's
quirk), a pair multiplies out.

| node, as implemented | FLOPs | MACs |
|---|---|---|
| Conv1d/2d/3d | m x (2 C_in/g K - 1 + bias), K = prod(kernel) | m x C_in/g x K |
| ConvTranspose1d/2d/3d | 8 r + m x (2 C_in/g K - 1 + bias), on the output's positions (r spatial dims: 16 in 2-D) | 4 r + m x C_in/g x K |
| Linear (also channels-last) | m x (2 in - 1 + bias) | in x m |
| BatchNorm1d/2d/3d (leaf only: timm's BatchNormAct2d has children and counts 0) | 2C + 2n (+ 2n affine) | n (+ n affine) |
| LayerNorm, LayerNorm2d | 6n + 2 rows + n (weight) + n (bias); rows = n / prod(normalized_shape) | 0 |
| ReLU / ReLU6 / LeakyReLU / ELU / Tanh / nn.Sigmoid | n / 2n / 4n / 6n / 6n / 4n | 0 |
| MaxPool1d/2d/3d | m x (k - 1) | m x (k - 1) |
| AvgPool1d/2d/3d | m x (k - 1 + r): k + 1 in 2-D | the same |
| AdaptiveAvgPool1d/2d/3d / AdaptiveMaxPool1d/2d/3d | m x (prod(kernel) - 1 + r) / m x (prod(kernel) - 1); kernel per side = in // out if it divides, else in % out + 1 | the same |
| Dropout (p > 0, counted even in eval) | n | 0 |
| anything else (GELU, SiLU, Hardswish, Hardsigmoid, timm's Sigmoid, Softmax and the activations added since, GroupNorm, InstanceNorm, Upsample, pads, Identity, Flatten, matmul, attention, functions, operators) | 0 | 0 |
"""
from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, cast

from ..layers.imported import Fixed
from ._util import family, has_bias, kernel_area, n_in, n_out, on_inner, x_of
from ._util import channels
from .convention import Convention, CountRule
from .impl import DEFAULT
from .thop import in_features

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.conv import Conv, ConvTranspose
    from ..layers.linear import Dropout
    from ..layers.norm import BatchNorm, LayerNorm
    from .impl import Impl

ACTIVATIONS = {"ReLU": 1, "ReLU6": 2, "LeakyReLU": 4, "ELU": 6, "Tanh": 6, "Sigmoid": 4}


def _stored_kernel(layer) -> int:
    kernel = layer.kernel
    return prod(kernel) if isinstance(kernel, (tuple, list)) else kernel


def _adaptive_kernel(node: GraphNode) -> tuple[int, ...]:
    return tuple(i // o if i % o == 0 else i % o + 1 for i, o in zip(x_of(node)[1:], node.output_shape[1:]))


def module_flops(node: GraphNode, impl: Impl, batch: int) -> int:
    """torchscan's FLOPs formula for the leaf module that runs the node."""
    return _count(node, impl, batch, macs=False)


def module_macs(node: GraphNode, impl: Impl, batch: int) -> int:
    """torchscan's MACs formula for the leaf module that runs the node."""
    return _count(node, impl, batch, macs=True)


def _count(node: GraphNode, impl: Impl, batch: int, macs: bool) -> int:
    if impl.kind != "module" or not impl.leaf or impl.base is None:
        return 0
    base, layer = impl.base, node.layer
    stem, rank = family(base)
    n, m = n_in(node, batch), n_out(node, batch)
    if base == "Linear":
        width = in_features(node)
        return width * m if macs else m * (2 * width - 1 + has_bias(node))
    if stem in ("Conv", "ConvTranspose") and rank:
        terms = kernel_area(node) * (channels(node) // cast("Conv | ConvTranspose", layer).groups)
        extra = (4 if macs else 8) * rank if stem == "ConvTranspose" else 0  # padding arithmetic per spatial dim
        return extra + (m * terms if macs else m * (2 * terms - 1 + has_bias(node)))
    if stem == "BatchNorm" and rank:
        scale = 2 if cast("BatchNorm", layer).affine else 0
        if macs:
            return n * (1 + scale // 2)
        return 2 * channels(node) + 2 * n + scale * n
    if base == "LayerNorm":
        if macs:
            return 0
        shape = x_of(node)
        norm = cast("LayerNorm", layer)
        normalized = prod(norm.normalized(shape))
        weighted = (1 + norm.bias) if norm.elementwise_affine else 0  # one per weight, one per bias
        return 6 * n + 2 * (n // normalized) + weighted * n
    if base in ACTIVATIONS:
        return 0 if macs else ACTIVATIONS[base] * n
    if stem == "MaxPool" and rank:
        return m * (_stored_kernel(layer) - 1)
    if stem == "AvgPool" and rank:
        return m * (_stored_kernel(layer) - 1 + rank)
    if stem == "AdaptiveAvgPool" and rank:
        return m * (prod(_adaptive_kernel(node)) - 1 + rank)
    if stem == "AdaptiveMaxPool" and rank:
        return m * (prod(_adaptive_kernel(node)) - 1)
    if base == "Dropout":
        return 0 if macs or cast("Dropout", layer).p == 0 or impl.p0 else n
    return 0

# torchscan counts the module that runs a node (`impl`), not the layer type: every type that has an
# implementation (`impl.DEFAULT`) is counted by its module, and a module torchscan has no formula for
# counts 0 (not a leaf, no torch.nn base class, or a class without a formula).
RULES: dict[type, CountRule] = dict.fromkeys(DEFAULT, module_flops)
MACS_RULES: dict[type, CountRule] = dict.fromkeys(DEFAULT, module_macs)
RULES[Fixed], MACS_RULES[Fixed] = on_inner(RULES), on_inner(MACS_RULES)  # its layer's module, weights as buffers

TORCHSCAN = Convention("torchscan", "torchscan module-formula FLOPs", __doc__, RULES,
                       f"{__name__}.RULES (from cnncost.counting.impl.DEFAULT)",
                       measured="torchscan 0.2.0 crawl_module(model, (C,H,W))['totals']['module_flops']")
TORCHSCAN_MACS = Convention("torchscan-macs", "torchscan module-formula MACs", __doc__, MACS_RULES,
                            f"{__name__}.MACS_RULES (from cnncost.counting.impl.DEFAULT)",
                            measured="torchscan 0.2.0 crawl_module(model, (C,H,W))['totals']['macs']")
