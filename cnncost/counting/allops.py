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
| softmax, softmin, log_softmax on dim d (C = its size) | positions x (3C - 1); softmin + |x| (negation); log_softmax positions x 3C |
| matmul | 2 x MACs |
| attention | 2 x MACs + one scale multiply per score (+ one add with a mask) + rows x (3S - 1) (the softmax) |
| elu 4, celu 5, selu 5, glu 4 (per output), softplus 5, softsign 3, softshrink 2, hardshrink 2, tanhshrink 2, threshold 1, log_sigmoid 4, prelu 2, rrelu 2 | per element |
| maxpool | |y| x (K - 1) comparisons, K = prod(kernel) (kh kw on a C x H x W map) |
| avgpool | |y| x K (K - 1 adds and a divide; padded positions included) |
| adaptive_avgpool, global_avgpool | C x the product over the spatial dims of the sum of the window lengths along each (heights x widths): each window's elements (adds and the divide); global: |x| |
| adaptive_maxpool | the same sum minus |y| (comparisons) |
| upsample | nearest 0; the linear modes 3 (2^r - 1) |y| on r spatial dims: linear 3, bilinear 9 (PyTorch's CPU kernel: 6 multiplies, 3 adds per output), trilinear 21; bicubic 35 |y| (4 cubic rows of 4 taps, then 4 taps across: 20 multiplies, 15 adds) |
| add | (k - 1) |y| for k inputs, + |y| with a scale |
| mul | |y| |
| layer_scale | |y| |
| concat, flatten, chunk, split_heads, merge_heads, crop, pad, pixel (un)shuffle, channel_shuffle, identity, dropout, stochastic_depth | 0 |
| arith (with a constant), learnable, sub, div, maximum, minimum | |y| (`c / x`: 2 |y|, a reciprocal and a multiply) |
| affine | 2 |y| (multiply, add), |y| without bias |
| reduce | sum, amax, amin, max(dim): |x| - |y| (K - 1 adds or compares per output); mean |x|; norm 2 |x| for p = 2 (square, add; the root), 3 |x| otherwise (abs, power, add) |
| permute, transpose, unflatten, slice, select, expand, contiguous, split, reshape, stack, tokens | 0 |
| grid_sample | 2 per grid coordinate (unnormalise: multiply, add) + per output element as upsample's mode (bilinear 9, trilinear 21, bicubic 35, nearest 0) |
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from ..layers.attention import Attention, Matmul, MergeHeads, SplitHeads
from ..layers.conv import Conv, ConvTranspose
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.inputs import Input
from ..layers.imported import Fixed
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ..layers.computed import Computed
from ..layers.unfold import Fold, Unfold
from ..layers.sample import GridSample
from ..layers.unary import Unary
from ..layers.moves import Roll, UnfoldDim
from ..layers.embedding import Embedding
from ._util import has_bias, kernel_area, n_in, n_out, on_inner, x_of
from ..shapes import numel
from .convention import ZERO, Convention, CountRule
from ..layers.rnn import LSTM
from .rnn import allops as lstm_allops

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
    return n_in(node, batch) * (4 if cast(BatchNorm, node.layer).affine else 2)


def _norm(node: GraphNode, impl: object, batch: int) -> int:
    layer = node.layer
    weighted = getattr(layer, "affine", getattr(layer, "elementwise_affine", False))
    return n_in(node, batch) * (8 if weighted else 6)


def _lrn(node: GraphNode, impl: object, batch: int) -> int:
    return n_in(node, batch) * (cast(LRN, node.layer).size + 5)


def _arith(node: GraphNode, impl: object, batch: int) -> int:
    layer = cast(Arith, node.layer)
    return n_out(node, batch) * (2 if layer.op == "div" and layer.reverse else 1)


def _affine(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * (2 if cast(Affine, node.layer).bias else 1)


def _reduce(node: GraphNode, impl: object, batch: int) -> int:
    layer = cast(Reduce, node.layer)
    op, n, m = layer.op, n_in(node, batch), n_out(node, batch)
    if op == "mean":
        return n
    if op == "norm":
        return n * (2 if layer.p == 2 else 3)
    if op == "var":  # the mean, then a subtraction, a square and a sum per element
        return 4 * n
    return n - m


def _softmax(node: GraphNode, impl: object, batch: int) -> int:
    c = x_of(node)[cast(Softmax, node.layer).dim]
    return (n_in(node, batch) // c) * (3 * c - 1)


def _softmin(node: GraphNode, impl: object, batch: int) -> int:
    """softmax(-x): one negation per element more."""
    return _softmax(node, impl, batch) + n_in(node, batch)


def _log_softmax(node: GraphNode, impl: object, batch: int) -> int:
    """x - log(sum(exp(x))): C exps, C - 1 adds, a log and C subtracts per position."""
    c = x_of(node)[cast(LogSoftmax, node.layer).dim]
    return (n_in(node, batch) // c) * 3 * c


def _attention(node: GraphNode, impl: object, batch: int) -> int:
    """2 x MACs (the two products), the scale (one multiply per score), a mask's add, and the
    softmax over each row of S scores (3S - 1)."""
    q, k = node.input_shapes[:2]
    rows, length = batch * (n_in(node, 1) // q[-1]), k[-2]
    extra = rows * length * (2 if len(node.input_shapes) == 4 else 1) + rows * (3 * length - 1)
    return 2 * batch * node.macs + extra


def _matmul(node: GraphNode, impl: object, batch: int) -> int:
    return 2 * batch * node.macs


def _maxpool(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * (kernel_area(node) - 1)


def _avgpool(node: GraphNode, impl: object, batch: int) -> int:
    return n_out(node, batch) * kernel_area(node)


def _adaptive_sum(node: GraphNode, batch: int) -> int:
    x = x_of(node)
    total = batch * x[0]
    for size_in, size_out in zip(x[1:], node.output_shape[1:]):
        total *= _windows(size_in, size_out)
    return total


def _adaptive_avgpool(node: GraphNode, impl: object, batch: int) -> int:
    return _adaptive_sum(node, batch)


def _adaptive_maxpool(node: GraphNode, impl: object, batch: int) -> int:
    return _adaptive_sum(node, batch) - n_out(node, batch)


def _upsample(node: GraphNode, impl: object, batch: int) -> int:
    """Linear interpolation along r dims: 2^r - 1 lerps per output, each 2 multiplies and an add."""
    mode = cast(Upsample, node.layer).mode
    if mode == "nearest":
        return 0
    if mode == "bicubic":  # separable: 4 rows of 4 taps, then 4 taps across (20 multiplies, 15 adds)
        return 35 * n_out(node, batch)
    return 3 * (2 ** (len(x_of(node)) - 1) - 1) * n_out(node, batch)


def _grid_sample(node: GraphNode, impl: object, batch: int) -> int:
    """Each grid coordinate unnormalised (a multiply and an add), then each output element
    interpolated as `upsample` counts its mode, on the grid's r spatial dims."""
    grid = node.input_shapes[1]
    rank = grid[-1]
    per_output = {"nearest": 0, "bicubic": 35}.get(cast(GridSample, node.layer).mode, 3 * (2 ** rank - 1))
    return 2 * batch * numel(grid) + per_output * n_out(node, batch)


def _fold(node: GraphNode, impl: object, batch: int) -> int:
    """col2im: one add per column element (into the zeroed map; those in the padding too)."""
    return n_in(node, batch)


def _add(node: GraphNode, impl: object, batch: int) -> int:
    m = n_out(node, batch)
    return (len(node.inputs) - 1) * m + (m if cast(Add, node.layer).scale != 1.0 else 0)


RULES: dict[type, CountRule] = {
    Conv: _gemm, ConvTranspose: _gemm, Linear: _gemm,
    ReLU: per_output(1), ReLU6: per_output(2), Hardtanh: per_output(2), LeakyReLU: per_output(2),
    Sigmoid: per_output(3), Tanh: per_output(1), SiLU: per_output(4), GELU: per_output(5),
    Hardsigmoid: per_output(4), Hardswish: per_output(5), Mish: per_output(5), LayerScale: per_output(1),
    Mul: per_output(1), Softmax: _softmax,
    ELU: per_output(4), CELU: per_output(5), SELU: per_output(5), GLU: per_output(4), Softplus: per_output(5),
    Softsign: per_output(3), Softshrink: per_output(2), Hardshrink: per_output(2), Tanhshrink: per_output(2),
    Threshold: per_output(1), LogSigmoid: per_output(4), PReLU: per_output(2), RReLU: per_output(2),
    Softmin: _softmin, LogSoftmax: _log_softmax, Matmul: _matmul, Attention: _attention,
    SplitHeads: ZERO, MergeHeads: ZERO,
    BatchNorm: _batchnorm, LayerNorm: _norm, GroupNorm: _norm, InstanceNorm: _norm, LRN: _lrn,
    MaxPool: _maxpool, AvgPool: _avgpool, AdaptiveAvgPool: _adaptive_avgpool, GlobalAvgPool: _adaptive_avgpool,
    AdaptiveMaxPool: _adaptive_maxpool, Upsample: _upsample, Add: _add,
    # data movement and the identity in eval mode
    **dict.fromkeys((ConcatMerge, Flatten, Chunk, CenterCrop, Pad, PixelShuffle, PixelUnshuffle, ChannelShuffle,
                     Identity, Dropout, StochasticDepth, Reshape), ZERO),
    # an unknown op (its count is flagged unknown); a shared call counts 0 here, as it always has
    Opaque: ZERO, Shared: ZERO,
    Input: ZERO,  # a net's further inputs: arguments of forward, no op runs
    # tensor ops: views, copies, stack and the tokens' cat move data; element-wise ops one per element
    **dict.fromkeys((Permute, Transpose, Unflatten, Slice, Select, Expand, Contiguous, Split, Stack, Tokens), ZERO),
    Arith: _arith, Learnable: per_output(1), Affine: _affine, Sub: per_output(1), Div: per_output(1),
    Maximum: per_output(1), Minimum: per_output(1), Reduce: _reduce,
    Computed: lambda node, impl, batch: 0 if cast(Computed, node.layer).op in ("expand", "weight", "tensor") else n_out(node, batch),  # x op c: one
    # per output element (making c, once per forward, is not counted); expand: a copy
    Unfold: ZERO, Fold: _fold,  # im2col copies; col2im adds every column element into the map
    Unary: per_output(1),  # one function evaluation per element
    Roll: ZERO, UnfoldDim: ZERO,  # a copy; a view
    GridSample: _grid_sample,
    Embedding: ZERO,  # a gather: rows copied, no arithmetic
}
RULES[Fixed] = on_inner(RULES)  # buffer weights: the same arithmetic as its layer's
RULES[LSTM] = lstm_allops  # the gates' products and the cell's element-wise work (counting/rnn.py)

ALLOPS = Convention("allops", "FLOPs (GEMM 2 per MAC + bias adds + element-wise work of every layer)", __doc__,
                    RULES, f"{__name__}.RULES")
