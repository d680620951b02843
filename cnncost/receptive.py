"""Receptive fields: for every row of the compiled graph, which input pixels each output position
depends on, per axis (h, w); exact.

The model, per axis of every tensor: position u (any integer: positions beyond the map stand for
padding) depends on the input pixels `lo(u)` ... `hi(u)` (pixel i's centre is at coordinate i).
Convolutions and pools move every position by the same step, so lo(u) = lo(0) + u * jump. After
an upsampling the step is a fraction of a pixel and which pixels a position reads depends on the
position modulo the upsampling factor: the model keeps one (lo, hi) per phase of a period P, and
lo(u + P) = lo(u) + T pixels. Every pixel number is an integer; the effective stride `T / P` is a
`fractions.Fraction` where it is not whole.

In two dimensions a tensor keeps a few classes of paths, each a pair of such axes: position (u, v)
depends on the union over the classes of (rows of u) x (columns of v), and a class that reads no
row at u adds no column at v (a transposed conv's gap on one axis); see `_classes`. So a position's
extent is exact on any DAG, and a row's figures come from the extents of its positions.

Per row and axis:

- `receptive_field`: hi - lo + 1, the largest over the positions of the row (all equal unless an
  upsampling made them vary; then the row's `note` gives the range and the period);
- `effective_stride` (the jump): input pixels per output position, T / P;
- `center_offset`: the centre (lo(0) + hi(0)) / 2 of position 0, in input pixel coordinates
  (negative with padding; a half where the field is even).

Image borders are not clipped (the usual convention: AlexNet's pool5 is 195, VGG-16's 212, ResNet-
50's last block 483, more than the image: padding counts as pixels beyond the border, and a
position beyond a map reads on as the layer's arithmetic says); `ReceptiveField.extent(i, j)`
gives the box around the pixels of one position, (None, None) where it reads none, and where no
padding is in its cone that is exactly what the gradient of that output position reaches
(tests/test_receptive.py measures it through the torch backend on random nets, and compares every
phase with sets of pixels built from the layers' reads alone).

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
- merges (add, mul, concat): per position, the union of their inputs' sets of pixels (so the
  largest over all paths of a DAG, and larger than each path's where the paths are not centred
  alike). Where the inputs' strides differ each position is still exact, but the row has no one
  stride or period: its stride is the largest field's, its field the largest over the map's
  positions, and `note` says so on that row and every row after it.

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
MAX_PATH_CLASSES = 1 << 12  # classes of paths kept per tensor (see `_classes`); the zoo needs one


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
Path = tuple[Axis, Axis]  # one class of paths: (h, w)


# Why classes of paths: every layer reads a product of positions (rows R_h(u) x columns R_w(v)),
# so along one path the pixels of output (u, v) are a product A(u) x B(v), and a chain of layers
# keeps it one: the union over R_h(u) x R_w(v) of products is the product of the unions. A merge
# makes a union of products, which per-axis unions overstate: a path that reads no row at u but
# some column at v adds nothing at (u, v), not its column (a transposed conv's gap on one axis).
# So a tensor keeps a set of path classes, each a pair of per-axis maps, and position (u, v)
# depends on the union over the classes p of A_p(u) x B_p(v); its extent is the hull of the
# boxes of the classes live at both u and v.
# Invariant: within a field, no two classes have the same strides and the same pattern of empty
# phases on both axes (`_key`). Two such classes merge exactly (their per-axis unions): at every
# (u, v) both are live or both empty, and the hull of two boxes is the box of the per-axis hulls;
# each layer maps both alike, so they stay mergeable. So there are at most as many classes as
# distinct (strides, patterns of gaps): one on any net without a transposed conv's gaps and
# without a merge of different strides (the whole zoo). Whole-map fields and fields that read
# nothing keep a single class, for the stride alone.


def _live(path: Path) -> bool:
    """The class reads some pixel at some position (u, v): both axes read some pixel."""
    return any(lo is not None for lo in path[0].lo) and any(lo is not None for lo in path[1].lo)


def _support(ax: Axis) -> tuple[bool, ...]:
    """Which phases read any pixel, over the shortest period of that pattern (so equal patterns
    of different periods compare equal)."""
    live = tuple(lo is not None for lo in ax.lo)
    if all(live):
        return (True,)
    for p in _divisors(len(live)):
        if all(live[r] == live[r % p] for r in range(len(live))):
            return live[:p]
    return live  # pragma: no cover  (p = the period itself always matches)


def _key(path: Path) -> tuple[Any, ...]:
    return (path[0].jump, path[1].jump, _support(path[0]), _support(path[1]))


def _union(axes: Sequence[Axis]) -> Axis:
    """Per position, the hull of axes that move by the same jump (the period: their lcm)."""
    if len(axes) == 1:
        return axes[0]
    period = math.lcm(*(ax.period for ax in axes))
    if period > MAX_PERIOD:
        raise CnnCostError(f"the receptive field's pattern repeats only every {period:,} positions")
    los: list[int | None] = []
    his: list[int | None] = []
    for v in range(period):
        spans = [s for s in (ax.at(v) for ax in axes) if s is not None]
        los.append(min(s[0] for s in spans) if spans else None)
        his.append(max(s[1] for s in spans) if spans else None)
    return _compact(Axis(tuple(los), tuple(his), axes[0].T * period // axes[0].period))


def _dead(ax: Axis) -> Axis:
    """An axis with `ax`'s stride that reads no pixel anywhere."""
    return Axis((None,) * ax.period, (None,) * ax.period, ax.T)


def _stride_axis(axes: Iterable[Axis]) -> Axis:
    """The axis that sets a row's stride: of the moving ones (a broadcast, stride 0, follows no
    map), the one with the largest field; where strides differ (a merge), that is the row's."""
    axes = list(axes)
    moving = [ax for ax in axes if ax.T] or axes
    return max(moving, key=lambda ax: (max(ax.sizes(), default=0), ax.jump))


def _stride_only(paths: Sequence[Path], dead: bool) -> tuple[Path, ...]:
    """One class with the stride of `paths`. `dead`: it reads nothing (its axes may come from
    different classes, whose product is no path)."""
    h, w = _stride_axis(p[0] for p in paths), _stride_axis(p[1] for p in paths)
    return ((_dead(h), _dead(w)),) if dead else ((h, w),)


def _classes(paths: Sequence[Path], whole_map: bool = False) -> tuple[Path, ...]:
    """The canonical set: live classes, those of one `_key` merged; none live: one dead class
    that carries the stride. A whole-map field (`whole_map`) needs only its stride."""
    if len(paths) == 1:
        return tuple(paths)
    if whole_map:  # its axes still rank it where strides differ at a merge (`_merge`)
        return _stride_only(paths, dead=False)
    groups: dict[tuple[Any, ...], list[Path]] = {}
    for path in paths:
        if _live(path):
            groups.setdefault(_key(path), []).append(path)
    if not groups:
        return _stride_only(paths, dead=True)
    if len(groups) > MAX_PATH_CLASSES:
        raise CnnCostError(f"the receptive field needs {len(groups):,} classes of paths (more than "
                           f"{MAX_PATH_CLASSES:,}): too many different patterns of gaps meet")
    return tuple((_union([p[0] for p in group]), _union([p[1] for p in group])) for group in groups.values())


def _extent(paths: Sequence[Path], i: int, j: int) -> tuple[Span, Span] | tuple[None, None]:
    """The hull of the boxes of the classes that read some pixel at both i and j."""
    boxes = [(h, w) for h, w in ((p[0].at(i), p[1].at(j)) for p in paths) if h is not None and w is not None]
    if not boxes:
        return (None, None)
    return ((min(b[0][0] for b in boxes), max(b[0][1] for b in boxes)),
            (min(b[1][0] for b in boxes), max(b[1][1] for b in boxes)))


def _axis_reach(ax: Axis, n: int) -> Span | None:
    """The pixels positions 0 ... n-1 of the axis reach together (lo and hi never decrease with
    the position: the first period has the least lo, the last the largest hi)."""
    first = [s for s in (ax.at(u) for u in range(min(n, ax.period))) if s is not None]
    last = [s for s in (ax.at(u) for u in range(max(0, n - ax.period), n)) if s is not None]
    if not first or not last:
        return None
    return (min(s[0] for s in first), max(s[1] for s in last))


NOTHING: tuple[Span, Span] = ((0, -1), (0, -1))  # a span that reaches no pixel


@dataclass(frozen=True, slots=True)
class _Field:
    """A tensor: its classes of paths (see above). `span`: once the tensor has reduced a whole
    map (global pooling, flatten, a broadcast gate), every position depends on the same pixels,
    (first, last) per axis, clipped to the image `image` (H, W); the classes then only carry the
    stride."""

    paths: tuple[Path, ...]
    image: tuple[int, int]
    span: tuple[Span, Span] | None = None
    note: str = ""

    @property
    def stride(self) -> tuple[Fraction, Fraction]:
        return (_stride_axis(p[0] for p in self.paths).jump, _stride_axis(p[1] for p in self.paths).jump)

    def reach(self, shape: Shape) -> tuple[Span, Span]:
        """The pixels that all positions of a map of `shape` (C, H, W; flat: one position) reach
        together, clipped to the image (NOTHING: none). A class counts where it reaches some
        pixel of the image on both axes."""
        if self.span is not None:
            return self.span
        n = (shape[1], shape[2]) if len(shape) == 3 else (1, 1)
        boxes = []
        for path in self.paths:
            box = [_axis_reach(path[i], n[i]) for i in (0, 1)]
            if None in box:
                continue
            clipped = [(max(box[i][0], 0), min(box[i][1], self.image[i] - 1)) for i in (0, 1)]  # type: ignore[index]
            if all(lo <= hi for lo, hi in clipped):
                boxes.append(clipped)
        return _hull(boxes)


def _hull(boxes: Sequence[Sequence[Span]]) -> tuple[Span, Span]:
    """The box around boxes (NOTHING where there are none or each reaches nothing)."""
    boxes = [b for b in boxes if all(lo <= hi for lo, hi in b)]
    if not boxes:
        return NOTHING
    return ((min(b[0][0] for b in boxes), max(b[0][1] for b in boxes)),
            (min(b[1][0] for b in boxes), max(b[1][1] for b in boxes)))


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of one row, per axis (h, w), in input pixels, exact. `size`: the
    largest field of any position of the row; `stride`: the effective stride (a `Fraction` after
    an upsampling); `offset`: the centre of output position (0, 0) in input pixel coordinates
    (pixel i's centre is i; position (i, j) is centred near `offset + (i, j) * stride`, exactly
    there unless an upsampling made positions vary; where (0, 0) reads nothing, the first
    position in row-major order that reads some pixel). `whole_input`: the row depends on every
    pixel (after global pooling, flatten, linear, or a broadcast gate)."""

    name: str
    type: str
    size: tuple[Number, Number]
    stride: tuple[Number, Number]
    offset: tuple[Number | None, Number | None]
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

    def extent(self, i: int = 0, j: int = 0) -> tuple[tuple[int, int], tuple[int, int]] | tuple[None, None]:
        """((first row, last row), (first column, last column)), the box around the input pixels
        output position (i, j) depends on, not clipped to the image; (None, None): it depends on
        no pixel (a transposed conv's gap on either axis)."""
        f = self.model
        if f.span is not None:
            return f.span
        return _extent(f.paths, i, j)


def _one(values: tuple[Any, Any]) -> Any:
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
    return Axis((None,), (None,), 0) if span is None else Axis((span[0],), (span[1],), 0)


def _ratio(value: Fraction) -> tuple[int, int]:
    return value.numerator, value.denominator


# --- the rules, one per layer class ---

Rule = Callable[[Any, GraphNode, list[_Field]], _Field]


def _same(layer: Any, node: GraphNode, ins: list[_Field]) -> _Field:
    return ins[0]


def _per_axis(x: _Field, make: Callable[[int, Axis], Axis], reduce: Shape | None = None) -> _Field:
    """Each axis of each class through `make`; `reduce` (the input shape): the layer reduces the
    whole map."""
    span = x.span
    if reduce is not None and span is None:
        span = x.reach(reduce)
    paths = [(make(0, h), make(1, w)) for h, w in x.paths]
    return _Field(_classes(paths, whole_map=span is not None), x.image, span, x.note)


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
    """The union of the inputs' classes (an input of one position along an axis the output has
    more of is broadcast: stride 0 there)."""
    out = node.output_shape
    inherited = next((f.note for f in ins if f.note), "")  # an approximation holds for every row after it
    if len(out) != 3:  # flat vectors: each saw its whole map
        span = _hull([f.span for f in ins if f.span is not None])
        return _Field(ins[0].paths, ins[0].image, span, inherited)
    per_input = []
    for f, shape in zip(ins, node.input_shapes):
        paths = list(f.paths)
        for i in (0, 1):
            if len(shape) == 3 and shape[1 + i] == 1 and out[1 + i] > 1:
                paths = [(_constant(h), w) if i == 0 else (h, _constant(w)) for h, w in paths]
        per_input.append(paths)
    # classes keep their own strides, so every position stays exact; but the row then has no one
    # stride (`_stride_axis` picks the largest field's) and no period (its sizes are the map's)
    jumps = [sorted({p[i].jump for paths in per_input for p in paths if p[i].T}) for i in (0, 1)]
    notes = [f"{name} {', '.join(str(_plain(j)) for j in jumps[i])}" for i, name in enumerate("hw")
             if len(jumps[i]) > 1]
    merged = [p for paths in per_input for p in paths]
    span = None
    if any(f.span is not None for f in ins):  # a whole-map input: every position sees its pixels and the rest
        span = _hull([f.reach(shape) for f, shape in zip(ins, node.input_shapes)])
    note = ""
    if notes and span is None:  # (a whole-map row's field is its span: the strides do not matter)
        note = (f"at {node.path} the inputs' strides differ ({'; '.join(notes)}): the stride is the largest "
                "field's, the field the largest over the map's positions")
    return _Field(_classes(merged, whole_map=span is not None), ins[0].image, span, note or inherited)


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
    span = _hull([f.reach(shape) for f, shape in zip(ins, node.input_shapes)])
    note = next((f.note for f in ins if f.note), "") or f"{node.path} ({layer.op}) is opaque: assumed to see all of its input"
    return _Field(_classes([p for f in ins for p in f.paths], whole_map=True), ins[0].image, span, note)


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
    fields: list[_Field] = [_Field(((start, start),), (shape[1], shape[2]))]
    for node in graph.nodes[1:]:
        try:
            fields.append(rule_for(node.layer)(node.layer, node, [fields[i] for i in node.inputs]))
        except CnnCostError as error:
            raise error.at(path=node.path, source=graph.source or None) from None
    return [_record(node, f) for node, f in zip(graph.nodes, fields)]


def _positions(paths: Sequence[Path], i: int, n: int) -> tuple[range, str]:
    """Positions along axis i that show every field the row has: one period where the classes
    move alike; where a broadcast class (stride 0) meets a moving one their hull grows with the
    distance between them, so the map's n positions."""
    axes = [p[i] for p in paths]
    if len({ax.jump for ax in axes}) > 1:
        return range(n), f"over the map's {n} positions"
    period = math.lcm(*(ax.period for ax in axes))
    if period > MAX_PERIOD:
        raise CnnCostError(f"the receptive field's pattern repeats only every {period:,} positions")
    return range(period), f"period {period}"


def _first_read(paths: Sequence[Path], rows: range, columns: range) -> tuple[int, int]:
    """The first position (u, v) in row-major order at which some class reads a pixel."""
    first_column = [next((v for v in columns if p[1].at(v) is not None), None) for p in paths]
    for u in rows:
        live = [v for p, v in zip(paths, first_column) if v is not None and p[0].at(u) is not None]
        if live:
            return u, min(live)
    raise AssertionError("a live class reads some pixel within one period")  # pragma: no cover


def _sizes(paths: Sequence[Path], rows: range, columns: range) -> tuple[list[list[int]], bool]:
    """Per axis, the sizes of the fields of the positions rows x columns that read some pixel,
    and whether some position reads none. The field along axis i at (u, v) depends on v only
    through which classes are live at v: one pass over u per distinct set of them."""
    sizes: list[list[int]] = [[], []]
    gaps = False
    positions = (rows, columns)
    for i in (0, 1):
        other = 1 - i
        groups = dict.fromkeys(tuple(k for k, p in enumerate(paths) if p[other].at(v) is not None)
                               for v in positions[other])
        for live in groups:
            gaps = gaps or not live
            for u in positions[i] if live else ():
                spans = [s for s in (paths[k][i].at(u) for k in live) if s is not None]
                if spans:
                    sizes[i].append(max(s[1] for s in spans) - min(s[0] for s in spans) + 1)
                else:
                    gaps = True
    return sizes, gaps


def _record(node: GraphNode, f: _Field) -> ReceptiveField:
    stride = (_plain(f.stride[0]), _plain(f.stride[1]))
    notes = [f.note] if f.note else []
    if f.span is not None:
        sizes = tuple(hi - lo + 1 for lo, hi in f.span)
        offsets = tuple(_plain(Fraction(lo + hi, 2)) for lo, hi in f.span)
        whole = all(f.span[i] == (0, f.image[i] - 1) for i in (0, 1))
        return ReceptiveField(node.path, node.type, sizes, stride, offsets, whole, "; ".join(notes), f)  # type: ignore[arg-type]
    out = node.output_shape
    paths = [p for p in f.paths if _live(p)]
    sizes: list[list[int]] = [[], []]
    if len(paths) == 1:  # one class (the zoo's every row): a product, so per axis
        grid = [(range(ax.period), f"period {ax.period}") for ax in paths[0]]
        sizes = [ax.sizes() for ax in paths[0]]
        gaps = any(len(sizes[i]) < ax.period for i, ax in enumerate(paths[0]))
    else:
        grid = [_positions(paths, i, out[1 + i] if len(out) == 3 else 1) if paths else (range(0), "") for i in (0, 1)]
        sizes, gaps = _sizes(paths, grid[0][0], grid[1][0])
    if not sizes[0]:  # no position reads any input (a stride that lands on a transposed conv's gaps)
        notes.append("no position reads any input")
        return ReceptiveField(node.path, node.type, (0, 0), stride, (None, None), False, "; ".join(notes), f)
    if gaps:
        notes.append("some positions read no input")
    for i, name in enumerate("hw"):
        if min(sizes[i]) != max(sizes[i]):
            notes.append(f"{name}: the field varies with the position ({min(sizes[i])}..{max(sizes[i])}, "
                         f"{grid[i][1]})")
    box = _extent(paths, 0, 0)
    if box[0] is None:
        box = _extent(paths, *_first_read(paths, grid[0][0], grid[1][0]))
    offsets = tuple(_plain(Fraction(lo + hi, 2)) for lo, hi in box)  # type: ignore[union-attr]
    return ReceptiveField(node.path, node.type, (max(sizes[0]), max(sizes[1])), stride, offsets,  # type: ignore[arg-type]
                          False, "; ".join(notes), f)


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
