"""Receptive fields: for every row of the compiled graph, which input pixels each output position
depends on, per axis (h, w); exact.

The model, per axis of every tensor: position u (any integer: positions beyond the map stand for
padding) depends on the input pixels `lo(u)` ... `hi(u)` (pixel i's centre is at coordinate i).
Convolutions and pools move every position by the same step, so lo(u) = lo(0) + u * jump. After
an upsampling the step is a fraction of a pixel and which pixels a position reads depends on the
position modulo the upsampling factor: the model keeps one (lo, hi) per phase of a period P, and
lo(u + P) = lo(u) + T pixels. Every pixel number is an integer; the effective stride `T / P` is a
`fractions.Fraction` where it is not whole.

Per row and axis:

- `receptive_field`: hi - lo + 1, the largest over the positions of the row (all equal unless an
  upsampling made them vary; then the row's `note` gives the range and the period);
- `effective_stride` (the jump): input pixels per output position, T / P;
- `center_offset`: the centre (lo(0) + hi(0)) / 2 of position 0, in input pixel coordinates
  (negative with padding; a half where the field is even).

Image borders are not clipped (the usual convention: AlexNet's pool5 is 195, VGG-16's 212, ResNet-
50's last block 483, more than the image); `ReceptiveField.extent(i, j)` gives the pixels of one
position, and where no padding is in its cone that is exactly what the gradient of that output
position reaches (tests/test_receptive.py measures it through the torch backend on random nets).

Rows that have reduced a whole map (global or 1x1 adaptive pooling, flatten, linear, and every row
after a gate broadcast over H x W, such as squeeze-and-excitation's) see the same pixels at every
position: their field is that span, clipped to the image (the image's size when it covers it:
`whole_input`); their stride still follows the feature map.

One rule per layer class, in `RULES` (a test names any registered layer type without one):

- windows (conv, pools, pixel unshuffle): output v reads input positions v*stride - pad +
  m*dilation, m < kernel;
- resampling (transposed conv, upsample, pixel shuffle, adaptive pools): the input positions
  PyTorch's arithmetic reads for output v (an upsampling's source index; a transposed conv's
  taps, (v + pad - m*dilation) / stride where whole; an adaptive pool's bin); a 1-position axis
  upsampled is read by every output (stride 0);
- pad and crop shift the positions; element-wise layers (activations, norms, dropout, channel
  ops) change nothing: normalisation statistics are not counted as a dependence (with batch or
  instance statistics every output depends on every pixel, which no receptive field reports);
- merges (add, mul, concat): per position, the union of their inputs' fields (so the largest over
  all paths of a DAG, and larger than each path's where the paths are not centred alike) when the
  inputs' strides agree; where they differ, the input with the largest field, and `note` says so
  on that row and every row after it.

Channels are not tracked: a pixel shuffle reads input position v // r whatever the channel, so one
that undoes a pixel unshuffle with no channel-mixing layer between reports the unshuffle's field,
an upper bound (each output pixel then reads one input pixel).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence

from .errors import CnnCostError
from .graph import GraphNode, compile
from .layers.act import Activation
from .layers.base import Layer
from .layers.conv import Conv, ConvTranspose, padding_pairs
from .layers.linear import Dropout, Flatten, Linear
from .layers.merge import Add, ConcatMerge, Mul
from .layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from .layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from .layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from .layers.scale import LayerScale, StochasticDepth
from .net import Net
from .shapes import Shape, pair

Number = int | Fraction
MAX_PERIOD = 1 << 20  # phases kept per axis; only chains of odd-ratio resizes come near it


def _plain(value: Fraction) -> Number:
    """A whole Fraction as an int."""
    return int(value) if value.denominator == 1 else value


@dataclass(frozen=True, slots=True)
class Axis:
    """One axis of a tensor: position u = q*P + r (0 <= r < P) depends on the input pixels
    lo[r] + q*T ... hi[r] + q*T (None: on none, a transposed conv's gap)."""

    lo: tuple[int | None, ...]
    hi: tuple[int | None, ...]
    T: int

    @property
    def period(self) -> int:
        return len(self.lo)

    @property
    def jump(self) -> Fraction:
        return Fraction(self.T, len(self.lo))

    def at(self, u: int) -> tuple[int, int] | None:
        q, r = divmod(u, len(self.lo))
        lo = self.lo[r]
        return None if lo is None else (lo + q * self.T, self.hi[r] + q * self.T)  # type: ignore[operator]

    def sizes(self) -> list[int]:
        return [h - l + 1 for l, h in zip(self.lo, self.hi) if l is not None]  # type: ignore[operator]


Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class _Field:
    """A tensor's two axes. `span`: once the tensor has reduced a whole map (global pooling,
    flatten, a broadcast gate), every position depends on the same pixels, (first, last) per
    axis, clipped to the image `image` (H, W); the axes then only carry the stride."""

    h: Axis
    w: Axis
    image: tuple[int, int]
    span: tuple[Span, Span] | None = None
    note: str = ""

    @property
    def axes(self) -> tuple[Axis, Axis]:
        return (self.h, self.w)

    def reach(self, i: int, n: int) -> Span:
        """The pixels that positions 0 ... n-1 of axis i reach together, clipped to the image."""
        if self.span is not None:
            return self.span[i]
        ax = self.axes[i]
        spans = [s for s in (ax.at(u) for u in range(min(n, ax.period))) if s is not None]
        last = [s for s in (ax.at(u) for u in range(max(0, n - ax.period), n)) if s is not None]
        if not spans or not last:
            return (0, -1)  # reaches no pixel
        lo, hi = min(s[0] for s in spans), max(s[1] for s in last)
        return (max(lo, 0), min(hi, self.image[i] - 1))


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one row, per axis (h, w), in input pixels, exact. `size`: the
    largest field of any position of the row; `stride`: the effective stride (a `Fraction` after
    an upsampling); `offset`: the centre of output position (0, 0) in input pixel coordinates
    (pixel i's centre is i; position (i, j) is centred near `offset + (i, j) * stride`, exactly
    there unless an upsampling made positions vary). `whole_input`: the row depends on every
    pixel (after global pooling, flatten, linear, or a broadcast gate)."""

    name: str
    type: str
    size: tuple[Number, Number]
    stride: tuple[Number, Number]
    offset: tuple[Number, Number]
    whole_input: bool = False
    note: str = ""
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def receptive_field(self) -> Number | tuple[Number, Number]:
        """One number where h and w agree, else (h, w)."""
        return _one(self.size)

    @property
    def effective_stride(self) -> Number | tuple[Number, Number]:
        return _one(self.stride)

    @property
    def center_offset(self) -> Number | tuple[Number, Number]:
        return _one(self.offset)

    def extent(self, i: int = 0, j: int = 0) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """((first row, last row), (first column, last column)) of the input pixels output
        position (i, j) depends on, not clipped to the image (None: on no pixel of that axis)."""
        f = self.model
        if f.span is not None:
            return f.span
        return f.h.at(i), f.w.at(j)


def _one(values: tuple[Number, Number]) -> Number | tuple[Number, Number]:
    return values[0] if values[0] == values[1] else values


# --- per-axis arithmetic ---

def _map(ax: Axis, a: int, b: int, reads: Callable[[int], Iterable[int]]) -> Axis:
    """The axis of a layer whose output position v reads the input positions `reads(v)`, with
    reads(v + b) = reads(v) + a (a window: a = stride, b = 1; an upsampling by b / a)."""
    P, T = ax.period, ax.T
    q = P // math.gcd(a, P)  # output period b*q: its reads move by a*q, a whole number of input periods
    period = b * q
    if period > MAX_PERIOD:
        raise CnnCostError(f"the receptive field's pattern repeats only every {period:,} positions "
                           f"(more than {MAX_PERIOD:,}); resize by simpler ratios")
    los: list[int | None] = []
    his: list[int | None] = []
    lo_at = ax.lo
    single = P == 1 and lo_at[0] is not None
    for v in range(period):
        lo = hi = None
        if single:  # the common case: lo(u) = lo0 + u*T
            positions = list(reads(v))
            if positions:
                first, last = min(positions), max(positions)
                lo, hi = ax.lo[0] + first * T, ax.hi[0] + last * T  # type: ignore[operator]
        else:
            for u in reads(v):
                span = ax.at(u)
                if span is not None:
                    lo = span[0] if lo is None else min(lo, span[0])
                    hi = span[1] if hi is None else max(hi, span[1])
        los.append(lo)
        his.append(hi)
    return _compact(Axis(tuple(los), tuple(his), T * (a * q // P)))


def _compact(ax: Axis) -> Axis:
    """The same axis with its shortest period (a pattern that repeats within its period)."""
    P = ax.period
    for p in _divisors(P)[:-1]:
        if (ax.T * p) % P:
            continue
        step = ax.T * p // P
        if all((ax.lo[r + p] is None) == (ax.lo[r] is None) and
               (ax.lo[r] is None or (ax.lo[r + p] == ax.lo[r] + step and ax.hi[r + p] == ax.hi[r] + step))
               for r in range(P - p)):
            return Axis(ax.lo[:p], ax.hi[:p], step)
    return ax


def _divisors(n: int) -> list[int]:
    if n == 1:
        return [1]
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def _window(ax: Axis, kernel: int, stride: int, pad: int, dilation: int = 1) -> Axis:
    return _map(ax, stride, 1, lambda v: range(v * stride - pad, v * stride - pad + dilation * (kernel - 1) + 1,
                                                 dilation))


def _shift(ax: Axis, by: int) -> Axis:
    """Output position u is input position u + by (a crop by `by`, a pad by `-by`)."""
    return Axis(ax.lo, ax.hi, ax.T) if by == 0 else _map(ax, 1, 1, lambda v: (v + by,))


def _constant(ax: Axis) -> Axis:
    """Every output position reads input position 0 (a 1-position axis broadcast): stride 0."""
    span = ax.at(0)
    assert span is not None
    return Axis((span[0],), (span[1],), 0)


def _ratio(value: Fraction) -> tuple[int, int]:
    return value.numerator, value.denominator


# --- the rules, one per layer class ---

Rule = Callable[[Any, GraphNode, list[_Field]], _Field]


def _same(layer: Any, node: GraphNode, ins: list[_Field]) -> _Field:
    return ins[0]


def _per_axis(x: _Field, make: Callable[[int, Axis], Axis], reduce: Shape | None = None) -> _Field:
    """Each axis through `make`; `reduce` (the input shape): the layer reduces the whole map."""
    span = x.span
    if reduce is not None and span is None:
        span = (x.reach(0, reduce[1]), x.reach(1, reduce[2]))
    return _Field(make(0, x.h), make(1, x.w), x.image, span, x.note)


def _conv(layer: Conv, node: GraphNode, ins: list[_Field]) -> _Field:
    kernel, stride, dilation = pair(layer.kernel), pair(layer.stride), pair(layer.dilation)
    pads = padding_pairs(layer.padding, kernel, dilation)
    return _per_axis(ins[0], lambda i, ax: _window(ax, kernel[i], stride[i], pads[i][0], dilation[i]))


def _pool(layer: MaxPool | AvgPool, node: GraphNode, ins: list[_Field]) -> _Field:
    kernel, stride, padding = pair(layer.kernel), pair(layer.effective_stride), pair(layer.padding)
    return _per_axis(ins[0], lambda i, ax: _window(ax, kernel[i], stride[i], padding[i]))


def _pixel_unshuffle(layer: PixelUnshuffle, node: GraphNode, ins: list[_Field]) -> _Field:
    r = layer.factor
    return _per_axis(ins[0], lambda i, ax: _window(ax, r, r, 0))


def _conv_transpose(layer: ConvTranspose, node: GraphNode, ins: list[_Field]) -> _Field:
    """Input i reaches output i*stride - padding + m*dilation through tap m (output_padding only
    adds positions at the end)."""
    kernel, stride, padding, dilation = (pair(layer.kernel), pair(layer.stride), pair(layer.padding),
                                         pair(layer.dilation))

    def make(i: int, ax: Axis) -> Axis:
        k, s, p, d = kernel[i], stride[i], padding[i], dilation[i]
        return _map(ax, 1, s, lambda v: [(v + p - m * d) // s for m in range(k) if (v + p - m * d) % s == 0])
    return _per_axis(ins[0], make)


def _upsample(layer: Upsample, node: GraphNode, ins: list[_Field]) -> _Field:
    """PyTorch's source index of output v, with scale = input / output size (1 / scale_factor where
    given): nearest floor(v * scale); bilinear (v + 1/2) * scale - 1/2, or v * (in - 1) / (out - 1)
    with align_corners, reading floor(src) and, unless src is whole, the next."""
    factors = None if layer.scale_factor is None else pair(layer.scale_factor)
    bilinear = layer.mode == "bilinear"

    def make(i: int, ax: Axis) -> Axis:
        n_in, n_out = node.input_shape[1 + i], node.output_shape[1 + i]
        if n_in == 1:  # PyTorch clamps the source index: every output reads the one input position
            return _constant(ax)
        if bilinear and layer.align_corners:
            scale, shift = (Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(n_in)), Fraction(0)
        else:
            scale = 1 / Fraction(repr(float(factors[i]))) if factors else Fraction(n_in, n_out)
            shift = (scale - 1) / 2 if bilinear else Fraction(0)

        def reads(v: int) -> tuple[int, ...]:
            src = v * scale + shift
            first = math.floor(src)
            return (first, first + 1) if bilinear and src != first else (first,)
        return _map(ax, *_ratio(scale), reads)
    return _per_axis(ins[0], make)


def _pixel_shuffle(layer: PixelShuffle, node: GraphNode, ins: list[_Field]) -> _Field:
    r = layer.factor
    return _per_axis(ins[0], lambda i, ax: _map(ax, 1, r, lambda v: (v // r,)))


def _adaptive(layer: AdaptiveAvgPool | AdaptiveMaxPool | GlobalAvgPool, node: GraphNode, ins: list[_Field]) -> _Field:
    """PyTorch's bins: output v pools input floor(v * n / o) ... ceil((v + 1) * n / o) - 1."""
    def make(i: int, ax: Axis) -> Axis:
        n, o = node.input_shape[1 + i], node.output_shape[1 + i]
        return _map(ax, *_ratio(Fraction(n, o)), lambda v: range(v * n // o, -(-(v + 1) * n // o)))
    return _per_axis(ins[0], make, reduce=node.input_shape if node.output_shape[1:] == (1, 1) else None)


def _flatten(layer: Flatten, node: GraphNode, ins: list[_Field]) -> _Field:
    shape = node.input_shape
    if len(shape) != 3:
        return ins[0]
    return _per_axis(ins[0], lambda i, ax: _window(ax, shape[1 + i], shape[1 + i], 0), reduce=shape)


def _linear(layer: Linear, node: GraphNode, ins: list[_Field]) -> _Field:
    return ins[0]  # a flat vector: flatten or a linear made it, and they see the whole map


def _pad(layer: Pad, node: GraphNode, ins: list[_Field]) -> _Field:
    left, right, top, bottom = layer.sides()
    return _per_axis(ins[0], lambda i, ax: _shift(ax, -(top, left)[i]))


def _crop(layer: CenterCrop, node: GraphNode, ins: list[_Field]) -> _Field:
    """torchvision's centre offsets (round half to even); a second input gives only the size."""
    _, h, w = node.input_shapes[0]
    # as torch_modules.center_offsets (which imports torch): Python's round of (size - crop) / 2
    offsets = (int(round((h - node.output_shape[1]) / 2.0)), int(round((w - node.output_shape[2]) / 2.0)))
    return _per_axis(ins[0], lambda i, ax: _shift(ax, offsets[i]))


def _merge(layer: Add | Mul | ConcatMerge, node: GraphNode, ins: list[_Field]) -> _Field:
    out = node.output_shape
    if len(out) != 3:  # flat vectors: each saw its whole map
        spans = [f.span for f in ins if f.span is not None]
        span = tuple((min(s[i][0] for s in spans), max(s[i][1] for s in spans)) for i in (0, 1))
        return _Field(ins[0].h, ins[0].w, ins[0].image, span, next((f.note for f in ins if f.note), ""))  # type: ignore[arg-type]
    axes, notes = [], []
    for i, name in ((1, "h"), (2, "w")):
        paths, broadcast = [], []
        for f, shape in zip(ins, node.input_shapes):
            ax = f.h if i == 1 else f.w
            fixed = (len(shape) == 3 and shape[i] == 1 and out[i] > 1) or ax.T == 0
            (broadcast if fixed else paths).append(ax)
        if not paths:  # every input is the same everywhere along this axis
            paths, broadcast = broadcast[:1], broadcast[1:]
        jumps = sorted({ax.jump for ax in paths})
        if len(jumps) > 1:
            paths = [max(paths, key=lambda ax: max(ax.sizes(), default=0))]
            notes.append(f"{name} {', '.join(str(_plain(j)) for j in jumps)}")
        period = math.lcm(*(ax.period for ax in paths))
        if period > MAX_PERIOD:
            raise CnnCostError(f"the receptive field's pattern repeats only every {period:,} positions")
        fixed = [ax.at(0) for ax in broadcast]  # a gate broadcast over the axis: every position sees all of it
        los: list[int | None] = []
        his: list[int | None] = []
        for v in range(period):
            spans = [s for s in [ax.at(v) for ax in paths] + fixed if s is not None]
            los.append(min(s[0] for s in spans) if spans else None)
            his.append(max(s[1] for s in spans) if spans else None)
        axes.append(_compact(Axis(tuple(los), tuple(his), paths[0].T * period // paths[0].period)))
    # an approximation here holds for every row after it: the note travels on
    inherited = [f.note for f in ins if f.note]
    span = None
    if any(f.span is not None for f in ins):  # a whole-map input: every position sees its pixels and the rest
        reaches = [[f.reach(i, shape[1 + i] if len(shape) == 3 else 1) for f, shape in zip(ins, node.input_shapes)]
                   for i in (0, 1)]
        reaches = [[r for r in rs if r[0] <= r[1]] or [(0, -1)] for rs in reaches]
        span = tuple((min(r[0] for r in rs), max(r[1] for r in rs)) for rs in reaches)
    note = ""
    if notes and span is None:  # (a whole-map row's field is its span: the strides do not matter)
        note = f"at {node.path} the inputs' strides differ ({'; '.join(notes)}): the largest field is taken"
    return _Field(axes[0], axes[1], ins[0].image, span, note or (inherited[0] if inherited else ""))


# Element-wise in H and W: activations (added below), norms (statistics not counted), dropout,
# channel ops.
ELEMENTWISE: tuple[type, ...] = (BatchNorm, LRN, LayerNorm, GroupNorm, InstanceNorm, Dropout, Chunk, ChannelShuffle,
                                 LayerScale, StochasticDepth)

RULES: dict[type, Rule] = {
    Conv: _conv, ConvTranspose: _conv_transpose,
    MaxPool: _pool, AvgPool: _pool, PixelUnshuffle: _pixel_unshuffle,
    AdaptiveAvgPool: _adaptive, AdaptiveMaxPool: _adaptive, GlobalAvgPool: _adaptive,
    Upsample: _upsample, PixelShuffle: _pixel_shuffle,
    Pad: _pad, CenterCrop: _crop,
    Add: _merge, Mul: _merge, ConcatMerge: _merge,
    Flatten: _flatten, Linear: _linear,
    **{cls: _same for cls in ELEMENTWISE},
}


def _activations() -> dict[type, Rule]:
    """Every registered activation class (relu ... softmax, identity): element-wise."""
    from .layers.base import LAYER_TYPES
    return {cls: _same for cls in LAYER_TYPES.values() if isinstance(cls, type) and issubclass(cls, Activation)}


RULES.update(_activations())


# Layer types of optional packages, which register them when imported (cnncost.importers: the
# nodes of an imported graph); their rules join RULES once their module is loaded.

def _opaque(layer: Any, node: GraphNode, ins: list[_Field]) -> _Field:
    """An operation cnncost does not know: assumed to depend on every pixel its inputs reach."""
    reaches = [[f.reach(i, shape[1 + i] if len(shape) == 3 else 1) for f, shape in zip(ins, node.input_shapes)]
               for i in (0, 1)]
    span = tuple((min(r[0] for r in rs), max(r[1] for r in rs)) for rs in reaches)
    note = next((f.note for f in ins if f.note), "") or f"{node.path} ({layer.op}) is opaque: assumed to see all of its input"
    return _Field(ins[0].h, ins[0].w, ins[0].image, span, note)  # type: ignore[arg-type]


def _shared(layer: Any, node: GraphNode, ins: list[_Field]) -> _Field:
    """A module called again: its layer's rule."""
    inner = layer.inner
    return rule_for(inner)(inner, node, ins)


def _reshape(layer: Any, node: GraphNode, ins: list[_Field]) -> _Field:
    """Channels regrouped over the same H x W: nothing moves; any other reshape of a map mixes its
    positions, and is taken as seeing the whole map (as flatten)."""
    shape, out = node.input_shape, node.output_shape
    if len(shape) != 3 or (len(out) == 3 and out[1:] == shape[1:]):
        return ins[0]
    return _per_axis(ins[0], lambda i, ax: _window(ax, shape[1 + i], shape[1 + i], 0), reduce=shape)


_OPTIONAL = {"cnncost.importers.opaque": {"Opaque": _opaque},
             "cnncost.importers.reuse": {"Shared": _shared, "Reshape": _reshape}}


def rules() -> dict[type, Rule]:
    """Every rule: RULES, with those of the optional layer types whose modules are loaded."""
    import sys
    for module_name, by_class in _OPTIONAL.items():
        module = sys.modules.get(module_name)
        if module is not None:
            for class_name, rule in by_class.items():
                RULES.setdefault(getattr(module, class_name), rule)
    return RULES


def rule_for(layer: Layer) -> Rule:
    """The rule of the layer's own class; a class without one is a named error."""
    rule = RULES.get(type(layer)) or rules().get(type(layer))
    if rule is None:
        raise CnnCostError(f"layer type '{layer.type_name}' has no receptive-field rule; add its class to "
                           "cnncost.receptive.RULES", type_name=layer.type_name)
    return rule


# --- the public calls ---

def receptive_field(arch: str | os.PathLike[str] | Net, input: Shape | None = None) -> list[ReceptiveField]:
    """The receptive field of every row of the compiled graph (the input first), per axis (h, w).

    >>> import cnncost
    >>> pool5 = {r.name: r for r in cnncost.receptive_field("alexnet")}["pool5"]
    >>> pool5.receptive_field, pool5.effective_stride, pool5.center_offset
    (195, 32, 31)
    """
    from .api import load
    graph = compile(load(arch), input)
    shape = graph.nodes[0].output_shape
    if len(shape) != 3:
        raise CnnCostError(f"receptive fields need a CxHxW input, got {'x'.join(map(str, shape))}")
    start = Axis((0,), (0,), 1)
    fields: list[_Field] = [_Field(start, start, (shape[1], shape[2]))]
    for node in graph.nodes[1:]:
        try:
            fields.append(rule_for(node.layer)(node.layer, node, [fields[i] for i in node.inputs]))
        except CnnCostError as error:
            raise error.at(path=node.path, source=graph.source or None) from None
    return [_record(node, f) for node, f in zip(graph.nodes, fields)]


def _record(node: GraphNode, f: _Field) -> ReceptiveField:
    sizes, offsets, notes = [], [], [f.note] if f.note else []
    for i, (name, ax) in enumerate((("h", f.h), ("w", f.w))):
        if f.span is not None:
            lo, hi = f.span[i]
            sizes.append(hi - lo + 1)
            offsets.append(_plain(Fraction(lo + hi, 2)))
            continue
        values = ax.sizes()
        if not values:  # no position reads any input (a stride that lands on a transposed conv's gaps)
            sizes.append(0)
            offsets.append(None)
            notes.append(f"{name}: no position reads any input")
            continue
        sizes.append(max(values))
        zero = ax.at(0) or next(s for s in (ax.at(u) for u in range(ax.period)) if s is not None)
        offsets.append(_plain(Fraction(zero[0] + zero[1], 2)))
        if len(values) < ax.period:
            notes.append(f"{name}: some positions read no input")
        if min(values) != max(values):
            notes.append(f"{name}: the field varies with the position ({min(values)}..{max(values)}, "
                         f"period {ax.period})")
    whole = f.span is not None and all(f.span[i] == (0, f.image[i] - 1) for i in (0, 1))
    return ReceptiveField(node.path, node.type, (sizes[0], sizes[1]), (_plain(f.h.jump), _plain(f.w.jump)),
                          (offsets[0], offsets[1]), whole, "; ".join(dict.fromkeys(notes)), f)


FRAME_COLUMNS = ("name", "type", "receptive_field", "effective_stride", "center_offset", "receptive_field_h",
                 "receptive_field_w", "effective_stride_h", "effective_stride_w", "center_offset_h",
                 "center_offset_w", "whole_input", "note")


def receptive_frame(arch: str | os.PathLike[str] | Net, input: Shape | None = None) -> Any:
    """`receptive_field` as a pandas DataFrame, one row per graph row (the `name`s of
    `table(arch).to_dataframe()`, to join on). `receptive_field`, `effective_stride` and
    `center_offset` hold one number where h and w agree, else an (h, w) tuple; the `_h` and `_w`
    columns always one number. A column is int64 where every value is a whole number, else exact
    Python ints and `Fraction`s (dtype object).

    >>> import cnncost
    >>> row = cnncost.receptive_frame("vgg16").set_index("name").loc["stage5.pool5"]
    >>> int(row.receptive_field), int(row.effective_stride), row.center_offset
    (212, 32, Fraction(31, 2))
    """
    import pandas as pd
    records = receptive_field(arch, input)
    values: dict[str, Sequence[Any]] = {
        "name": [r.name for r in records], "type": [r.type for r in records],
        "receptive_field": [r.receptive_field for r in records],
        "effective_stride": [r.effective_stride for r in records],
        "center_offset": [r.center_offset for r in records],
        "receptive_field_h": [r.size[0] for r in records], "receptive_field_w": [r.size[1] for r in records],
        "effective_stride_h": [r.stride[0] for r in records], "effective_stride_w": [r.stride[1] for r in records],
        "center_offset_h": [r.offset[0] for r in records], "center_offset_w": [r.offset[1] for r in records],
        "whole_input": [r.whole_input for r in records], "note": [r.note for r in records],
    }

    def column(key: str, items: Sequence[Any]) -> Any:
        if key == "whole_input":
            return pd.Series(items, dtype=bool)
        if key not in ("name", "type", "note") and all(type(v) is int and -2**63 <= v < 2**63 for v in items):
            return pd.Series(items, dtype="int64")
        return pd.Series(items, dtype=object)
    return pd.DataFrame({key: column(key, values[key]) for key in FRAME_COLUMNS})
