"""`SizeVector`: one int per input resolution, standing in for a size where the graph compiler,
the memory model's trace and the time model's per-pass counts run once for many resolutions
(`cnncost.timing.resolution_counts`).

Arithmetic is numpy's, element by element, on int64 where a bound on every value (kept beside it
as a Python int) proves it cannot overflow, else on Python ints (object arrays): each entry is the
exact int the code computes at that resolution alone. A branch on sizes (`bool`, `.all()`) must
go the same way at every resolution, and a size used as one int (an index, a count) must be the
same at all: where not, `Diverged` is raised and the caller runs each resolution alone. A
comparison gives a `SizeVector` of bools (numpy's arrays do too: `shapes.holds` and
`shapes.at_least` call `.all()` on it), or `Uniform` where it agrees everywhere. All vectors
hash alike: a dict keyed by shapes then compares them, and each comparison it acts on is one
of the branches above.

While a `Tape` records, every operation on a vector is written down (`Tape.ops`), and every
place where the code took one value for all resolutions (a branch, a comparison equal
everywhere, a size used as one int, a divisor never 0) is a guard. `tape` replays the
operations on other resolutions' sizes, numpy alone: where every guard holds there, the code
would have gone the same way, and the values are those a run at those resolutions would compute
(`resolution_counts.Program`).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from .tape import (
    INT64_SAFE,
    Bound,
    Slot,
    Tape,
    add_bound,
    power_bound,
    quotient_bound,
    remainder_bound,
    times_bound,
)


class Diverged(Exception):
    """Code branched on a size that differs between the resolutions."""


class Uniform(int):
    """A comparison that holds (1) or fails (0) at every resolution: a bool in every use, with the
    array methods `shapes.holds` and `shapes.at_least` call."""

    def all(self) -> bool:
        return bool(self)

    def any(self) -> bool:
        return bool(self)


_TAPE: Tape | None = None  # the tape recording, if any


@contextlib.contextmanager
def recording(tape: Tape) -> Iterator[Tape]:
    """Record onto `tape` every operation on vectors made within (one tape at a time)."""
    global _TAPE
    previous, _TAPE = _TAPE, tape
    try:
        yield tape
    finally:
        _TAPE = previous


def _operand(x: Any) -> Any:
    return Slot(x.slot) if type(x) is SizeVector else x


def _key(x: Any) -> Any:
    """An operand as a recorded operation's key names it; None: a vector on no tape (never merged)."""
    if type(x) is SizeVector:
        return ("slot", x.slot) if x.slot >= 0 else None
    return (type(x), x)


def _guard(x: SizeVector, kind: str, expected: Any) -> None:
    if _TAPE is not None and x.slot >= 0:
        _TAPE.guards.append((x.slot, kind, expected))


def _result(values: Any, bound: int | None, ufunc: Any, a: Any, b: Any, rule: Bound | None, check: bool = False
            ) -> Any:
    """The vector of an operation's values (recorded); `check` (a comparison): the plain value
    where every resolution has the same (a guard)."""
    slot = -1
    tape = _TAPE
    kind = values.dtype.kind
    if tape is not None:
        # the same operation on the same operands (a repeated block's sizes) is one slot: its
        # passes' counts then come from the same rows (`resolution_counts` merges such passes)
        key = (ufunc, _key(a), _key(b) if ufunc is not None else b, rule)
        known = tape.seen.get(key) if key[1] is not None and key[2] is not None else None
        if known is None:
            slot = len(tape.ops)
            tape.ops.append((ufunc, _operand(a), _operand(b) if ufunc is not None else b, rule))
            tape.kinds.append(kind)
            tape.seen[key] = slot
        else:
            slot = known
    if check:
        first = values[0]
        if first == values[-1] and (values == first).all():
            value: Any = bool(first) if kind == "b" else float(first) if kind == "f" else int(first)
            if tape is not None:
                tape.guards.append((slot, "equal", value))
            return value
    if kind == "i" and bound is None:
        bound = int(np.abs(values).max())
    out = SizeVector(values, bound if kind == "i" else None)
    out.slot = slot
    return out


def _parts(x: Any) -> tuple[Any, int | None] | None:
    """(values, bound on their magnitude) of an operand; None: not a number this class takes."""
    if type(x) is SizeVector:
        values = x.values
        if values.dtype.kind == "b":  # bools count as 0 and 1 (numpy would add them as `or`)
            return values.astype(np.int64), 1
        return values, x.bound
    if isinstance(x, (int, np.integer)):  # (bool and Uniform too)
        v = int(x)
        return v, abs(v)
    if isinstance(x, (float, np.floating)):
        return float(x), None
    return None


def _as_int(x: Any) -> Any:
    """A vector of bools as 0 and 1 (recorded as such), anything else as it is."""
    if type(x) is SizeVector and x.values.dtype.kind == "b":
        return _result(x.values.astype(np.int64), 1, None, x, np.int64, None)
    return x


def _binary(a: Any, b: Any, ufunc: Any, rule: Bound | None) -> Any:
    """ufunc(a, b), a or b a vector, exact (Python ints where int64 could overflow)."""
    a, b = _as_int(a), _as_int(b)
    pa, pb = _parts(a), _parts(b)
    if pa is None or pb is None:
        return NotImplemented
    (va, ba), (vb, bb) = pa, pb
    limit = None if ba is None or bb is None or rule is None else rule(ba, bb)
    if limit is not None and limit >= INT64_SAFE:  # exact Python ints from here on
        va = va.astype(object) if isinstance(va, np.ndarray) else va
        vb = vb.astype(object) if isinstance(vb, np.ndarray) else vb
    out = ufunc(va, vb)
    return _result(out, limit if out.dtype.kind == "i" else None, ufunc, a, b, rule)


def _shifted(x: SizeVector, c: int) -> Any:
    """x + c, c an int."""
    if not c:
        return x
    bound = x.bound
    if bound is None or bound + abs(c) >= INT64_SAFE:
        return _binary(x, c, np.add, add_bound)
    return _result(x.values + c, bound + abs(c), np.add, x, c, add_bound)


def _from(c: int, x: SizeVector) -> Any:
    """c - x, c an int."""
    bound = x.bound
    if bound is None or bound + abs(c) >= INT64_SAFE:
        return _binary(c, x, np.subtract, add_bound)
    return _result(c - x.values, bound + abs(c), np.subtract, c, x, add_bound)


def _scaled(x: SizeVector, c: int) -> Any:
    """x * c, c an int."""
    if c == 1:
        return x
    if not c:
        return _binary(x, c, np.multiply, times_bound)
    memo = x.multiples
    if memo is None:
        memo = x.multiples = {}
    else:
        hit = memo.get(c)
        if hit is not None:  # (a storage's bytes, asked for by every step that reads it)
            return hit
    bound = x.bound
    if bound is None or bound * abs(c) >= INT64_SAFE:
        out = _binary(x, c, np.multiply, times_bound)
    else:
        out = _result(x.values * c, bound * abs(c), np.multiply, x, c, times_bound)
    memo[c] = out
    return out


def _sum(a: SizeVector, b: SizeVector, ufunc: Any) -> Any:
    """a + b or a - b of two int64 vectors (the sums of the per-pass counts)."""
    bound = a.bound + b.bound  # type: ignore[operator]  # callers: both int64
    if bound >= INT64_SAFE:
        return _binary(a, b, ufunc, add_bound)
    return _result(ufunc(a.values, b.values), bound, ufunc, a, b, add_bound)


def _product(a: SizeVector, b: SizeVector) -> Any:
    """a x b of two int64 vectors (a map's H x W)."""
    memo = a.products
    if memo is not None:
        hit = memo.get(id(b))
        if hit is not None and hit[0] is b:  # (numel of one shape, asked for again and again)
            return hit[1]
    else:
        memo = a.products = {}
    bound = a.bound * b.bound  # type: ignore[operator]  # callers: both int64
    if bound >= INT64_SAFE:
        out = _binary(a, b, np.multiply, times_bound)
    else:
        out = _result(a.values * b.values, bound, np.multiply, a, b, times_bound)
    memo[id(b)] = (b, out)
    return out


def _divisor(b: Any) -> None:
    """Python raises where numpy gives 0: a divisor must be non-zero at every resolution."""
    if type(b) is SizeVector:
        if not (b.values != 0).all():
            raise Diverged("division by a size that is 0 at some resolution")
        _guard(b, "nonzero", None)


def _compare(a: Any, b: Any, ufunc: Any) -> Any:
    pa, pb = _parts(a), _parts(b)
    if pa is None or pb is None:
        return NotImplemented
    out = _result(ufunc(pa[0], pb[0]), None, ufunc, _as_int(a), _as_int(b), None, check=True)
    return Uniform(out) if type(out) is bool else out


class SizeVector:
    """Per resolution, the value of one size (see the module docstring)."""

    __slots__ = ("values", "bound", "slot", "products", "multiples")

    def __init__(self, values: Any, bound: int | None) -> None:
        # bound: >= every |value|, where the values are int64 (None: Python ints, floats or bools)
        self.values, self.bound = values, bound
        self.slot = -1  # its operation on the tape recording it (-1: none)
        self.products: dict[int, tuple[SizeVector, Any]] | None = None  # id(other) -> (other, self x other)
        self.multiples: dict[int, Any] | None = None  # int c -> self x c

    # arithmetic, as on the ints of one resolution (the common cases first: a size and an int,
    # two int64 sizes)
    def __add__(self, other: Any) -> Any:
        if type(other) is int:
            return _shifted(self, other)
        if type(other) is SizeVector and self.bound is not None and other.bound is not None:
            return _sum(self, other, np.add)
        return _binary(self, other, np.add, add_bound)

    def __radd__(self, other: Any) -> Any:
        if type(other) is int:
            return _shifted(self, other)
        return _binary(other, self, np.add, add_bound)

    def __sub__(self, other: Any) -> Any:
        if type(other) is int:
            return _shifted(self, -other)
        if type(other) is SizeVector and self.bound is not None and other.bound is not None:
            return _sum(self, other, np.subtract)
        return _binary(self, other, np.subtract, add_bound)

    def __rsub__(self, other: Any) -> Any:
        if type(other) is int:
            return _from(other, self)
        return _binary(other, self, np.subtract, add_bound)

    def __mul__(self, other: Any) -> Any:
        if type(other) is int:
            return _scaled(self, other)
        if type(other) is SizeVector and self.bound is not None and other.bound is not None:
            return _product(self, other)
        return _binary(self, other, np.multiply, times_bound)

    def __rmul__(self, other: Any) -> Any:
        if type(other) is int:
            return _scaled(self, other)
        return _binary(other, self, np.multiply, times_bound)

    def __floordiv__(self, other: Any) -> Any:
        _divisor(other)
        return _binary(self, other, np.floor_divide, quotient_bound)

    def __rfloordiv__(self, other: Any) -> Any:
        _divisor(self)
        return _binary(other, self, np.floor_divide, quotient_bound)

    def __mod__(self, other: Any) -> Any:
        _divisor(other)
        return _binary(self, other, np.mod, remainder_bound)

    def __rmod__(self, other: Any) -> Any:
        _divisor(self)
        return _binary(other, self, np.mod, remainder_bound)

    def __truediv__(self, other: Any) -> Any:
        _divisor(other)
        return _binary(self, other, np.true_divide, None)

    def __rtruediv__(self, other: Any) -> Any:
        _divisor(self)
        return _binary(other, self, np.true_divide, None)

    def __pow__(self, other: Any) -> Any:
        if type(other) is not int or other < 0:
            return NotImplemented
        return _binary(self, other, np.power, power_bound)

    def __neg__(self) -> Any:
        return _binary(0, self, np.subtract, add_bound)

    def __pos__(self) -> SizeVector:
        return self

    def __and__(self, other: Any) -> Any:
        return _binary(self, other, np.logical_and, None)

    def __rand__(self, other: Any) -> Any:
        return _binary(other, self, np.logical_and, None)

    def __or__(self, other: Any) -> Any:
        return _binary(self, other, np.logical_or, None)

    def __ror__(self, other: Any) -> Any:
        return _binary(other, self, np.logical_or, None)

    # comparisons: per resolution (a branch on one is `__bool__`)
    def __eq__(self, other: object) -> Any:  # per resolution, as numpy's
        return _compare(self, other, np.equal)

    def __ne__(self, other: object) -> Any:
        return _compare(self, other, np.not_equal)

    def __lt__(self, other: Any) -> Any:
        return _compare(self, other, np.less)

    def __le__(self, other: Any) -> Any:
        return _compare(self, other, np.less_equal)

    def __gt__(self, other: Any) -> Any:
        return _compare(self, other, np.greater)

    def __ge__(self, other: Any) -> Any:
        return _compare(self, other, np.greater_equal)

    def __hash__(self) -> int:
        return 0x5EC7  # all alike: a dict keyed by shapes compares vectors (recorded), never trusts a hash

    # where the code needs one value: the same at every resolution, or `Diverged`
    def __bool__(self) -> bool:
        values = self.values
        if values.all():
            _guard(self, "truth", True)
            return True
        if not values.any():
            _guard(self, "truth", False)
            return False
        raise Diverged("a condition on sizes holds at some resolutions only")

    def __index__(self) -> int:
        return self._one()

    def __int__(self) -> int:
        return self._one()

    def _one(self) -> int:
        """The one int the code needs (an index, a count): where it is the same at every resolution."""
        values = self.values
        if values.dtype.kind in "iO" and (values == values[0]).all():
            value = int(values[0])
            _guard(self, "equal", value)
            return value
        raise Diverged("a size used as one int (an index, a count) differs between resolutions")

    def __float__(self) -> float:
        raise Diverged("a size converted to one float differs between resolutions")

    # the array methods the shape helpers use (`cnncost.shapes`)
    def all(self) -> bool:
        """At one resolution a condition is one bool: its `all()` is itself (`__bool__`)."""
        return bool(self)

    def any(self) -> bool:
        return bool(self)

    def min(self) -> Any:  # (`shapes.shape_text` only: what a description shows)
        return self.values.min()

    def max(self) -> Any:
        return self.values.max()

    def astype(self, dtype: Any) -> Any:
        return _result(self.values.astype(dtype), None, None, self, dtype, None)

    def __repr__(self) -> str:
        return f"SizeVector({self.values.tolist()!r})"

    def __format__(self, spec: str) -> str:
        return f"{self.values.min()}..{self.values.max()}"


def size_vector(values: list[int], slot: int = -1) -> Any:
    """One size per resolution (ints): a SizeVector (input `slot` of a tape recording it), or the
    int where all are equal."""
    if len(set(values)) == 1:
        return int(values[0])
    if max(abs(v) for v in values) >= INT64_SAFE:
        array = np.array([int(v) for v in values], dtype=object)
        out = SizeVector(array, None)
    else:
        array = np.array(values, dtype=np.int64)
        out = SizeVector(array, int(np.abs(array).max()))
    out.slot = slot
    return out
