"""Which tensors autograd keeps for backward, per layer type: one rule per layer class.

Every rule was confirmed against `cnncost.torch_backend.measure.saved_tensors` (torch 2.13 CPU,
fp32 and bf16 autocast); see docs/memory.md for the table. A rule gets the layer, its input
tensor and shape, its output shape and a `StepBuilder`, saves what autograd saves, and returns
the output tensor (the input itself for views and in-place ops).
"""
from __future__ import annotations

from typing import Callable

from ..errors import CnnCostError
from ..layers import (GELU, LRN, AdaptiveAvgPool, AvgPool, BatchNorm, Concat, Conv, Dropout, Flatten, Gate,
                      GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, ReLU, ReLU6, Repeat, Residual,
                      Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from ..layers.base import Block, Layer
from ..shapes import Shape, numel, pair
from .tensors import Tensor, promote
from .trace import StepBuilder

LeafRule = Callable[[Layer, Tensor, Shape, Shape, StepBuilder], Tensor]
MergeRule = Callable[[Block, Tensor, list, Shape, StepBuilder], Tensor]

LEAF_RULES: dict[type[Layer], LeafRule] = {}
# None: the block only groups layers and has no merge of its own.
MERGE_RULES: dict[type[Block], MergeRule | None] = {Sequential: None, Repeat: None, Side: None}
SIDE_OUTPUTS = (Side,)  # blocks whose branch output is an extra network output (aux classifiers)


def rule(*classes: type[Layer]) -> Callable[[LeafRule], LeafRule]:
    def register(fn: LeafRule) -> LeafRule:
        for cls in classes:
            if cls in LEAF_RULES:
                raise ValueError(f"two memory rules for layer type '{cls.type_name}'")
            LEAF_RULES[cls] = fn
        return fn
    return register


def leaf_rule(cls: type[Layer]) -> LeafRule:
    if cls not in LEAF_RULES:
        raise CnnCostError(f"no memory rule for layer type '{cls.type_name}'; add one in cnncost/memory/saved.py")
    return LEAF_RULES[cls]


def merge_rule(cls: type[Block]) -> MergeRule:
    found = MERGE_RULES.get(cls)
    if found is None:
        raise CnnCostError(f"no memory rule for the merge of block type '{cls.type_name}'; "
                           "add one in cnncost/memory/saved.py")
    return found


def keeps_output(cls: type[Block]) -> bool:
    return issubclass(cls, SIDE_OUTPUTS)


# --- leaves ---------------------------------------------------------------------------------------

@rule(Conv, Linear)
def _matmul(layer: Conv | Linear, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (cast to the low dtype under autocast) and weight; the bias is not needed."""
    low = b.precision.matmul_dtype
    b.save(b.cast(x, low))
    bias = layer.out if layer.bias else 0
    b.cast_params(layer.params(xs) - bias, bias)
    return b.like(x, y, low)


@rule(BatchNorm)
def _batchnorm(layer: BatchNorm, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input, plus the batch mean and inverse std per channel, always fp32."""
    b.save(x, b.new(0, "fp32", fixed=2 * xs[0]))
    return b.like(x, y)


@rule(MaxPool)
def _maxpool(layer: MaxPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input, and the argmax of every output element as int64."""
    b.save(x, b.new(numel(y), "int64"))
    return b.like(x, y)


@rule(AvgPool)
def _avgpool(layer: AvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input (its backward reads only the shape, but the input is what autograd saves)."""
    b.save(x)
    return b.like(x, y)


@rule(AdaptiveAvgPool)
def _adaptive_avgpool(layer: AdaptiveAvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input; to 1x1 PyTorch computes a mean instead, which saves nothing."""
    if pair(layer.output) != (1, 1):
        b.save(x)
    return b.like(x, y)


@rule(GlobalAvgPool)
def _global_avgpool(layer: GlobalAvgPool, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Nothing: a mean over H and W."""
    return b.like(x, y)


@rule(ReLU, LeakyReLU)
def _saves_output(layer: ReLU | LeakyReLU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Output; in place that is the input's storage, shared with whoever saves it next."""
    out = x if layer.inplace else b.like(x)
    b.save(out)
    return out


@rule(Sigmoid, Tanh)
def _saves_new_output(layer: Sigmoid | Tanh, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    out = b.like(x)
    b.save(out)
    return out


@rule(ReLU6, SiLU, Hardswish)
def _saves_input(layer: ReLU6 | SiLU | Hardswish, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Input. In place, autograd saves a copy of the input before overwriting it."""
    if layer.inplace:
        b.save(b.like(x))
        return x
    b.save(x)
    return b.like(x)


@rule(GELU)
def _gelu(layer: GELU, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    b.save(x)
    return b.like(x)


@rule(Dropout)
def _dropout(layer: Dropout, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A mask: bool from CUDA's fused kernel; elsewhere (and in place) a scaled noise tensor in
    the input's dtype. p = 0 returns the input untouched."""
    if layer.p == 0:
        return x
    fused = b.precision.device == "cuda" and not layer.inplace
    b.save(b.like(x, dtype="bool" if fused else None))
    return x if layer.inplace else b.like(x)


@rule(Flatten)
def _flatten(layer: Flatten, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A view of its input: same storage, nothing saved."""
    return x


@rule(LRN)
def _lrn(layer: LRN, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """PyTorch's composite `local_response_norm`: x / (k + alpha * avg_pool3d(pad(x^2)))^beta saves
    the input, the channel-padded square (C + size - 1 channels), the base of the power and the
    power. Under autocast the power runs in fp32 (so does the output), and on CPU avg_pool3d too."""
    c, h, w = xs
    wide = promote(x.dtype, "fp32") if b.precision.autocast else x.dtype
    padded_dtype = wide if b.precision.device == "cpu" else x.dtype
    padded = b.new((c + layer.size - 1) * h * w, padded_dtype)
    base, power = b.like(x, dtype=wide), b.like(x, dtype=wide)
    b.save(x, padded, base, power)
    return b.like(x, dtype=wide)


# --- merges ---------------------------------------------------------------------------------------

def _concat(block: Concat, x: Tensor, outs: list[Tensor], y: Shape, b: StepBuilder) -> Tensor:
    """A copy of all branch outputs; its backward only slices, so nothing is saved."""
    b.step.reads.extend(outs)
    return b.new(numel(y), promote(*(t.dtype for t in outs)))


def _add(block: Residual, x: Tensor, outs: list[Tensor], y: Shape, b: StepBuilder) -> Tensor:
    """Nothing saved; reads the last layer's output and the shortcut's (or the block input)."""
    branch = outs[len(block.layers) - 1] if block.layers else x
    skip = outs[-1] if block.shortcut else x
    b.step.reads.extend((branch, skip))
    return b.new(numel(y), promote(branch.dtype, skip.dtype))


def _mul(block: Gate | SqueezeExcite, x: Tensor, outs: list[Tensor], y: Shape, b: StepBuilder) -> Tensor:
    """Both operands: each is the other's gradient factor (a gate without layers multiplies x by x)."""
    gate = outs[-1] if outs else x
    b.step.reads.extend((x, gate))
    b.save(x, gate)
    return b.new(numel(y), promote(x.dtype, gate.dtype))


MERGE_RULES.update({Concat: _concat, Residual: _add, Gate: _mul, SqueezeExcite: _mul})
