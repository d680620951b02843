"""The receptive field's algebra: per-axis maps of positions to input pixels (`Axis`), the classes
of paths a tensor keeps (`Field`) and the arithmetic of one layer's reads (`map_axis` and the
windows, shifts and broadcasts built on it). The model is described in `cnncost.receptive`."""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence

from ..errors import CnnCostError
from ..shapes import Shape

Number = int | Fraction
MAX_PERIOD = 1 << 20  # phases kept per axis; only chains of odd-ratio resizes come near it
MAX_PATH_CLASSES = 1 << 12  # classes of paths kept per tensor (see `classes`); the zoo needs one


def plain(value: Fraction) -> Number:
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
Path = tuple[Axis, ...]  # one class of paths: one axis per spatial dim ((l), (h, w), (d, h, w))


# Why classes of paths (written for two axes; every statement holds per axis for one or three):
# every layer reads a product of positions (rows R_h(u) x columns R_w(v)),
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


def live(path: Path) -> bool:
    """The class reads some pixel at some position (u, v): every axis reads some pixel."""
    return all(any(lo is not None for lo in ax.lo) for ax in path)


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
    return tuple(ax.jump for ax in path) + tuple(_support(ax) for ax in path)


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


def stride_axis(axes: Iterable[Axis]) -> Axis:
    """The axis that sets a row's stride: of the moving ones (a broadcast, stride 0, follows no
    map), the one with the largest field; where strides differ (a merge), that is the row's."""
    axes = list(axes)
    moving = [ax for ax in axes if ax.T] or axes
    return max(moving, key=lambda ax: (max(ax.sizes(), default=0), ax.jump))


def _stride_only(paths: Sequence[Path], dead: bool) -> tuple[Path, ...]:
    """One class with the stride of `paths`. `dead`: it reads nothing (its axes may come from
    different classes, whose product is no path)."""
    axes = tuple(stride_axis(p[i] for p in paths) for i in range(len(paths[0])))
    return (tuple(_dead(ax) for ax in axes),) if dead else (axes,)


def classes(paths: Sequence[Path], whole_map: bool = False) -> tuple[Path, ...]:
    """The canonical set: live classes, those of one `_key` merged; none live: one dead class
    that carries the stride. A whole-map field (`whole_map`) needs only its stride."""
    if len(paths) == 1:
        return tuple(paths)
    if whole_map:  # its axes still rank it where strides differ at a merge (`_merge`)
        return _stride_only(paths, dead=False)
    groups: dict[tuple[Any, ...], list[Path]] = {}
    for path in paths:
        if live(path):
            groups.setdefault(_key(path), []).append(path)
    if not groups:
        return _stride_only(paths, dead=True)
    if len(groups) > MAX_PATH_CLASSES:
        raise CnnCostError(f"the receptive field needs {len(groups):,} classes of paths (more than "
                           f"{MAX_PATH_CLASSES:,}): too many different patterns of gaps meet")
    return tuple(tuple(_union([p[i] for p in group]) for i in range(len(group[0]))) for group in groups.values())


def extent(paths: Sequence[Path], *position: int) -> tuple[Span, ...] | tuple[None, ...]:
    """The hull of the boxes of the classes that read some pixel at `position` (one index per axis)."""
    boxes = [box for box in (tuple(ax.at(u) for ax, u in zip(p, position)) for p in paths) if None not in box]
    if not boxes:
        return (None,) * len(position)
    return tuple((min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(len(position)))  # type: ignore[index]  # boxes hold no None


def _axis_reach(ax: Axis, n: int) -> Span | None:
    """The pixels positions 0 ... n-1 of the axis reach together (lo and hi never decrease with
    the position: the first period has the least lo, the last the largest hi)."""
    first = [s for s in (ax.at(u) for u in range(min(n, ax.period))) if s is not None]
    last = [s for s in (ax.at(u) for u in range(max(0, n - ax.period), n)) if s is not None]
    if not first or not last:
        return None
    return (min(s[0] for s in first), max(s[1] for s in last))


def nothing(rank: int) -> tuple[Span, ...]:
    """A span that reaches no pixel."""
    return ((0, -1),) * rank


@dataclass(frozen=True, slots=True)
class Field:
    """A tensor: its classes of paths (see above). `span`: once the tensor has reduced a whole
    map (global pooling, flatten, a broadcast gate), every position depends on the same pixels,
    (first, last) per axis, clipped to the image `image` (its spatial sizes); the classes then
    only carry the stride. `lost`: why the field is not defined for this tensor (a layer made it
    from something other than a channels-first map: tokens, a permute; every row after it too)."""

    paths: tuple[Path, ...]
    image: tuple[int, ...]
    span: tuple[Span, ...] | None = None
    note: str = ""
    lost: str = ""

    @property
    def rank(self) -> int:
        return len(self.image)

    @property
    def stride(self) -> tuple[Fraction, ...]:
        return tuple(stride_axis(p[i] for p in self.paths).jump for i in range(self.rank))

    def reach(self, shape: Shape) -> tuple[Span, ...]:
        """The pixels that all positions of a map of `shape` (C and the image's spatial dims; any
        other shape: one position) reach together, clipped to the image (`nothing`: none). A class
        counts where it reaches some pixel of the image on every axis."""
        if self.span is not None:
            return self.span
        rank = self.rank
        n = tuple(shape[1:]) if len(shape) == rank + 1 else (1,) * rank
        boxes = []
        for path in self.paths:
            box = [_axis_reach(path[i], n[i]) for i in range(rank)]
            if None in box:
                continue
            clipped = [(max(box[i][0], 0), min(box[i][1], self.image[i] - 1)) for i in range(rank)]  # type: ignore[index]
            if all(lo <= hi for lo, hi in clipped):
                boxes.append(clipped)
        return hull(boxes, rank)


def hull(boxes: Sequence[Sequence[Span]], rank: int) -> tuple[Span, ...]:
    """The box around boxes of `rank` axes (`nothing` where there are none or each reaches nothing)."""
    boxes = [b for b in boxes if all(lo <= hi for lo, hi in b)]
    if not boxes:
        return nothing(rank)
    return tuple((min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(rank))




# --- per-axis arithmetic ---

def map_axis(ax: Axis, a: int, b: int, reads: Callable[[int], Iterable[int]]) -> Axis:
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
               (ax.lo[r] is None or (ax.lo[r + p] == ax.lo[r] + step and ax.hi[r + p] == ax.hi[r] + step))  # type: ignore[operator]  # lo[r], hi[r] not None
               for r in range(P - p)):
            return Axis(ax.lo[:p], ax.hi[:p], step)
    return ax


def _divisors(n: int) -> list[int]:
    if n == 1:
        return [1]
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def window_axis(ax: Axis, kernel: int, stride: int, pad: int, dilation: int = 1) -> Axis:
    return map_axis(ax, stride, 1, lambda v: range(v * stride - pad, v * stride - pad + dilation * (kernel - 1) + 1,
                                                 dilation))


def shift_axis(ax: Axis, by: int) -> Axis:
    """Output position u is input position u + by (a crop by `by`, a pad by `-by`)."""
    return Axis(ax.lo, ax.hi, ax.T) if by == 0 else map_axis(ax, 1, 1, lambda v: (v + by,))


def constant_axis(ax: Axis) -> Axis:
    """Every output position reads input position 0 (a 1-position axis broadcast): stride 0."""
    span = ax.at(0)
    return Axis((None,), (None,), 0) if span is None else Axis((span[0],), (span[1],), 0)


def ratio(value: Fraction) -> tuple[int, int]:
    return value.numerator, value.denominator
