"""All-ops FLOPs: the GEMM work plus the element-wise work of every other layer, for an
inference forward pass (eval mode: batch norm uses its running statistics, dropout and stochastic
depth are the identity). One FLOP per add, multiply, compare, divide or transcendental (exp, log,
erf, tanh, sqrt) evaluated per element; per-channel or per-group constants (a norm's 1/sqrt(var +
eps)) and data movement (copies, concat, padding, views, shuffles, nearest upsampling) are not
counted. Reductions of K terms are counted as K (K - 1 adds and the divide of a mean).

| layer | FLOPs (|x| input, |y| output elements; per sample, times the batch) |
|---|---|
| conv, conv_transpose, linear | 2 x MACs (the GEMM convention: a multiply and an add per MAC) + |y| bias adds |
| batchnorm | 2 |x| (subtract the mean, multiply by the inverse std) + 2 |x| with affine (scale, shift) |
| layer_norm, group_norm, instance_norm | 6 |x| (mean: 1 add; variance: subtract, square, add; normalise: subtract, multiply) + 2 |x| with affine |
| lrn | (size + 5) |x| (square, window sum of size terms, x alpha, + k, power, divide) |
| relu | 1 |x| (max) |
| relu6, hardtanh, leaky_relu | 2 |x| (min and max; compare and multiply) |
| sigmoid | 3 |x| (exp, add, divide) |
| tanh | 1 |x| |
| silu | 4 |x| (sigmoid, multiply) |
| gelu | 5 |x| (scale, erf, add, halve, multiply) |
| hardsigmoid | 4 |x| (add 3, max, min, divide) |
| hardswish | 5 |x| (hardsigmoid, multiply) |
| mish | 5 |x| (exp, add, log, tanh, multiply) |
| softmax (over C) | positions x (3C - 1) (C exps, C - 1 adds, C divides) |
| maxpool | |y| x (kh kw - 1) comparisons |
| avgpool | |y| x kh kw (kh kw - 1 adds and a divide; padded positions included) |
| adaptive_avgpool, global_avgpool | C x (sum of the window heights) x (sum of the window widths): each window's elements (adds and the divide); global: |x| |
| adaptive_maxpool | the same sum minus |y| (comparisons) |
| upsample | nearest 0; bilinear 9 |y| (PyTorch's CPU kernel: 6 multiplies, 3 adds per output) |
| add | (k - 1) |y| for k inputs, + |y| with a scale |
| mul | |y| |
| layer_scale | |y| |
| concat, flatten, chunk, crop, pad, pixel (un)shuffle, channel_shuffle, identity, dropout, stochastic_depth | 0 |
| arith (with a constant), learnable, sub, div, maximum, minimum | |y| (`c / x`: 2 |y|, a reciprocal and a multiply) |
| affine | 2 |y| (multiply, add), |y| without bias |
| reduce | sum, amax, amin: |x| - |y| (K - 1 adds or compares per output); mean |x|; norm 2 |x| for p = 2 (square, add; the root), 3 |x| otherwise (abs, power, add) |
| permute, transpose, unflatten, slice, select, expand, contiguous, split, reshape, stack, tokens | 0 |
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.conv import Conv, ConvTranspose
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ._util import has_bias, kernel_area, n_in, n_out, x_of
from .convention import ZERO, Convention, CountRule

if TYPE_CHECKING:
    from ..graph import GraphNode


def _windows(size_in: int, size_out: int) -> int:
    """Sum of PyTorch's adaptive window lengths along one side: start = floor(i*in/out), end = ceil((i+1)*in/out)."""
    return sum(-(-((i + 1) * size_in) // size_out) - (i * size_in) // size_out for i in range(size_out))


def _gemm(node: GraphNode, impl: object, batch: int) -> int:
    return 2 * batch * node.macs + (n_out(node, batch) if has_bias(node) else 0)


def per_output(flops: int) -> CountRule:
    """`flops` per output element (element-wise ops)."""
    def rule(node: GraphNode, impl: object, batch: int) -> int:
        return flops * n_out(node, batch)
    return rule


def _batchnorm(node: GraphNode, impl: object, batch: int) -> int:
    return n_in(node, batch) * (4 if node.layer.affine else 2)


def _norm(node: GraphNode, impl: object, batch: int) -> int:
    layer = node.layer
    weighted = getattr(layer, "affine", getattr(layer, "elementwise_affine", False))
    return n_in(node, batch) * (8 if weighted else 6)


def _lrn(node: GraphNode, impl: object, batch: int) -> int:
    return n_in(node, batch) * (node.layer.size + 5)


def _arith(node: GraphNode, impl: object, batch: int) -> int:
    layer = node.layer
    return n_out(node, batch) * (2 if layer.op == "div" and layer.reverse else 1)


def _affine(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * (2 if node.layer.bias else 1)


def _reduce(node: GraphNode, impl: object, batch: int) -> int:
    op, n, m = node.layer.op, n_in(node, batch), n_out(node, batch)
    if op == "mean":
        return n
    if op == "norm":
        return n * (2 if node.layer.p == 2 else 3)
    return n - m


def _softmax(node: GraphNode, impl: object, batch: int) -> int:
    c = x_of(node)[0]
    return (n_in(node, batch) // c) * (3 * c - 1)


def _maxpool(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * (kernel_area(node) - 1)


def _avgpool(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * kernel_area(node)


def _adaptive_sum(node: GraphNode, batch: int) -> int:
    c, h, w = x_of(node)
    oh, ow = node.output_shape[1:]
    return batch * c * _windows(h, oh) * _windows(w, ow)


def _adaptive_avgpool(node: GraphNode, impl: object, batch: int) -> int:
    return _adaptive_sum(node, batch)


def _adaptive_maxpool(node: GraphNode, impl: object, batch: int) -> int:
    return _adaptive_sum(node, batch) - n_out(node, batch)


def _upsample(node: GraphNode, impl: object, batch: int) -> int:
    return 9 * n_out(node, batch) if node.layer.mode == "bilinear" else 0


def _add(node: GraphNode, impl: object, batch: int) -> int:
    m = n_out(node, batch)
    return (len(node.inputs) - 1) * m + (m if node.layer.scale != 1.0 else 0)


RULES: dict[type, CountRule] = {
    Conv: _gemm, ConvTranspose: _gemm, Linear: _gemm,
    ReLU: per_output(1), ReLU6: per_output(2), Hardtanh: per_output(2), LeakyReLU: per_output(2),
    Sigmoid: per_output(3), Tanh: per_output(1), SiLU: per_output(4), GELU: per_output(5),
    Hardsigmoid: per_output(4), Hardswish: per_output(5), Mish: per_output(5), LayerScale: per_output(1),
    Mul: per_output(1), Softmax: _softmax,
    BatchNorm: _batchnorm, LayerNorm: _norm, GroupNorm: _norm, InstanceNorm: _norm, LRN: _lrn,
    MaxPool: _maxpool, AvgPool: _avgpool, AdaptiveAvgPool: _adaptive_avgpool, GlobalAvgPool: _adaptive_avgpool,
    AdaptiveMaxPool: _adaptive_maxpool, Upsample: _upsample, Add: _add,
    # data movement and the identity in eval mode
    **dict.fromkeys((ConcatMerge, Flatten, Chunk, CenterCrop, Pad, PixelShuffle, PixelUnshuffle, ChannelShuffle,
                     Identity, Dropout, StochasticDepth, Reshape), ZERO),
    # an unknown op (its count is flagged unknown); a shared call counts 0 here, as it always has
    Opaque: ZERO, Shared: ZERO,
    # tensor ops: views, copies, stack and the tokens' cat move data; element-wise ops one per element
    **dict.fromkeys((Permute, Transpose, Unflatten, Slice, Select, Expand, Contiguous, Split, Stack, Tokens), ZERO),
    Arith: _arith, Learnable: per_output(1), Affine: _affine, Sub: per_output(1), Div: per_output(1),
    Maximum: per_output(1), Minimum: per_output(1), Reduce: _reduce,
}

ALLOPS = Convention("allops", "FLOPs (GEMM 2 per MAC + bias adds + element-wise work of every layer)", __doc__,
                    RULES, f"{__name__}.RULES")
