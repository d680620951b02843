"""The memory model's rule per layer type: what PyTorch's autograd saves for the layer's backward,
and the tensor it returns (the input itself for views and in-place ops). Measured rules:
docs/memory.md (torch 2.13 CPU unless a rule says otherwise).

A rule is `rule(layer, x, xs, y, b)`: the input tensor `x` of per-sample shape `xs`, the output
shape `y` and the `StepBuilder` b; a multi-input layer (arity None) gets the list of its input
tensors and the tuple of their shapes. One entry per layer class in `RULES`;
`tests/layers/test_completeness.py` names any class without one.
"""
from __future__ import annotations

from typing import Any, Callable

from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from ..layers.attention import Attention, Matmul, MergeHeads, SplitHeads
from .sdpa_layout import fused_output_strides, split_heads_view
from .sdpa_layout import mask_folds, sdpa_fused
from .activation_rules import glu, input_and_new, new_of_input, prelu, rrelu
from ..layers.base import Layer
from ..layers.pass_rules import rule_in
from ..layers.strides import BATCH, compute_stride, folds_rows
from ..layers.conv import Conv, ConvTranspose
from ..layers.conv import maps
from .folded import on_folded_maps
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.inputs import Input
from ..layers.imported import Fixed
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..shapes import Shape, numel, spatial
from .builder import StepBuilder
from .tensor_rules import (affine, arith, binary, contiguous as contiguous_rule, im2col, learnable, reduce, stack,
                           tokens, unary, view)
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ..layers.unfold import Fold, Unfold
from ..layers.unary import Unary
from .tensors import Tensor, promote
from ..layers.computed import Computed
from ..layers.moves import Roll, UnfoldDim
from .computed_rules import computed
from ..layers.sample import GridSample
from .sample_rules import grid_sample
from .fixed_operand import batch_free, by_table_rows, cast, folded_rows
from ..layers.rnn import LSTM
from .rnn_rules import lstm
from ..layers.embedding import Embedding
from .tensor_rules import embedding

MemoryRule = Callable[[Any, Any, Any, Shape, StepBuilder], Tensor]


# --- matmuls: conv, transposed conv, linear ---

def save_matmul(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder, addmm: bool = False,
                read: Tensor | None = None) -> Tensor:
    """Conv, transposed conv and linear: the input (cast to the low dtype under autocast: a new
    tensor) and the weight (under autocast a low copy, which autocast caches); the bias is not
    needed. A linear (`addmm=True`) saves the weight only to compute its input's gradient: with an
    input that needs none, the weight's copy is not saved (it lives in autocast's cache only). A
    convolution always saves both (measured, torch 2.13 CPU). A weight a `computed` row made (`read`:
    what the layer read, x's original) is cast anew each forward, not cached, and saved as an activation."""
    precision = b.precision
    low = precision.matmul_dtype
    if b.trainable or not addmm:  # --freeze: a frozen linear's input is needed by no gradient (a conv saves it)
        b.save(b.cast(x, low))
    else:
        b.cast(x, low)
    if b.step.params:  # its weight and bias, one by one (CPU Adam's temporaries: optimizer_step.py)
        b.step.param_tensors = (b.step.params - layer.out, layer.out) if layer.bias else (b.step.params,)
    if precision.autocast:  # the parameters' low copies (nothing to record otherwise)
        # (whether the input needs a gradient: what the layer read, not the copy it made of it in a step with grad)
        bias, saves_weight = layer.out if layer.bias else 0, (x if read is None else read).requires_grad or not addmm
        if (x if read is None else read) is not b.made_weight:
            b.cast_params(layer.params(xs) - bias, bias, saves_weight)
            return b.like(x, y, low)
        if saves_weight:  # (measured, torch 2.13 CPU bf16)
            b.step.saved.append(b.new(0, low, fixed=layer.params(xs) - bias))
        b.cast_params(0, bias, weight_saved=False)
    return b.like(x, y, low)


def _conv(layer: Conv, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (cast to the low dtype under autocast) and weight, as `save_matmul`. With an odd
    'same' padding the saved input is the padded copy: cast first, then padded (new), and x
    itself is not saved by the conv."""
    rank = len(maps(layer, xs)) - 1  # a folded conv pads each of its maps
    extra = layer.same_extra(rank) if layer.padding == "same" else ()
    if any(extra):
        low = b.precision.matmul_dtype
        b.cast(x, low)  # under autocast a new low copy, padded next
        padded = b.new(numel(xs[:-rank]) * numel(tuple(size + more for size, more in zip(xs[-rank:], extra))), low)
        return save_matmul(layer, padded, xs, y, b, read=x)
    return on_folded_maps(layer, x, xs, save_matmul(layer, x, xs, y, b), y)


def _conv_transpose(layer: ConvTranspose, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """As a convolution: input (a low cast under autocast) and weight (a low copy), even when
    the input needs no gradient; the output is new, in the matmul dtype."""
    return save_matmul(layer, x, xs, y, b)


def _linear(layer: Linear, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """As `save_matmul`. On an input of rank 3 or more (with the batch) that is not contiguous,
    `torch.matmul` folds it into rows with `reshape`: where its strides allow no such view (a
    transposed token map), the rows are a new copy, and the copy is what is saved (measured,
    torch 2.13 CPU)."""
    read = x
    if len(xs) >= 2 and x.dtype == b.precision.matmul_dtype and not folds_rows(xs, x.batch_layout(xs)):
        x = b.like(x)  # (a cast under autocast is a new contiguous tensor, which folds)
    return save_matmul(layer, x, xs, y, b, addmm=True, read=read)


# --- activations: relu its output (in place: the input's storage); leaky_relu its input out of
# place, its output in place; relu6, silu, hardswish, hardsigmoid, hardtanh and mish their input
# (in place: a copy of it, taken before it is overwritten); sigmoid, tanh and softmax their new
# output; gelu its input; identity nothing ---

def _save_output(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Output; in place that is the input's storage, shared with whoever saves it next."""
    out = x if layer.inplace else b.like(x)
    b.save(out)
    return out


def _save_input(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input. In place, autograd saves a copy of the input before overwriting it."""
    if layer.inplace:
        b.save(b.like(x))
        return x
    b.save(x)
    return b.like(x)


def _save_new_output(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    out = b.like(x)
    b.save(out)
    return out


def _leaky_relu(layer: LeakyReLU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Out of place its input (LeakyReluBackward0 keeps `self`); in place its output, which
    is the input's storage (LeakyReluBackward1 keeps `result`)."""
    if layer.inplace:
        return _save_output(layer, x, xs, y, b)
    b.save(x)
    return b.like(x)


def _gelu(layer: GELU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    b.save(x)
    return b.like(x)


def _softmax(layer: Softmax, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Its output. CUDA's autocast runs softmax in fp32 (a low input is cast first, the
    output is fp32); CPU's runs it in the input's dtype."""
    if b.precision.autocast and b.precision.device == "cuda":
        x = b.cast(x, "fp32")
    return _save_new_output(layer, x, xs, y, b)


def _itself(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x itself: no tensor, nothing saved."""
    return x


# --- norms: the input and a mean and an inverse std per normalised group; group and instance
# norm save a contiguous copy of a view (a chunk or crop) instead of the view ---

def stat_dtype(x: Tensor, b: StepBuilder, weighted: bool) -> str:
    """The dtype of a norm's saved mean and inverse std. PyTorch's norms keep them in fp32 for a
    bf16/fp16 input only when an fp32 tensor takes part ("mixed type": an affine weight, BN's
    running statistics); otherwise in the input's dtype. Measured for batch, layer, group and
    instance norm, torch 2.13 CPU."""
    if not weighted:
        return x.dtype
    param = b.precision.param_dtype
    if x.dtype == param:
        return param
    return promote(x.dtype, param)


def fp32_on_cuda(x: Tensor, b: StepBuilder) -> Tensor:
    """CUDA's autocast runs layer_norm and group_norm in fp32 (its fp32 op list): a low input is
    cast to a new fp32 copy, which is what the op saves. CPU's autocast leaves them alone."""
    if b.precision.autocast and b.precision.device == "cuda":
        return b.cast(x, "fp32")
    return x


def _batchnorm(layer: BatchNorm, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input, plus the batch mean and inverse std per channel: fp32 under autocast where an fp32
    weight or running statistics take part, else the input's dtype (fp64 in fp64; issue 19: bf16
    without either). Folded ((N*k, C, ...) in torch), the statistics are still one per channel."""
    weighted = layer.affine or layer.track_running_stats
    b.save(x, b.new(0, stat_dtype(x, b, weighted=weighted), fixed=2 * maps(layer, xs)[0]))
    return b.like(x)  # y is x's shape


def _lrn(layer: LRN, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """PyTorch's composite `local_response_norm`: x / (k + alpha * avg_pool(pad(x^2)))^beta saves
    the input, the channel-padded square (C + size - 1 channels), the base of the power and the
    power. Under autocast the power runs in fp32 (so does the output), and on CPU the pooling
    too (avg_pool2d on a C x L map, avg_pool3d on the others)."""
    wide = promote(x.dtype, "fp32") if b.precision.autocast else x.dtype
    if len(xs) == 2 and b.precision.device == "cpu":  # avg_pool2d: CPU's autocast leaves it (and all after it) low
        wide = x.dtype
    padded_dtype = wide if b.precision.device == "cpu" else x.dtype
    padded = b.new((xs[0] + layer.size - 1) * numel(xs[1:]), padded_dtype)
    base, power = b.like(x, dtype=wide), b.like(x, dtype=wide)
    b.save(x, padded, base, power)
    return b.like(x, dtype=wide)


def _layer_norm(layer: LayerNorm, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (for `channels` the NHWC view of it: the same storage), and a mean and an rstd
    per normalised group: H·W per sample (channels) or 1 (chw); fp32 with an affine weight
    under autocast, else the input's dtype. Output new, in the input's dtype (CUDA autocast:
    fp32, see `fp32_on_cuda`)."""
    x = fp32_on_cuda(x, b)
    groups = layer.groups(xs)
    b.save(x, b.new(2 * groups, stat_dtype(x, b, layer.elementwise_affine)))
    return b.like(x)


def _group_norm(layer: GroupNorm, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (torch 2.13: a contiguous copy of a view; 2.14 saves the view itself, which keeps its
    whole base), and a mean and an rstd per group and sample, fp32 with an affine weight under
    autocast, else the input's dtype. Output new (measured, torch 2.13 and 2.14.1 CPU)."""
    if not x.contiguous and b.precision.torch < (2, 14):  # a channels-last map is used as it is
        x = b.contiguous(x, xs)
    x = fp32_on_cuda(x, b)
    b.save(x, b.new(2 * layer.groups, stat_dtype(x, b, layer.affine)))
    return b.like(x)


def _instance_norm(layer: InstanceNorm, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """PyTorch runs batch_norm on the (1, N·C, H, W) reshape of the input (a copy of a view),
    which saves it with a mean and an inverse std per channel and sample, plus per-sample
    repeats of the weight (affine) and of both running statistics (track_running_stats):
    (2 + affine + 2·track) x C per sample, fp32 with affine under autocast, else the input's
    dtype (the running statistics are cast to it)."""
    x = b.contiguous(x, xs)
    count = 2 + (1 if layer.affine else 0) + (2 if layer.track_running_stats else 0)
    channels = xs[0] * xs[1] if layer.folded else xs[0]  # folded: k maps of C channels each per sample
    b.save(x, b.new(count * channels, stat_dtype(x, b, layer.affine)))
    return b.like(x)


# --- pools ---

def fp32_pool_on_cpu(x: Tensor, xs: Shape, b: StepBuilder) -> Tensor:
    """CPU's autocast runs the 3-D pools (max, avg, adaptive avg and max) in fp32: a low input is
    cast to a new fp32 copy, which the pool saves, and its output is fp32 (measured, torch 2.13
    CPU; the 1-D and 2-D pools run in the input's dtype). `xs`: the map (`maps`: one of a folded pool's)."""
    if len(xs) == 4 and b.precision.autocast and b.precision.device == "cpu":
        return b.cast(x, "fp32")
    return x


def _save_input_and_indices(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input, and the argmax of every output element as int64 (max pools; the adaptive one at
    every output size, 1x1 included: unlike the average, PyTorch has no shortcut for it)."""
    x = fp32_pool_on_cpu(x, maps(layer, xs), b)
    b.save(x, b.new(numel(y), "int64"))
    return on_folded_maps(layer, x, xs, b.like(x, y), y)


def _avgpool(layer: AvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (its backward reads only the shape, but the input is what autograd saves)."""
    x = fp32_pool_on_cpu(x, maps(layer, xs), b)
    b.save(x)
    return on_folded_maps(layer, x, xs, b.like(x, y), y)


def _adaptive_avgpool(layer: AdaptiveAvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input; to 1 (1x1, 1x1x1) PyTorch computes a mean instead, which saves nothing."""
    x = fp32_pool_on_cpu(x, xs, b)
    if set(spatial(layer.output, len(xs) - 1)) != {1}:
        b.save(x)
    return b.like(x, y)


def _global_avgpool(layer: GlobalAvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A mean: nothing saved; on a 3-D map under CPU's autocast, of an fp32 copy (`fp32_pool_on_cpu`)."""
    return b.like(fp32_pool_on_cpu(x, xs, b), y)


def _new_output(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A new output tensor; nothing saved (the backward needs only the sizes: a global mean,
    pixel (un)shuffle, upsampling)."""
    return b.like(x, y)


# --- moving elements ---

def _flatten(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A view of its input: same storage, nothing saved (where PyTorch cannot view it flat, a
    crop or a channels-last map, it copies: `StepBuilder.reshape`)."""
    return b.reshape(x, y, xs)


def _dropout(layer: Dropout, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A mask: bool from CUDA's fused kernel (out of place, 0 < p < 1); elsewhere (CPU, in
    place) a scaled noise tensor in the input's dtype. p = 1 multiplies by a 0-d zero: that
    scalar is saved (one element, on both devices: the fused kernel needs p < 1). p = 0
    returns the input itself."""
    if layer.p == 0:
        return x
    if layer.p == 1:
        b.save(b.new(0, x.dtype, fixed=1))
    else:
        fused = b.precision.device == "cuda" and not layer.inplace
        b.save(b.like(x, dtype="bool" if fused else None))
    return x if layer.inplace else b.like(x)




def _channel_shuffle(layer: ChannelShuffle, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A copy in the shuffled order; with 1 group or one channel per group the transpose only
    swaps a size-1 dimension, and `contiguous()` returns a contiguous input itself (a view of
    its storage) and copies a view or a channels-last map (measured)."""
    if layer.groups in (1, xs[0]):
        return b.contiguous(x, xs)
    return b.like(x)


def _pad(layer: Pad, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Zeros or a constant: nothing saved (its backward slices). Reflect and replicate: its input; CPU's
    autocast runs reflection_pad1d/2d and replication_pad1d/2d/3d in fp32 (not reflection_pad3d),
    so a low input is first cast to a new fp32 copy, that copy is saved and the output is fp32
    (CUDA's autocast leaves them in the input's dtype)."""
    if layer.mode in ("zeros", "constant"):  # constant_pad_nd: on no autocast list either
        return b.like(x, y)
    fp32 = layer.mode == "replicate" or layer.padded_dims(xs) < 3
    if fp32 and b.precision.autocast and b.precision.device == "cpu":
        x = b.cast(x, "fp32")
    b.save(x)
    return b.like(x, y)


def _crop(layer: CenterCrop, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """A view of the first input (itself when nothing is cropped), with the input's strides:
    whether a later flatten can view it depends on them (`StepBuilder.reshape`)."""
    return b.view(xs[0], y, "strided", strides=xs[0].map_strides(shapes[0]))


def _layer_scale(layer: LayerScale, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Its input (for the parameter's gradient; the parameter, saved for the input's, is not an
    activation). The product follows type promotion, not autocast: a bf16 x times the fp32
    parameter is a new fp32 tensor, so under autocast the residual stream after it is fp32."""
    if b.trainable:  # --freeze: a frozen parameter needs no gradient, so x is not saved
        b.save(x)
    return b.like(x, dtype=promote(x.dtype, b.precision.param_dtype))


def _stochastic_depth(layer: StochasticDepth, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """`input * noise`: the noise is saved (one element per sample for row, one in all for
    batch, in the input's dtype), the input is not (the noise needs no gradient). p = 0
    returns the input itself."""
    if layer.p == 0:
        return x
    b.save(b.new(1, x.dtype) if layer.mode == "row" else b.new(0, x.dtype, fixed=1))
    return b.like(x)


# --- merges ---

def _new_merged(layer: Any, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """A new tensor, nothing saved: an add's gradient passes through unchanged (a scale by a
    Python float neither); a concat's backward only slices."""
    return b.new(numel(y), promote(*(t.dtype for t in xs)))


def _mul(layer: Mul, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """Each operand is the other's gradient factor: both saved (one storage when x * x).
    An operand that needs no gradient does not need the other one saved."""
    x, g = xs
    if g.requires_grad:
        b.save(x)
    if x.requires_grad:
        b.save(g)
    return b.new(numel(y), promote(x.dtype, g.dtype))


# --- imported graphs ---

def _opaque(layer: Opaque, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """Unknown: a new output tensor of the traced shape; nothing saved (flagged unknown)."""
    return b.new(numel(y), promote(*(t.dtype for t in xs)))


def _shared(layer: Shared, x: Any, xs: Any, y: Shape, b: StepBuilder) -> Tensor:
    """The inner layer's rule. Its parameters need gradients even when its input does not
    (the graph's builder decides from params, which are 0 here); under autocast their low copies
    are those the owner `of` cast (autocast's cache): cast and saved once per forward."""
    b.grad, b.owner, inner = b.grad or b.trainable, layer.of, layer.inner  # its parameters' casts: the owner's
    out = rule_for(inner)(inner, x, xs, y, b)
    b.owner = None
    return out


def _fixed(layer: Fixed, x: Any, xs: Any, y: Shape, b: StepBuilder) -> Tensor:
    """The inner layer's rule: a convolution saves its input and its weight, buffer or not
    (measured, torch 2.13 CPU); its output needs a gradient only if its input does. Autocast
    caches casts of parameters only: a buffer's low copy is made each forward, saved as an activation."""
    inner, before, b.made_weight = layer.inner, b.made_weight, x
    out = rule_for(inner)(inner, x, xs, y, b)
    b.made_weight, b.step.new_casts = before, 0
    return out


def _reshape(layer: Reshape, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    return b.reshape(x, y, xs)


def _input(layer: Any, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """A further input of the net: the caller's tensor, like the first input (no gradient, made by
    no step, so counted as input batch, not as an activation); nothing saved."""
    return b.given(numel(y))


# --- products of activations ---

def _bmm_operand(t: Tensor, shape: Shape, lead: Shape, full_rank: int, b: StepBuilder) -> Tensor:
    """What torch.matmul hands bmm for one operand: the tensor itself, or a copy where it must
    broadcast its leading dims (expand + reshape) or where `reshape` to 3-D (the batch merged with
    the leading dims) cannot view it (ATen's computeStride: a transposed operand whose leading
    dims still nest is viewed, measured torch 2.13 CPU)."""
    rows_cols = numel(shape[-2:]) if len(shape) > 1 else shape[0]
    if batch_free(t) and numel(shape[:-2]) == 1:  # made once, expanded over the batch: reshape views it
        return t
    if numel(shape[:-2]) != numel(lead):
        return b.new(numel(lead) * rows_cols, t.dtype)
    if full_rank > 3 and not t.contiguous and (t.strides is None or _unfolded(t, shape)):
        return b.like(t)  # (a view whose strides the model does not track, SplitHeads's: a copy)
    return t


def _unfolded(t: Tensor, shape: Shape) -> bool:
    """Whether `reshape` of t (a view with strides) to 3-D, the batch merged with the leading
    dims, copies (ATen's computeStride finds no view)."""
    return compute_stride((BATCH, *shape), t.batch_layout(shape), (BATCH * numel(shape[:-2]), *shape[-2:])) is None


def _matmul(layer: Matmul, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """torch.matmul -> bmm: each operand (cast to the low dtype under autocast; a copy where it
    broadcasts or is a view that reshapes by copying) is saved for the other's gradient."""
    if batch_free(xs[1]) and by_table_rows(*shapes):  # a table made once per forward: memory/fixed_operand.py
        return folded_rows(xs, shapes, y, b)
    low = b.precision.matmul_dtype
    a, m = (cast(t, low, b) for t in xs)  # (a table made once per forward: cast once)
    sa, sm = shapes
    lead = y[:-2] if len(sa) > 1 and len(sm) > 1 else y[:-1]
    full_rank = 1 + max(len(sa), len(sm), 2)
    a = _bmm_operand(a, sa, lead, full_rank, b)
    m = _bmm_operand(m, sm, lead, full_rank, b)
    if xs[1].requires_grad:
        b.save(a)
    if xs[0].requires_grad:
        b.save(m)
    return b.new(numel(y), low)


def _reshape_copies(v: Tensor, shape: Shape, folded: bool = False) -> bool:
    """Whether the math path's copy of v (its leading dims merged with the batch) is a new tensor
    (measured, torch 2.13 and 2.14.1 CPU): a contiguous v of per-sample rank 4 or more is copied;
    a view is copied where `reshape` cannot view it (ATen's computeStride: the heads of a packed
    projection cannot merge with the batch; one head, or heads whose strides nest, such as chunks
    of a transposed projection, can; a view without tracked strides: where it has several heads);
    rank 2 is seen in place; a folded batch adds no dim."""
    if v.contiguous:
        return len(shape) > 3 + folded
    if v.strides is None:  # a view whose strides the model does not track (SplitHeads's): by its heads
        return len(shape) >= 3 and shape[-3] > 1
    return len(shape) >= 3 and _unfolded(v, shape)


def _attention(layer: Attention, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """sdpa (autocast: the low dtype). Fused: q, k, v, the output, a log-sum-exp per query row (fp32), a copy of the
    mask. Math path (a low dtype upcast to fp32): q scaled where k needs a gradient, k scaled (new; k, v expanded to
    q's leading dims where they broadcast) where q does, the weights (L x S per query row group) and v (copied when
    cast, reshaped or expanded) where the weights need one, with dropout its noise (likewise) and the dropped weights
    (where v needs a gradient). Output new, low. Measured on CPU (torch 2.13)."""
    low = b.precision.matmul_dtype
    q, k, v = (b.cast(t, low) for t in xs[:3])
    sq, sk, sv = shapes[:3]
    mask, rows = xs[3] if len(xs) == 4 else None, numel(sq[:-1])
    scores = rows * sk[-2]
    if sdpa_fused(layer, xs, shapes, mask is not None and mask.requires_grad, b.precision.torch):
        out = b.new(numel(y), low)
        if len(sq) >= 3:  # (torch 2.14's rank 2: contiguous)
            out.strides = fused_output_strides(q, sq, y)
        saved = [q, k, v, out, b.new(rows, "fp32")]
        if mask is not None:
            saved.append(b.new(numel(shapes[3]) * mask_folds(layer, mask, sq, shapes[3]), low))
        b.save(*saved)
        return out
    work = "fp32" if low in ("bf16", "fp16") else low
    heads = numel(sq[:-2]) if not layer.enable_gqa and tuple(sk[:-2]) != tuple(sq[:-2]) else None
    if heads is not None or work != v.dtype or _reshape_copies(v, sv, layer.folded):
        v = b.new(numel(sv) if heads is None else heads * sv[-2] * sv[-1], work)
    q_scaled, weights = b.new(rows * sq[-1], work), b.new(scores, work)  # q x sqrt(scale), softmax's output
    k_scaled = b.new(numel(sk) if heads is None else heads * sk[-2] * sk[-1], work)  # k^T x sqrt(scale)
    q_grad, k_grad, v_grad = (t.requires_grad for t in xs[:3])  # (not their casts': new tensors of this step)
    weights_grad = q_grad or k_grad or (mask is not None and mask.requires_grad)
    # each matmul saves an operand for the other's gradient; softmax its output, dropout its noise (measured)
    saved = ([q_scaled] if k_grad else []) + ([k_scaled] if q_grad else []) + ([weights, v] if weights_grad else [])
    if layer.dropout:
        noise, dropped = b.new(scores, work), b.new(scores, work)
        saved += ([noise] if weights_grad else []) + ([dropped] if v_grad else [])
    elif v_grad and not weights_grad:
        saved.append(weights)
    b.save(*saved)
    return b.new(numel(y), low)


def _merge_heads(layer: MergeHeads, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A copy; a view of one head, or of the fused kernel's output laid out (L, heads, E)."""
    if len(xs) == 3 and (x.strides == (xs[-1], xs[-3] * xs[-1], 1) or xs[-3] == 1):
        return x.view(None, "contiguous")
    return b.like(x, y)


def _split_heads(layer: SplitHeads, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A view of (part of) its input, (..., heads, L, E) strided over (..., L, features): nothing saved."""
    return split_heads_view(x, xs, y, b)


RULES: dict[type, MemoryRule] = {
    Conv: _conv, ConvTranspose: _conv_transpose, Linear: _linear,
    # activations
    ReLU: _save_output, LeakyReLU: _leaky_relu,
    ReLU6: _save_input, SiLU: _save_input, Hardswish: _save_input, Hardsigmoid: _save_input,
    Hardtanh: _save_input, Mish: _save_input,
    Sigmoid: _save_new_output, Tanh: _save_new_output, Softmax: _softmax, GELU: _gelu, Identity: _itself,
    ELU: _leaky_relu, SELU: _leaky_relu, CELU: _leaky_relu, Threshold: _save_input, RReLU: rrelu, GLU: glu,
    Softplus: _gelu, Softshrink: _gelu, Hardshrink: _gelu, Softsign: input_and_new, LogSigmoid: input_and_new,
    Tanhshrink: new_of_input, PReLU: prelu, Softmin: _save_new_output, LogSoftmax: _save_new_output,
    Matmul: _matmul, Attention: _attention, SplitHeads: _split_heads, MergeHeads: _merge_heads,
    # norms
    BatchNorm: _batchnorm, LRN: _lrn, LayerNorm: _layer_norm, GroupNorm: _group_norm, InstanceNorm: _instance_norm,
    # pools
    MaxPool: _save_input_and_indices, AdaptiveMaxPool: _save_input_and_indices, AvgPool: _avgpool,
    AdaptiveAvgPool: _adaptive_avgpool, GlobalAvgPool: _global_avgpool,
    # moving elements
    Flatten: _flatten, Dropout: _dropout, Chunk: view, ChannelShuffle: _channel_shuffle,
    Permute: view, Transpose: view, Unflatten: view, Slice: view,
    Select: view, Expand: view, Split: view,
    Contiguous: contiguous_rule, Arith: arith, Learnable: learnable,
    Affine: affine, Reduce: reduce, Tokens: tokens,
    Sub: binary, Div: binary, Maximum: binary, Minimum: binary,
    Stack: stack,
    PixelShuffle: _new_output, PixelUnshuffle: _new_output, Upsample: _new_output, Pad: _pad, CenterCrop: _crop,
    LayerScale: _layer_scale, StochasticDepth: _stochastic_depth,
    # merges
    Add: _new_merged, ConcatMerge: _new_merged, Mul: _mul,
    # imported graphs
    Opaque: _opaque, Shared: _shared, Reshape: _reshape,
    # a net's further inputs
    Input: _input,
    Fixed: _fixed,
    Computed: computed,  # input-independent tensors (memory/computed_rules.py)
    # im2col, col2im: a new tensor, nothing saved (measured, torch 2.13 CPU; its storage: tensor_rules.im2col)
    Unfold: lambda layer, x, xs, y, b: im2col(x, xs, y, b), Fold: lambda layer, x, xs, y, b: im2col(x, xs, y, b),
    Unary: lambda layer, x, xs, y, b: unary(layer, x, b),
    Roll: _new_output, UnfoldDim: view,  # roll: a new tensor in x's layout, nothing saved (measured, torch 2.13 CPU)
    GridSample: grid_sample,  # input and grid (memory/sample_rules.py)
    LSTM: lstm,  # memory/rnn_rules.py: oneDNN's LSTM on CPU
    Embedding: embedding,
}


def rule_for(layer: Layer) -> MemoryRule:
    """The rule of the layer's own class; a class without one is a named error."""
    return rule_in(RULES, layer, "memory rule", "cnncost.memory.rules.RULES")
