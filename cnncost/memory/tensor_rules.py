"""Memory rules of the tensor ops (`layers/tensor.py`, `layers/arith.py`, the element-wise
merges): what autograd saves for each, measured against torch 2.13 CPU, fp32 and bf16 autocast
(tests/memory/test_tensor_ops_memory.py). `rules.py` lists them in `RULES`.

Views (permute, transpose, unflatten, slice, select, expand, chunk, split) save nothing and
make no tensor: their output is the input's storage seen through other strides. A reshape
(flatten, reshape) views where the strides allow it and copies where not; `contiguous` copies a
tensor that is not contiguous. A parameter taking part in an element-wise op is fp32 under
autocast (autocast leaves these ops alone), so the result follows type promotion: fp32."""
from __future__ import annotations

from typing import Any

from ..layers.strides import is_contiguous
from ..layers.unary import SAVES as UNARY_SAVES
from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor, promote


def view(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x's storage through the view's strides (`Layer.out_layout`); nothing saved."""
    return b.strided(x, y, layer.out_layout(xs, y, x.batch_layout(xs)))


def contiguous(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x itself where contiguous, else a contiguous copy; nothing saved. With `batch_dim` the copy
    is laid out with the batch before that per-sample dim (SAM's (3, N * heads, L, E)): its
    strides and batch stride say so, for the views of it and what folds them."""
    if layer.batch_dim:
        layout = layer.copy_layout(xs)
        if x.batch_layout(xs) == layout:
            return x
        out = b.like(x)
        out.layout, out.strides, out.batch_stride = "strided", layout[1:], layout[0]
        return out
    return x if is_contiguous(xs, x.batch_layout(xs)) else b.like(x)


def arith(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """A Python number does not promote x's dtype. x ** c saves x; c / x is `x.reciprocal() * c`,
    which saves the reciprocal (a new tensor, then the output); c ** x saves x and its output; the
    rest save nothing."""
    if layer.op == "pow":
        if layer.reverse:
            out = b.like(x)
            b.save(x, out)
            return out
        b.save(x)
    elif layer.op == "div" and layer.reverse:
        reciprocal = b.like(x)
        b.save(reciprocal)
    return b.like(x)


def learnable(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x + p saves nothing; x * p saves x (p's gradient; p itself is a parameter, not counted).
    The output is promoted with the (fp32 under autocast) parameter, unless p is a scalar: a
    0-dim tensor does not promote a float tensor of more dims (bf16 x + fp32 scalar is bf16)."""
    if layer.op == "mul" and b.trainable:  # --freeze: a frozen p needs no gradient, x is not saved
        b.save(x)
    return b.new(numel(y), promote(x.dtype, b.precision.param_dtype) if layer.shape else x.dtype)


def affine(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """addcmul(bias, weight, x) or x * weight: x saved (the weight's gradient); promoted output."""
    if b.trainable:  # --freeze: no weight gradient, x is not saved
        b.save(x)
    return b.new(numel(y), promote(x.dtype, b.precision.param_dtype))


def reduce(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """sum and mean save nothing; amax, amin and the norm save their input and output; var its
    input; max(dim) only its indices, int64 whatever x's dtype (measured, torch 2.13 CPU)."""
    out = b.new(numel(y), x.dtype)
    if layer.op == "max":
        b.save(b.new(numel(y), "int64"))
    elif layer.op in ("amax", "amin", "norm"):
        b.save(x, out)
    elif layer.op == "var":
        b.save(x)
    return out


def tokens(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """cat of the expanded tokens and x: nothing saved; promoted with the parameter."""
    return b.new(numel(y), promote(x.dtype, b.precision.param_dtype))


def binary(layer: Any, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """a - b saves nothing; a / b saves b, and a where b needs a gradient; maximum and minimum
    save both."""
    first, second = xs
    if layer.type_name == "div":
        if second.requires_grad:
            b.save(first)
        b.save(second)
    elif layer.type_name in ("maximum", "minimum"):
        b.save(first, second)
    return b.new(numel(y), promote(first.dtype, second.dtype))


def stack(layer: Any, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """A new tensor; nothing saved (its backward unbinds)."""
    return b.new(numel(y), promote(*(t.dtype for t in xs)))


def im2col(x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """im2col and col2im: nothing saved; the output is contiguous, but PyTorch's CPU kernels
    allocate it in a storage the size of the input where that is larger (measured, torch 2.13:
    2x4x2 columns folded to 2x1x2x3 keep a 64-byte storage): whoever saves the output keeps that
    much alive."""
    out = b.new(max(numel(xs), numel(y)), x.dtype)
    return out if numel(xs) <= numel(y) else out.view(numel(y), "contiguous")


def unary(layer: Any, x: Tensor, b: StepBuilder) -> Tensor:
    """A new tensor in x's dtype (autocast leaves these ops alone); saves its output or its input
    (`layers.unary.SAVES`)."""
    out = b.like(x)
    saves = UNARY_SAVES[layer.op]
    if saves:
        b.save(out if saves == "output" else x)
    return out


def embedding(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """The ids (int64: `layers.embedding.ids_inputs`); the output is new, in the parameters' dtype
    (autocast leaves embedding alone: fp32 under bf16). Measured, torch 2.13 CPU, fp32 and bf16
    autocast, with and without padding_idx."""
    b.save(x)
    return b.new(numel(y), b.precision.param_dtype)
