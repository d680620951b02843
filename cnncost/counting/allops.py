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
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._util import has_bias, kernel_area, n_in, n_out, x_of

if TYPE_CHECKING:
    from ..graph import GraphNode

NAME = "allops"
UNIT = "FLOPs (GEMM 2 per MAC + bias adds + element-wise work of every layer)"

PER_ELEMENT = {"relu": 1, "relu6": 2, "hardtanh": 2, "leaky_relu": 2, "sigmoid": 3, "tanh": 1, "silu": 4, "gelu": 5,
               "hardsigmoid": 4, "hardswish": 5, "mish": 5, "layer_scale": 1, "mul": 1}
FREE = {"concat", "flatten", "chunk", "crop", "pad", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle",
        "identity", "dropout", "stochastic_depth", "input"}


def _windows(size_in: int, size_out: int) -> int:
    """Sum of PyTorch's adaptive window lengths along one side: start = floor(i*in/out), end = ceil((i+1)*in/out)."""
    return sum(-(-((i + 1) * size_in) // size_out) - (i * size_in) // size_out for i in range(size_out))


def node_ops(node: GraphNode, impl: object, batch: int) -> int:
    kind, layer = node.type, node.layer
    if kind in ("conv", "conv_transpose", "linear"):
        return 2 * batch * node.macs + (n_out(node, batch) if has_bias(node) else 0)
    n, m = n_in(node, batch), n_out(node, batch)
    if kind in PER_ELEMENT:
        return PER_ELEMENT[kind] * m
    if kind == "batchnorm":
        return n * (4 if layer.affine else 2)
    if kind in ("layer_norm", "group_norm", "instance_norm"):
        weighted = getattr(layer, "affine", getattr(layer, "elementwise_affine", False))
        return n * (8 if weighted else 6)
    if kind == "lrn":
        return n * (layer.size + 5)
    if kind == "softmax":
        c = x_of(node)[0]
        return (n // c) * (3 * c - 1)
    if kind == "maxpool":
        return m * (kernel_area(node) - 1)
    if kind == "avgpool":
        return m * kernel_area(node)
    if kind in ("adaptive_avgpool", "global_avgpool", "adaptive_maxpool"):
        c, h, w = x_of(node)
        oh, ow = node.output_shape[1:]
        summed = batch * c * _windows(h, oh) * _windows(w, ow)
        return summed - m if kind == "adaptive_maxpool" else summed
    if kind == "upsample":
        return 9 * m if layer.mode == "bilinear" else 0
    if kind == "add":
        k = len(node.inputs)
        return (k - 1) * m + (m if layer.scale != 1.0 else 0)
    if kind in FREE:
        return 0
    return 0
