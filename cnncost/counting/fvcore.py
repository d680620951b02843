"""fvcore's `FlopCountAnalysis` (0.1.5.post20221221): a JIT trace in eval mode, one "flop" per
fused multiply-add, for the aten operators it has handles for. Per node:

| node | fvcore's handle | count |
|---|---|---|
| conv, conv_transpose | `aten::_convolution` | MACs (a transposed conv on its input's positions), no bias; 0 for `padding='same'` or `'valid'`: a string padding traces as `aten::_convolution_mode`, which has no handle |
| linear | `aten::linear` / `addmm` | MACs, no bias |
| batchnorm | `aten::batch_norm`, eval | |x| x 2 with affine, |x| without (also inside timm's BatchNormAct2d) |
| layer_norm, group_norm, instance_norm | `aten::layer_norm` / `group_norm` / `instance_norm` | |x| x 5 with affine, x 4 without |
| adaptive_avgpool, global_avgpool | `aten::adaptive_avg_pool2d` | |x|; 0 when the model calls `x.mean()` (aten::mean has no handle), and on a C x L or C x D x H x W map (`adaptive_avg_pool1d`/`3d` have none) |
| upsample | `aten::upsample_nearest2d` / `upsample_bilinear2d` | |y| nearest, 4 |y| bilinear; 0 on a C x L or C x D x H x W map (`upsample_nearest1d`/`3d`, `upsample_linear1d`, `upsample_trilinear3d` have none) and for bicubic (`upsample_bicubic2d` has none) |
| matmul | `aten::matmul` | prod(a's shape) x b's last dim (a broadcast first operand once) |
| attention | `aten::scaled_dot_product_attention`: no handle | 0 |
| anything else | (ignored or unsupported ops: max_pool2d, add_, relu and every activation, cat, mul...) | 0 |

Auxiliary classifiers (`side` blocks) are not traced in eval mode. A JIT trace keeps only what the
returned output depends on: layers that feed only another output of a multi-output graph (the
forward returns its main output) are dead code to fvcore and count 0.
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
from ..shapes import numel
from ._util import affine, macs, n_in, n_out, on_inner
from .convention import ZERO, Convention, CountRule
from ..layers.rnn import LSTM

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl


def _conv(node: GraphNode, impl: Impl, batch: int) -> int:
    if isinstance(cast(Conv, node.layer).padding, str):
        return 0  # aten::_convolution_mode: unsupported
    return macs(node, batch)


def _matmul(node: GraphNode, impl: Impl, batch: int) -> int:
    return macs(node, batch)


def a_rows_times_n(node: GraphNode, impl: Impl, batch: int) -> int:
    """aten::matmul's handle (ptflops' torch.matmul wrapper too): prod(a's shape) x b's last dim,
    a's shape as torch.matmul receives it (no expansion: a broadcast first operand counts once)."""
    a, b = node.input_shapes
    return batch * numel(a) * (b[-1] if len(b) > 1 else 1)


def _batchnorm(node: GraphNode, impl: Impl, batch: int) -> int:
    return n_in(node, batch) * (2 if affine(node) else 1)


def _norm(node: GraphNode, impl: Impl, batch: int) -> int:
    return n_in(node, batch) * (5 if affine(node) else 4)


def _adaptive_avgpool(node: GraphNode, impl: Impl, batch: int) -> int:
    return 0 if impl.kind == "method" or len(node.input_shape) != 3 else n_in(node, batch)


def _upsample(node: GraphNode, impl: Impl, batch: int) -> int:
    if len(node.input_shape) != 3:
        return 0
    return n_out(node, batch) * {"nearest": 1, "bilinear": 4}.get(cast(Upsample, node.layer).mode, 0)  # bicubic: no handle


def _grid_sampler(node: GraphNode, impl: Impl, batch: int) -> int:
    """aten::grid_sampler's handle, elementwise_flop_counter(0, 4) ("assume bilinear"): 4 |y|, any mode."""
    return 4 * n_out(node, batch)


RULES: dict[type, CountRule] = {
    Conv: _conv, ConvTranspose: _matmul, Linear: _matmul,
    BatchNorm: _batchnorm, LayerNorm: _norm, GroupNorm: _norm, InstanceNorm: _norm,
    AdaptiveAvgPool: _adaptive_avgpool, GlobalAvgPool: _adaptive_avgpool, Upsample: _upsample,
    # no handle: ignored or unsupported aten ops
    **dict.fromkeys((ReLU, ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid, Hardtanh, Mish, Sigmoid, Tanh, GELU,
                     Softmax, Identity, LRN, MaxPool, AvgPool, AdaptiveMaxPool, Flatten, Dropout, Chunk,
                     ChannelShuffle, PixelShuffle, PixelUnshuffle, Pad, CenterCrop, LayerScale, StochasticDepth,
                     Add, Mul, ConcatMerge, Opaque, Reshape), ZERO),
    Matmul: a_rows_times_n,
    # no handle: aten::scaled_dot_product_attention, prelu, glu, elu, softplus and the other activations
    **dict.fromkeys((Attention, SplitHeads, MergeHeads, ELU, SELU, CELU, GLU, Softplus, Softsign,
                     Softshrink, Hardshrink, Tanhshrink, Threshold, LogSigmoid, PReLU, RReLU, Softmin, LogSoftmax),
                     ZERO),
    # views, copies, element-wise ops and reductions: ignored ops or no handle (aten::permute, slice,
    # select, expand, cat, stack, add, sub, mul, div, pow, addcmul, maximum, sum, mean, amax, linalg_vector_norm;
    # aten::max(dim): ignored, 0, checked with fvcore live)
    **dict.fromkeys((Permute, Transpose, Unflatten, Slice, Select, Expand, Contiguous, Split, Arith, Learnable, Affine, Reduce, Tokens,
                     Sub, Div, Maximum, Minimum, Stack), ZERO),
    Shared: ZERO,  # a shared call counts 0 here (unlike flopcounter, which counts its layer's MACs)
    Input: ZERO,  # a net's further inputs: arguments of forward, no op runs
    # x op c: element-wise, no handle; making c, once per forward: its aten::linear, matmul, einsum and
    # _convolution are handled, one per MAC
    Computed: lambda node, impl, batch: cast(Computed, node.layer).macs_once,
    Unfold: ZERO, Fold: ZERO,  # aten::im2col, col2im: no handle
    Unary: ZERO,  # aten::sqrt, rsqrt, exp, log, reciprocal, abs, neg: no handle
    Roll: ZERO,  # aten::roll: among fvcore's ignored ops (jit_analysis._IGNORED_OPS)
    UnfoldDim: ZERO,  # aten::unfold: a view, no handle
    GridSample: _grid_sampler,
    Embedding: ZERO,  # aten::embedding: no handle (an unsupported op; checked with fvcore live)
}
RULES[Fixed] = on_inner(RULES)  # buffer weights: the aten.convolution is counted all the same
RULES[LSTM] = ZERO  # aten::lstm: no handle (counting/rnn.py)

FVCORE = Convention(
    "fvcore", "fvcore flops (one per fused multiply-add)", __doc__, RULES, f"{__name__}.RULES",
    measured="fvcore 0.1.5.post20221221 FlopCountAnalysis(model.eval(), x).total(), batch 1",
    traced=True)
