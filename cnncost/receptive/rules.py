"""The receptive field's rule per layer type: how a layer maps the fields of its inputs to its
output's (`Field`s, see `paths.py`). One entry per layer class in `RULES`."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

from ..errors import CnnCostError
from ..graph import GraphNode
from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from ..layers.attention import Attention, Matmul, MergeHeads, SplitHeads
from ..layers.base import Layer
from ..layers.pass_rules import rule_in
from ..layers.conv import Conv, ConvTranspose, padding_pairs
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.inputs import Input
from ..layers.imported import Fixed
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from .tensor_rules import RULES as TENSOR_RULES
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.unfold import Fold, Unfold
from ..layers.sample import GridSample
from .tensor_rules import whole_map
from ..layers.unary import Unary
from ..layers.moves import Roll, UnfoldDim
from ..shapes import Shape, spatial
from ..layers.computed import Computed
from ..layers.rnn import LSTM
from ..layers.embedding import Embedding
from .paths import (Axis, Field, classes, constant_axis, hull, map_axis, plain, ratio, shift_axis,
                    window_axis)

Rule = Callable[[Any, GraphNode, list[Field]], Field]


def lost(field: Field, node: GraphNode, why: str) -> Field:
    """The field is not defined from this row on: `why` says what the layer did to the map."""
    return Field(field.paths, field.image, field.span, field.note,
                 f"not defined past {node.path} ({node.type}: {why})")


def leaves_the_map(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    """The rule of a layer whose output is not a channels-first map of the input's positions
    (tokens, a permute, a reshape across the spatial dims): no receptive field past it."""
    return lost(ins[0], node, "its output is not a channels-first map of the input's positions")


def _same(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    """Element-wise along the spatial dims: nothing moves. A layer of such a type that changes the
    spatial sizes (a chunk or softmax along a spatial dim) is not tracked."""
    x, y = node.input_shape, node.output_shape
    if len(x) == len(y) == ins[0].rank + 1 and tuple(x[1:]) != tuple(y[1:]):
        return lost(ins[0], node, f"it changes the spatial sizes {'x'.join(map(str, x[1:]))}")
    return ins[0]


def per_axis(x: Field, make: Callable[[int, Axis], Axis], reduce: Shape | None = None) -> Field:
    """Each axis of each class through `make`; `reduce` (the input shape): the layer reduces the
    whole map."""
    span = x.span
    if reduce is not None and span is None:
        span = x.reach(reduce)
    paths = [tuple(make(i, ax) for i, ax in enumerate(path)) for path in x.paths]
    return Field(classes(paths, whole_map=span is not None), x.image, span, x.note)


def _rank(node: GraphNode) -> int:
    return len(node.input_shape) - 1


def on_folded_maps(node: GraphNode, ins: list[Field]) -> Field:
    """A conv or a pool on maps folded into the batch (`folded`: windows or heads of an imported
    model): their positions are not the input's, so the field is not followed past it, unless
    every position already sees the whole input (the view that folded them mixed it)."""
    if ins[0].span is not None:
        return ins[0]
    return lost(ins[0], node, "it runs on maps folded into the batch, not on the input's positions")


def _conv(layer: Conv, node: GraphNode, ins: list[Field]) -> Field:
    if layer.folded:
        return on_folded_maps(node, ins)
    rank = _rank(node)
    kernel, stride, dilation = spatial(layer.kernel, rank), spatial(layer.stride, rank), spatial(layer.dilation, rank)
    pads = padding_pairs(layer.padding, kernel, dilation)
    return per_axis(ins[0], lambda i, ax: window_axis(ax, kernel[i], stride[i], pads[i][0], dilation[i]))


def _pool(layer: MaxPool | AvgPool, node: GraphNode, ins: list[Field]) -> Field:
    if layer.folded:
        return on_folded_maps(node, ins)
    rank = _rank(node)
    kernel, stride = spatial(layer.kernel, rank), spatial(layer.effective_stride, rank)
    padding = spatial(layer.padding, rank)
    return per_axis(ins[0], lambda i, ax: window_axis(ax, kernel[i], stride[i], padding[i]))


def _pixel_unshuffle(layer: PixelUnshuffle, node: GraphNode, ins: list[Field]) -> Field:
    r = layer.factor
    return per_axis(ins[0], lambda i, ax: window_axis(ax, r, r, 0))


def _conv_transpose(layer: ConvTranspose, node: GraphNode, ins: list[Field]) -> Field:
    """Input i reaches output i*stride - padding + m*dilation through tap m (output_padding only
    adds positions at the end)."""
    rank = _rank(node)
    kernel, stride, padding, dilation = (spatial(layer.kernel, rank), spatial(layer.stride, rank),
                                         spatial(layer.padding, rank), spatial(layer.dilation, rank))

    def make(i: int, ax: Axis) -> Axis:
        k, s, p, d = kernel[i], stride[i], padding[i], dilation[i]
        return map_axis(ax, 1, s, lambda v: [(v + p - m * d) // s for m in range(k) if (v + p - m * d) % s == 0])
    return per_axis(ins[0], make)


def _upsample(layer: Upsample, node: GraphNode, ins: list[Field]) -> Field:
    """PyTorch's source index of output v, with scale = input / output size (1 / scale_factor where
    given): nearest floor(v * scale); (bi/tri)linear (v + 1/2) * scale - 1/2, or v * (in - 1) /
    (out - 1) with align_corners, reading floor(src) and, unless src is whole, the next (bicubic:
    the one before and the two after too, its cubic weights there being 0 at a whole src)."""
    factors = None if layer.scale_factor is None else spatial(layer.scale_factor, _rank(node))  # type: ignore[arg-type]  # floats too
    bilinear = layer.mode != "nearest"  # linear, bilinear, trilinear, bicubic: per axis the same
    taps = (-1, 0, 1, 2) if layer.mode == "bicubic" else (0, 1)

    def make(i: int, ax: Axis) -> Axis:
        n_in, n_out = node.input_shape[1 + i], node.output_shape[1 + i]
        if n_in == 1 and bilinear:  # PyTorch clamps the source index: every output reads the one input
            # position (nearest's floor(v * scale) reads it anyway inside the map, and reads on beyond it)
            return constant_axis(ax)
        if bilinear and layer.align_corners:
            scale, shift = (Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(n_in)), Fraction(0)
        else:
            scale = 1 / Fraction(repr(float(factors[i]))) if factors else Fraction(n_in, n_out)
            shift = (scale - 1) / 2 if bilinear else Fraction(0)

        def reads(v: int) -> tuple[int, ...]:
            src = v * scale + shift
            first = math.floor(src)
            return tuple(first + t for t in taps) if bilinear and src != first else (first,)
        return map_axis(ax, *ratio(scale), reads)
    return per_axis(ins[0], make)


def _pixel_shuffle(layer: PixelShuffle, node: GraphNode, ins: list[Field]) -> Field:
    r = layer.factor
    return per_axis(ins[0], lambda i, ax: map_axis(ax, 1, r, lambda v: (v // r,)))


def _adaptive(layer: AdaptiveAvgPool | AdaptiveMaxPool | GlobalAvgPool, node: GraphNode, ins: list[Field]) -> Field:
    """PyTorch's bins: output v pools input floor(v * n / o) ... ceil((v + 1) * n / o) - 1."""
    def make(i: int, ax: Axis) -> Axis:
        n, o = node.input_shape[1 + i], node.output_shape[1 + i]
        return map_axis(ax, *ratio(Fraction(n, o)), lambda v: range(v * n // o, -(-(v + 1) * n // o)))
    whole = all(size == 1 for size in node.output_shape[1:])
    return per_axis(ins[0], make, reduce=node.input_shape if whole else None)


def _flatten(layer: Flatten, node: GraphNode, ins: list[Field]) -> Field:
    shape = node.input_shape
    if len(shape) != ins[0].rank + 1 or node.output_shape == shape:
        return ins[0]
    return per_axis(ins[0], lambda i, ax: window_axis(ax, shape[1 + i], shape[1 + i], 0), reduce=shape)


def _linear(layer: Linear, node: GraphNode, ins: list[Field]) -> Field:
    """A flat vector: flatten or a linear made it, and they see the whole map. A linear over the
    last dim of a larger tensor treats it as tokens, not as a map."""
    if len(node.input_shape) > 1:
        return lost(ins[0], node, "a linear over the last dim mixes the positions along it")
    return ins[0]


AXIS_NAMES = {1: ("l",), 2: ("h", "w"), 3: ("d", "h", "w")}  # the spatial axes of a map, by rank


def _pad(layer: Pad, node: GraphNode, ins: list[Field]) -> Field:
    """A shift by the padding before each spatial dim (padded channels add no positions)."""
    pads = layer.pads(node.input_shape)[1:]
    return per_axis(ins[0], lambda i, ax: shift_axis(ax, -pads[i][0]))


def _crop(layer: CenterCrop, node: GraphNode, ins: list[Field]) -> Field:
    """torchvision's centre offsets (round half to even); a second input gives only the size."""
    sizes = node.input_shapes[0][1:]
    # as own_modules.center_offset (which imports torch): Python's round of (size - crop) / 2
    offsets = [int(round((size - crop) / 2.0)) for size, crop in zip(sizes, node.output_shape[1:])]
    return per_axis(ins[0], lambda i, ax: shift_axis(ax, offsets[i]))


def _merge(layer: Add | Mul | ConcatMerge, node: GraphNode, ins: list[Field]) -> Field:
    """The union of the inputs' classes (an input of one position along an axis the output has
    more of is broadcast: stride 0 there)."""
    out = node.output_shape
    rank = ins[0].rank
    inherited = next((f.note for f in ins if f.note), "")  # an approximation holds for every row after it
    if len(out) != rank + 1:  # flat vectors: each saw its whole map
        span: tuple[tuple[int, int], ...] | None = hull([f.span for f in ins if f.span is not None], rank)
        return Field(ins[0].paths, ins[0].image, span, inherited)
    if any(len(shape) == rank + 1 and any(size not in (1, o) for size, o in zip(shape[1:], out[1:]))
           for shape in node.input_shapes):
        return lost(ins[0], node, "it joins maps along a spatial dim")
    per_input = []
    for f, shape in zip(ins, node.input_shapes):
        paths = list(f.paths)
        for i in range(rank):
            if len(shape) == rank + 1 and shape[1 + i] == 1 and out[1 + i] > 1:
                paths = [tuple(constant_axis(ax) if k == i else ax for k, ax in enumerate(p)) for p in paths]
        per_input.append(paths)
    # classes keep their own strides, so every position stays exact; but the row then has no one
    # stride (`stride_axis` picks the largest field's) and no period (its sizes are the map's)
    jumps = [sorted({p[i].jump for paths in per_input for p in paths if p[i].T}) for i in range(rank)]
    notes = [f"{name} {', '.join(str(plain(j)) for j in jumps[i])}" for i, name in enumerate(AXIS_NAMES[rank])
             if len(jumps[i]) > 1]
    merged = [p for paths in per_input for p in paths]
    span = None
    if any(f.span is not None for f in ins):  # a whole-map input: every position sees its pixels and the rest
        span = hull([f.reach(shape) for f, shape in zip(ins, node.input_shapes)], rank)
    note = ""
    if notes and span is None:  # (a whole-map row's field is its span: the strides do not matter)
        note = (f"at {node.path} the inputs' strides differ ({'; '.join(notes)}): the stride is the largest "
                "field's, the field the largest over the map's positions")
    return Field(classes(merged, whole_map=span is not None), ins[0].image, span, note or inherited)


def _opaque(layer: Opaque, node: GraphNode, ins: list[Field]) -> Field:
    """An operation cnncost does not know: assumed to depend on every pixel its inputs reach."""
    span = hull([f.reach(shape) for f, shape in zip(ins, node.input_shapes)], ins[0].rank)
    note = next((f.note for f in ins if f.note), "") or f"{node.path} ({layer.op}) is opaque: assumed to see all of its input"
    return Field(classes([p for f in ins for p in f.paths], whole_map=True), ins[0].image, span, note)


def _mixes(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    """Matmul and attention mix every position of their operands: the field is all they reach."""
    span = hull([f.reach(shape) for f, shape in zip(ins, node.input_shapes)], ins[0].rank)
    note = next((f.note for f in ins if f.note), "") or f"{node.path} ({node.type}) mixes every position of its inputs"
    return Field(classes([p for f in ins for p in f.paths], whole_map=True), ins[0].image, span, note)


def _along_dim(layer: Any, node: GraphNode, ins: list[Field]) -> Field:
    """Softmax-like ops and GLU: element-wise in H and W along the channels (dim 0); along a
    spatial dim of a map they mix its positions."""
    shape = node.input_shape
    if layer.dim % len(shape) == 0 or len(shape) != 3:
        return ins[0]
    return _mixes(layer, node, ins)


def _shared(layer: Shared, node: GraphNode, ins: list[Field]) -> Field:
    """A module called again: its layer's rule."""
    inner = layer.inner
    return rule_for(inner)(inner, node, ins)


def _reshape(layer: Reshape, node: GraphNode, ins: list[Field]) -> Field:
    """Channels regrouped over the same positions: nothing moves; any other reshape of a map mixes
    its positions, and is taken as seeing the whole map (as flatten)."""
    shape, out = node.input_shape, node.output_shape
    if len(shape) != ins[0].rank + 1 or (len(out) == len(shape) and out[1:] == shape[1:]):
        return ins[0]
    return per_axis(ins[0], lambda i, ax: window_axis(ax, shape[1 + i], shape[1 + i], 0), reduce=shape)


def _input(layer: Input, node: GraphNode, ins: list[Field]) -> Field:
    """A further input: a field starts there, in its own pixels (on the first input's grid, as
    the second image of a pair is); only a CxHxW input has one."""
    shape = node.output_shape
    if len(shape) != 3:
        raise CnnCostError(f"receptive fields need CxHxW inputs; input '{node.path}' is {'x'.join(map(str, shape))}")
    start = Axis((0,), (0,), 1)
    return Field(((start, start),), (shape[1], shape[2]))


def _roll(layer: Roll, node: GraphNode, ins: list[Field]) -> Field:
    """A roll along H or W of a map wraps positions around the edge: the field is not followed
    past it (every position is taken to see the whole map); along the channels, or of a tensor
    that is no map, the field stays."""
    x = node.input_shape
    if len(x) == 3 and any(d % 3 for d in layer.dims):
        return whole_map(node, ins)
    return ins[0]


def _windows(layer: UnfoldDim, node: GraphNode, ins: list[Field]) -> Field:
    """Sliding windows of a map (a new last dim): no channels-first map any more."""
    return whole_map(node, ins) if len(node.input_shape) == 3 else ins[0]


RULES: dict[type, Rule] = {
    Conv: _conv, ConvTranspose: _conv_transpose,
    MaxPool: _pool, AvgPool: _pool, PixelUnshuffle: _pixel_unshuffle,
    AdaptiveAvgPool: _adaptive, AdaptiveMaxPool: _adaptive, GlobalAvgPool: _adaptive,
    Upsample: _upsample, PixelShuffle: _pixel_shuffle,
    Pad: _pad, CenterCrop: _crop,
    Add: _merge, Mul: _merge, ConcatMerge: _merge,
    Flatten: _flatten, Linear: _linear,
    # element-wise in H and W: activations, norms (statistics not counted), dropout, channel ops
    ReLU: _same, ReLU6: _same, LeakyReLU: _same, SiLU: _same, Hardswish: _same, Hardsigmoid: _same,
    Hardtanh: _same, Mish: _same, Sigmoid: _same, Tanh: _same, GELU: _same, Softmax: _along_dim, Identity: _same,
    ELU: _same, SELU: _same, CELU: _same, Softplus: _same, Softsign: _same, Softshrink: _same, Hardshrink: _same,
    Tanhshrink: _same, Threshold: _same, LogSigmoid: _same, PReLU: _same, RReLU: _same, GLU: _along_dim,
    Softmin: _along_dim, LogSoftmax: _along_dim,
    Matmul: _mixes, Attention: _mixes, SplitHeads: _same, MergeHeads: _same,
    BatchNorm: _same, LRN: _same, LayerNorm: _same, GroupNorm: _same, InstanceNorm: _same,
    Dropout: _same, ChannelShuffle: _same, LayerScale: _same, StochasticDepth: _same,
    # imported graphs
    Opaque: _opaque, Shared: _shared, Reshape: _reshape,
    # a net's further inputs
    Input: _input,
    Fixed: _shared,  # fixed weights: its layer's rule, as a shared call's
    # tensor ops of any rank (receptive/tensor_rules.py)
    **TENSOR_RULES, Sub: _merge, Div: _merge, Maximum: _merge, Minimum: _merge, Stack: _merge,
    Computed: _same,  # x op c, c the same for every position it broadcasts over
    # im2col leaves the map (columns of windows); col2im reads columns, which are not a map
    Unfold: lambda layer, node, ins: whole_map(node, ins), Fold: _same,
    Unary: _same,
    Roll: _roll, UnfoldDim: _windows,
    GridSample: _mixes,  # reads the input where the grid points: any position, data-dependent
    LSTM: lambda layer, node, ins: lost(ins[0], node, "a recurrence: each step reads every step before it"),
    Embedding: leaves_the_map,  # ids -> a vector each: tokens, no map of the input's positions
}


def rule_for(layer: Layer) -> Rule:
    """The rule of the layer's own class; a class without one is a named error."""
    return rule_in(RULES, layer, "receptive-field rule", "cnncost.receptive.rules.RULES")
