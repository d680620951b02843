"""Lowerings the torch and ONNX front ends share: a torch call and an ONNX node that mean the same
thing build their cnncost layers here, once, so the two importers cannot drift apart.

Each front end reads its own arguments (torch's args and kwargs, ONNX's inputs and attributes),
checks that its operands are tensors, and calls one of these with plain values. They raise
`Unsupported` where the pattern does not apply; the front end turns that into an error or an
opaque node.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Protocol, Sequence, cast

from ..layers import (Add, AvgPool, ChannelShuffle, Chunk, ConcatMerge, Conv, Dropout, Flatten, GlobalAvgPool, Layer,
                      LayerNorm, LayerScale, Linear, MaxPool, Mul, Pad, Permute, Softmax, Upsample)
from ..layers.reshape import chunk_sizes
from ..shapes import Shape, numel
from .graphbuild import TV, GraphBuilder, Unsupported
from ..layers.imported import Reshape
from ..layers.tensor import Slice

# The layouts an element-wise op passes through unchanged (it commutes with any view).
ANY_LAYOUT = ("std", "nhwc", "grouped", "grouped_t", "regrouped")


class Emitter(Protocol):
    """What a lowering needs of an importer: its builder, and `emit`, which adds a layer at the
    node being imported (`params`: the parameters it owns, in the front end's own terms)."""

    builder: GraphBuilder

    def emit(self, layer: Layer, inputs: list[TV], shape: Shape, *, base: str | None = None,
             params: Sequence[Any] = (), form: str = "std") -> TV: ...


def pair_or_int(value: Any) -> Any:
    """A kernel, stride or padding as a spec writes it: one int when every spatial side agrees."""
    if isinstance(value, (list, tuple)):
        value = tuple(int(v) for v in value)
        return value[0] if len(set(value)) == 1 else value
    return int(value)


def shape_text(shape: Shape) -> str:
    return "x".join(map(str, shape))


# ----------------------------------------------------------------------------- element-wise

def elementwise(imp: Emitter, layer: Layer, x: TV) -> TV:
    """An element-wise layer in whatever layout x is in; a shuffle in progress stays one."""
    v = imp.emit(layer, [x], x.shape, form=x.form)
    v.groups = x.groups
    return v


def dropout(imp: Emitter, x: TV, p: float, training: bool, inplace: bool) -> TV:
    """Dropout; in eval mode, or with p = 0, it is not there."""
    if not training or not p:
        return x
    return imp.emit(Dropout(p=float(p), inplace=inplace), [x], x.shape, form=x.form)


def softmax(imp: Emitter, x: TV, dim: int | None) -> TV:
    """Softmax over one dim (torch's dim counts the batch: dim 1 is per-sample dim 0)."""
    if dim is None:
        raise Unsupported("softmax without a dim")
    rank = len(x.shape) + (not x.folded)  # a folded batch has no dim of its own (TV.folded)
    if not -rank <= dim < rank or dim % rank == 0:
        raise Unsupported(f"softmax over dim {dim} (the batch, or out of range)")
    return imp.emit(Softmax(dim=dim % rank - (not x.folded)), [x], x.shape)


# ----------------------------------------------------------------------------- arithmetic

def times_constant(x: TV, factor: float) -> TV:
    """x * a constant: no layer yet; the add that reads it folds it in (a scaled residual)."""
    return dataclasses.replace(x, scale=factor if x.scale is None else x.scale * factor)


def over_constant(x: TV, divisor: float) -> TV:
    return dataclasses.replace(x, scale=(1.0 if x.scale is None else x.scale) / divisor)


def add(imp: Emitter, a: Any, b: Any) -> TV:
    """a + b of equal shapes: a residual. A pending constant factor on one side becomes the
    add's `scale` (the scaled side is read first)."""
    if not isinstance(a, TV) or not isinstance(b, TV):
        raise Unsupported("addition of a constant or a parameter")
    if a.form != b.form or a.form not in ("std", "nhwc"):
        raise Unsupported("addition of tensors in different layouts")
    if a.shape != b.shape:
        raise Unsupported(f"broadcast addition of {shape_text(a.shape)} and {shape_text(b.shape)}")
    if a.scale is not None and b.scale is not None:
        raise Unsupported("addition of two tensors scaled by constants")
    if b.scale is not None:
        a, b = b, a
    scale = a.scale if a.scale is not None else 1.0
    return imp.emit(Add(scale=scale), [TV(a.leaf, a.shape, a.form), TV(b.leaf, b.shape, b.form)], a.shape,
                    form=a.form)


def multiply(imp: Emitter, a: TV, b: TV) -> TV:
    """a * b of two tensors: a gate (b per channel, as squeeze-excitation's) or element-wise."""
    if a.form != b.form:
        raise Unsupported("multiplication of tensors in different layouts")
    if numel(b.shape) > numel(a.shape):
        a, b = b, a
    if a.form == "std" and len(a.shape) == 3 and b.shape in ((a.shape[0], 1, 1), a.shape):
        return imp.emit(Mul(), [a, b], a.shape)
    if a.shape == b.shape:
        return imp.emit(Mul(), [a, b], a.shape, form=a.form)
    if a.form == "std" and len(a.shape) == len(b.shape):  # broadcasting, as torch does
        layer = Mul()
        return imp.emit(layer, [a, b], layer.merge_shape((a.shape, b.shape)))
    raise Unsupported(f"broadcast multiplication of {shape_text(a.shape)} and {shape_text(b.shape)}")


def layer_scale(imp: Emitter, x: TV, weight_shape: Shape, init: float, params: Sequence[Any],
                base: str | None = None) -> TV:
    """x * a per-channel parameter (ConvNeXt's gamma), in either layout."""
    c = imp.builder.cnncost_shape(x)[0] if len(x.shape) == 3 else None
    shape = tuple(weight_shape)
    per_channel = c is not None and numel(shape) == c and (
        (x.form == "std" and shape[-3:] == (c, 1, 1)) or (x.form == "nhwc" and shape[-1:] == (c,)))
    if not per_channel:
        raise Unsupported(f"multiplication by a {shape_text(shape)} parameter")
    return imp.emit(LayerScale(init=init), [x], x.shape, base=base, params=params, form=x.form)


# ----------------------------------------------------------------------------- views and layouts

def view_to(imp: Emitter, x: Any, y: Shape, what: str = "view") -> TV:
    """x seen as shape `y` per sample: nothing, a shuffle's steps (view to groups, end of a
    transpose: the copy that is the shuffle), a flatten, or a reshape."""
    if not isinstance(x, TV) or x.scale is not None:
        raise Unsupported(f"{what} of a non-tensor or of a scaled tensor")
    channels_first = imp.builder.cnncost_shape(x)
    if x.form == "grouped_t":
        if y == channels_first:
            return imp.emit(ChannelShuffle(groups=x.groups), [TV(x.leaf, channels_first)], y, base="shuffle")
        raise Unsupported(f"{what} of a transposed view")
    if x.form in ("grouped", "regrouped"):
        if y == channels_first:
            return TV(x.leaf, y)
        raise Unsupported(f"{what} of a {x.form} view")
    if x.form != "std":
        raise Unsupported(f"{what} of a {x.form} tensor")
    if y == x.shape:
        return x
    if len(x.shape) == 3 and len(y) == 4 and y[0] * y[1] == x.shape[0] and y[2:] == x.shape[1:]:
        return TV(x.leaf, y, "grouped", groups=y[0])
    if len(y) == 1 and len(x.shape) == 3:
        return imp.emit(Flatten(), [x], y, base="flatten")
    return imp.emit(Reshape(shape=y), [x], y, base="view")


def permute(imp: Emitter, x: Any, perm: tuple[int, ...]) -> TV:
    """A permutation of the torch dims (the batch's included): to channels-last and back
    (ConvNeXt's blocks) or the transpose inside a channel shuffle (no layer: the readers see the
    layout); any other order of a plain tensor is a Permute of the per-sample dims, the batch's
    new place kept on the result (`TV.batch`)."""
    if not isinstance(x, TV) or x.scale is not None:
        raise Unsupported("permute of a non-tensor")
    if x.batch == 0 and not x.folded:
        if x.form == "std" and len(x.shape) == 3 and perm == (0, 2, 3, 1):
            c, h, w = x.shape
            return TV(x.leaf, (h, w, c), "nhwc")
        if x.form == "nhwc" and perm == (0, 3, 1, 2):
            return TV(x.leaf, imp.builder.cnncost_shape(x))
        if x.form == "grouped" and perm == (0, 2, 1, 3, 4):
            g, per_group, h, w = x.shape
            return TV(x.leaf, (per_group, g, h, w), "grouped_t", groups=x.groups)
    if x.form != "std":
        raise Unsupported(f"permute {list(perm)} of a {x.form} tensor (a view in progress)")
    # torch dims -> per-sample dims (a folded batch's dim is a per-sample dim: TV.folded)
    sample = perm if x.folded else tuple(d - (d > x.batch) for d in perm if d != x.batch)
    shape = tuple(x.shape[d] for d in sample)
    source = TV(x.leaf, x.shape)
    v = source if sample == tuple(range(len(sample))) else \
        imp.emit(Permute(dims=sample), [source], shape, base="permute")
    return TV(v.leaf, shape, batch=perm.index(x.batch), folded=x.folded)


def spatial_mean(imp: Emitter, x: TV, dims: Sequence[int] | None, keep: bool, base: str | None = None) -> TV:
    """The mean over H and W: a global average pool, then a flatten unless the dims are kept."""
    if dims is None or len(x.shape) != 3:
        raise Unsupported("mean over all dimensions")
    spatial = (2, 3) if x.form == "std" else (1, 2)
    if tuple(sorted(d % 4 for d in dims)) != spatial:
        raise Unsupported(f"mean over dims {list(dims)} (only over H and W)")
    c = imp.builder.cnncost_shape(x)[0]
    pooled = imp.emit(GlobalAvgPool(), [x], (c, 1, 1), base=base)
    if keep:
        return TV(pooled.leaf, (1, 1, c), "nhwc") if x.form == "nhwc" else pooled
    return imp.emit(Flatten(), [pooled], (c,), base="flatten")


# ----------------------------------------------------------------------------- channel pieces, merges

def chunk_count(channels: int, sizes: Sequence[int]) -> int | None:
    """The least `chunks` of torch.chunk that cuts `channels` into `sizes`, if any does. The
    pieces depend only on their size ceil(channels / chunks), the first's; the least chunks
    giving size s is ceil(channels / s) (a search over every count took minutes on MViT V2's
    25,089 tokens)."""
    sizes = list(sizes)
    if not sizes or sizes[0] < 1 or channels < 1:
        return None
    chunks = -(-channels // sizes[0])
    return chunks if chunk_sizes(channels, chunks) == sizes else None


def channel_slice(imp: Emitter, x: TV, start: int, stop: int) -> TV:
    """x[:, start:stop]: the chunk of torch.chunk with those edges."""
    c = x.shape[0]
    for chunks in range(1, c + 1):
        sizes = chunk_sizes(c, chunks)
        edges = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        for i in range(len(sizes)):
            if (edges[i], edges[i + 1]) == (start, stop):
                return imp.emit(Chunk(chunks=chunks, index=i), [x], (stop - start, *x.shape[1:]), base="chunk")
    raise Unsupported(f"channel slice {start}:{stop} of {c}")


def concat(imp: Emitter, xs: list[TV], dim: int) -> TV:
    """Concatenation along the channels, in either layout."""
    forms = {v.form for v in xs}
    if len(xs[0].shape) == 3 and forms == {"std"} and dim % 4 == 1:
        return imp.emit(ConcatMerge(), xs, ConcatMerge().merge_shape(tuple(v.shape for v in xs)))
    if len(xs[0].shape) == 3 and forms == {"nhwc"} and dim % 4 == 3:
        h, w, _ = xs[0].shape
        return imp.emit(ConcatMerge(), xs, (h, w, sum(v.shape[2] for v in xs)), form="nhwc")
    rank = len(xs[0].shape) + 1
    if forms == {"std"} and all(len(v.shape) + 1 == rank for v in xs) and -rank <= dim < rank and dim % rank:
        layer = ConcatMerge(dim=dim % rank - 1)
        return imp.emit(layer, xs, layer.merge_shape(tuple(v.shape for v in xs)))
    raise Unsupported(f"concatenation along dim {dim} of tensors in {', '.join(sorted(forms))} layout")


# ----------------------------------------------------------------------------- layers with weights

def conv(out: int, kernel: Any, *, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
         bias: bool) -> Conv:
    return Conv(out=int(out), kernel=pair_or_int(kernel), stride=pair_or_int(stride),
                padding=cast("Literal['same', 'valid']", padding) if isinstance(padding, str) else pair_or_int(padding),
                dilation=pair_or_int(dilation), groups=int(groups), bias=bias)


def linear(imp: Emitter, x: TV, out: int, bias: bool, params: Sequence[Any], shape: Shape) -> TV:
    """x @ W (+ b) on a flat vector; on a channels-last map it is the equal 1x1 convolution on the
    channels-first map (ConvNeXt's MLP)."""
    if x.form == "nhwc":
        return imp.emit(Conv(out=out, kernel=1, bias=bias), [x], shape, params=params, form="nhwc")
    return imp.emit(Linear(out=out, bias=bias), [x], shape, params=params)  # on the last dim, any rank


def layer_norm(imp: Emitter, x: TV, normalized: Shape, eps: float, affine: bool, params: Sequence[Any],
               bias: bool = True) -> TV:
    """LayerNorm over the last dims `normalized`: the channels of a channels-last map (ConvNeXt),
    or all of a channels-first tensor."""
    over: Literal["channels", "chw"]
    if x.form == "nhwc" and tuple(normalized) == x.shape[-1:]:
        over = "channels"
    elif x.form == "std" and tuple(normalized) == x.shape:
        over = "chw"
    elif x.form == "std" and tuple(normalized) == x.shape[len(x.shape) - len(normalized):]:
        return imp.emit(LayerNorm(over="last", dims=len(normalized), eps=float(eps), elementwise_affine=affine,
                                  bias=bias), [x], x.shape, params=params)
    else:
        raise Unsupported(f"layer norm over {list(normalized)} of a {shape_text(x.shape)} tensor ({x.form})")
    return imp.emit(LayerNorm(over=over, eps=float(eps), elementwise_affine=affine, bias=bias), [x], x.shape,
                    params=params, form=x.form)


# ----------------------------------------------------------------------------- pools, resampling, padding

def max_pool(imp: Emitter, x: TV, kernel: Any, *, stride: Any, padding: Any, ceil: bool,
             shape: Shape | None = None) -> TV:
    layer = MaxPool(kernel=pair_or_int(kernel), stride=pair_or_int(stride), padding=pair_or_int(padding),
                    ceil_mode=bool(ceil))
    return imp.emit(layer, [x], shape if shape is not None else layer.out_shape(x.shape))


def avg_pool(imp: Emitter, x: TV, kernel: Any, *, stride: Any, padding: Any, ceil: bool, include_pad: bool,
             shape: Shape | None = None) -> TV:
    layer = AvgPool(kernel=pair_or_int(kernel), stride=pair_or_int(stride), padding=pair_or_int(padding),
                    ceil_mode=bool(ceil), count_include_pad=bool(include_pad))
    return imp.emit(layer, [x], shape if shape is not None else layer.out_shape(x.shape))


def upsample(imp: Emitter, x: TV, mode: str, align: Any, *, factors: tuple[float, ...] | None = None,
             shape: Shape | None = None) -> TV:
    """Nearest or (bi/tri)linear resampling of a map with 1, 2 or 3 spatial dims by `factors` (one
    per spatial dim), or else to `shape`'s size."""
    if mode not in ("nearest", "linear", "bilinear", "trilinear", "bicubic") or len(x.shape) not in (2, 3, 4):
        raise Unsupported(f"interpolation mode '{mode}'")
    align_corners = bool(align) and mode != "nearest"
    mode = cast("Literal['nearest', 'linear', 'bilinear', 'trilinear', 'bicubic']", mode)  # one of them: checked above
    if factors is not None:
        fs = tuple(float(f) for f in factors)
        layer = Upsample(scale_factor=fs[0] if len(set(fs)) == 1 else fs, mode=mode, align_corners=align_corners)
    elif shape is not None:
        layer = Upsample(size=pair_or_int(shape[1:]), mode=mode, align_corners=align_corners)
    else:
        raise Unsupported("resampling without scales or sizes")
    return imp.emit(layer, [x], shape if shape is not None else layer.out_shape(x.shape))


def _crop(imp: Emitter, x: TV, sides: tuple[int, ...]) -> TV:
    """The negative parts of F.pad's (before, after) pairs as slices (views), from the last dim."""
    shape = list(x.shape)
    for i in range(len(sides) // 2):
        d = len(shape) - 1 - i
        before, after = sides[2 * i], sides[2 * i + 1]
        if min(before, after) < 0:
            start, stop = max(-before, 0), shape[d] + min(after, 0)
            shape[d] = stop - start
            x = imp.emit(Slice(dim=d, start=start, stop=stop), [x], tuple(shape), base="slice")
    return x


def pad(imp: Emitter, x: TV, sides: tuple[int, ...], mode: str, value: Any, shape: Shape | None = None) -> TV:
    """Padding as F.pad's (before, after) pairs from the last dim back: zeros, reflection or
    replication; a map's 4 spatial pads keep their short spelling (left, right, top, bottom)."""
    fill = 0.0
    kind: Literal["zeros", "constant", "reflect", "replicate"]
    if mode == "constant" and value in (None, 0):
        kind = "zeros"
    elif mode == "constant" and isinstance(value, (int, float)) and not isinstance(value, bool):
        kind, fill = "constant", float(value)  # timm's 'same' max pool: -inf; EfficientViT's LiteMLA: 1
    elif mode in ("reflect", "replicate"):
        kind = "reflect" if mode == "reflect" else "replicate"
    else:
        raise Unsupported(f"padding mode '{mode}'" + (f" with value {value}" if mode == "constant" else ""))
    if kind in ("zeros", "constant") and sides and min(sides) < 0 and len(sides) // 2 <= len(x.shape):
        x = _crop(imp, x, sides)  # a negative pad crops: NASNet's ZeroPad2d((-1, 1, -1, 1)) shifts a map
        sides = tuple(max(p, 0) for p in sides)
        if not any(sides):
            return x
    if len(x.shape) == 3 and len(sides) == 4 and min(sides) >= 0 and kind != "replicate":
        layer = Pad(padding=sides[0] if len(set(sides)) == 1 else tuple(sides), mode=kind, value=fill)
    elif len(sides) % 2 == 0 and 0 < len(sides) // 2 <= len(x.shape) and min(sides) >= 0:
        layer = Pad(padding=tuple(sides), mode=kind, value=fill)
    else:
        raise Unsupported(f"padding {list(sides)} of a {shape_text(x.shape)} tensor")
    return imp.emit(layer, [x], shape if shape is not None else layer.out_shape(x.shape))
