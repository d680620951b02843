"""PyTorch's `torch.utils.flop_counter.FlopCounterMode` (torch 2.14.1), a forward pass in eval mode.

It counts aten operators that have a formula: `convolution` (2 x |output| x C_in/groups x kh x kw;
a transposed convolution on its input's positions), `addmm`, `mm`, `bmm` (2 x m x n x k) and
the fused attention kernels of CUDA. Per node that is exactly 2 x the engine's MACs of conv,
transposed conv, linear and matmul: bias additions, norms, activations, pooling, merges and
everything else count 0, whatever module or function computes them. Attention counts 2 x MACs
where PyTorch runs the composite math path (its bmm's) and 0 on the fused CPU kernel, which has no
formula (`training.sdpa_fused`: per-sample rank 2 or 3 and one head size; measured, torch 2.14.1).
An eval-mode pass does not run auxiliary classifiers (`side` blocks).

Its backward formulas are in `training.py` (`training(..., convention="flopcounter")`);
`FLOPCOUNTER_TRAIN` is that figure, forward + backward of one training step.
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
from .convention import ZERO, Convention, CountRule
from .training import sdpa_fused, training
from ..layers.rnn import LSTM

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.base import Layer
    from .impl import Impl


def gemm(node: GraphNode, impl: Impl, batch: int) -> int:
    """2 FLOPs per multiply-accumulate of the convolution or matmul."""
    return 2 * batch * node.macs


# The types FlopCounterMode's formulas cover (a shared call: its layer's, once per call), and the
# rest, which it counts 0.
GEMM_TYPES = (Conv, ConvTranspose, Linear, Shared)
NO_FORMULA: tuple[type[Layer], ...] = (ReLU, ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid, Hardtanh, Mish, Sigmoid, Tanh, GELU, Softmax,
              Identity, BatchNorm, LRN, LayerNorm, GroupNorm, InstanceNorm, MaxPool, AvgPool, AdaptiveAvgPool,
              AdaptiveMaxPool, GlobalAvgPool, Flatten, Dropout, Chunk, ChannelShuffle, PixelShuffle, PixelUnshuffle,
              Pad, CenterCrop, Upsample, LayerScale, StochasticDepth, Add, Mul, ConcatMerge, Opaque, Reshape)
NO_FORMULA += (Input,)  # a net's further inputs: arguments of forward, no op runs

NO_FORMULA += (ELU, SELU, CELU, GLU, Softplus, Softsign, Softshrink, Hardshrink, Tanhshrink, Threshold,
               LogSigmoid, PReLU,
               RReLU, Softmin, LogSoftmax, SplitHeads, MergeHeads)


def sdpa(node: GraphNode, impl: Impl, batch: int) -> int:
    """FlopCounterMode on CPU: the math path's bmm's (2 x MACs), 0 where the fused kernel runs."""
    return 0 if sdpa_fused(node) else gemm(node, impl, batch)


# views, element-wise ops with constants and parameters, reductions, stack: no formula
NO_FORMULA += (Permute, Transpose, Unflatten, Slice, Select, Expand, Contiguous, Split, Arith, Learnable, Affine,
               Reduce, Tokens, Sub, Div, Maximum, Minimum, Stack)
NO_FORMULA += (Unfold, Fold)  # im2col, col2im: copies
NO_FORMULA += (Unary,)  # sqrt, rsqrt, exp, log, ...: element-wise
NO_FORMULA += (Roll, UnfoldDim)  # aten.roll: a copy; aten.unfold: a view
NO_FORMULA += (GridSample,)  # aten.grid_sampler_2d/3d: no formula (RAFT's reference: convolution and bmm FLOPs only)
NO_FORMULA += (LSTM,)  # aten.mkldnn_rnn_layer (CPU), _cudnn_rnn: no formula (counting/rnn.py)
NO_FORMULA += (Embedding,)  # aten.embedding: a gather (torch 2.14.1 live: 0)
RULES: dict[type, CountRule] = {**dict.fromkeys(GEMM_TYPES, gemm), **dict.fromkeys(NO_FORMULA, ZERO)}
RULES.update({Matmul: gemm, Attention: sdpa})
RULES[Fixed] = gemm  # a convolution with buffer weights: aten.convolution all the same


def made_once(node: GraphNode, impl: Impl, batch: int) -> int:
    """x op c is element-wise (aten.add, mul...: no formula); making c, once per forward whatever
    the batch, runs convolutions and matmuls FlopCounterMode counts (the importer measured them
    with it: `macs_once`)."""
    return 2 * cast(Computed, node.layer).macs_once


RULES[Computed] = made_once

FLOPCOUNTER = Convention(
    "flopcounter", "FLOPs (2 per multiply-accumulate of conv and matmul)", __doc__, RULES, f"{__name__}.RULES",
    measured="torch 2.14.1 FlopCounterMode(display=False) around model.eval()(x) under no_grad")


def step(node: GraphNode, impl: Impl, batch: int) -> int:
    """A marker, not called: the node's forward + backward FLOPs from `training(convention="flopcounter")`."""
    raise AssertionError("flopcounter-train counts through training(); see tools.ops")


# A training step's forward and backward FLOPs are training()'s, which counts the matmul-like ops
# (a shared call counts 0 there): the rule follows the op property, stated once on the layer.
TRAIN_RULES: dict[type, CountRule] = {cls: step if cast("type[Layer]", cls).matmul_like else ZERO for cls in RULES}
TRAIN_RULES[Fixed] = step  # forward, and the input's gradient only (no weight gradient for a buffer)
TRAIN_RULES[Computed] = step  # making c: its forward and backward, once per step

FLOPCOUNTER_TRAIN = Convention(
    "flopcounter-train", "FLOPs (2 per multiply-accumulate), forward + backward of one training step",
    training.__doc__ or "", TRAIN_RULES, f"{__name__}.TRAIN_RULES",
    measured="torch 2.14.1 FlopCounterMode around model.train()(x) and loss.backward(), "
             "loss = sum of every output's sum")
