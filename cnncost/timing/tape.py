"""The record of a vectorised run (`size_vector`): its operations on sizes and its guards, and
their replay at other sizes (`resolution_counts.Program`).

Replay runs the needed operations again on numpy arrays of the new sizes, then checks every
guard there. Exactness: int64 only where no value can overflow. `Tape.replay` bounds every
value as the run did (each operation's bound rule on its operands' bounds). `Batched` replays a
tape whose values were all int64 or bool: every operation of one depth and kind in one numpy
call, on one (values, resolutions) matrix; its bound rules (sum, product, quotient + 1, the
divisor for a remainder) never decrease when an operand's bound grows, so where no input size
exceeds the recorded run's largest, no value exceeds the bound it had there (below 2^62).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

INT64_SAFE = 2**62  # bound below which int64 arithmetic is used (a sum or product of two such fits)
Bound = Callable[[int, int], int]
Guard = tuple[int, str, Any]  # (slot, kind, expected): see `Tape`


class Slot:
    """An operand of a recorded operation: the result of an earlier one (or an input size)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def add_bound(x: int, y: int) -> int:
    return x + y


def times_bound(x: int, y: int) -> int:
    return x * y


def quotient_bound(x: int, y: int) -> int:
    return x + 1


def remainder_bound(x: int, y: int) -> int:
    return y


def power_bound(x: int, y: int) -> int:
    return int(x ** y)


class Tape:
    """The operations of a vectorised run. `ops[i]`: (ufunc, a, b, bound rule), a and b a `Slot`
    or a constant (astype: ufunc None, b the dtype); the first `inputs` are the input sizes;
    `kinds[i]`: the numpy kind of its values ("i", "b", "f", "O"); `guards`: (slot, kind,
    expected), kind "equal" (every value equals expected), "truth" (all true, or all false as
    expected), "nonzero"."""

    def __init__(self, inputs: int) -> None:
        self.inputs = inputs
        self.ops: list[tuple[Any, Any, Any, Bound | None]] = [(None, None, None, None)] * inputs
        self.kinds: list[str] = ["i"] * inputs
        self.guards: list[Guard] = []
        self.seen: dict[Any, int] = {}  # an operation on the same operands -> its slot (each recorded once)

    def needed(self, roots: list[int]) -> list[int]:
        """The slots the roots are computed from, themselves included, ascending (operands come
        before their results: one pass from the last root down)."""
        marked = bytearray(len(self.ops))
        for i in roots:
            marked[i] = 1
        ops = self.ops
        for i in range(max(roots, default=-1), -1, -1):
            if marked[i]:
                _, a, b, _ = ops[i]
                if type(a) is Slot:
                    marked[a.index] = 1
                if type(b) is Slot:
                    marked[b.index] = 1
        return [i for i, m in enumerate(marked) if m]

    def replay(self, inputs: list[np.ndarray], needed: list[int], guards: list[Guard]
               ) -> dict[int, tuple[Any, int | None]] | None:
        """The values of the `needed` slots (ascending) from other input sizes (int64 arrays, one
        per input): (values, bound) each; None where a guard fails or int64 could overflow."""
        with np.errstate(all="ignore"):  # (a divisor 0 somewhere: its guard fails below)
            return self._replay(inputs, needed, guards)

    def _replay(self, inputs: list[np.ndarray], needed: list[int], guards: list[Guard]
                ) -> dict[int, tuple[Any, int | None]] | None:
        values: dict[int, tuple[Any, int | None]] = {}
        for i, array in enumerate(inputs):
            values[i] = (array, int(np.abs(array).max()))
        ops = self.ops
        for i in needed:
            if i < self.inputs:
                continue
            ufunc, a, b, bound = ops[i]
            va, ba = values[a.index] if type(a) is Slot else (a, _magnitude(a))
            if ufunc is None:  # astype
                out = va.astype(b)
                values[i] = (out, int(np.abs(out).max()) if out.dtype.kind == "i" else None)
                continue
            vb, bb = values[b.index] if type(b) is Slot else (b, _magnitude(b))
            limit = None if bound is None or ba is None or bb is None else bound(ba, bb)
            if limit is not None and limit >= INT64_SAFE:
                return None  # (a run at these sizes would compute in Python ints: run it)
            out = ufunc(va, vb)
            values[i] = (out, limit if out.dtype.kind == "i" else None)
        for slot, kind, expected in guards:
            if not _holds(values[slot][0], kind, expected):
                return None
        return values


def _magnitude(x: Any) -> int | None:
    return abs(int(x)) if isinstance(x, (int, np.integer)) else None


def _holds(array: Any, kind: str, expected: Any) -> bool:
    if kind == "equal":
        return bool((array == expected).all())
    if kind == "truth":
        return bool(array.all()) if expected else not array.any()
    return bool((array != 0).all())  # nonzero


class Batched:
    """A tape's needed operations grouped for replay: by depth, then by operation and by whether
    each operand is a value or a constant (see the module docstring); None from `make` where a
    value was not int64 or bool."""

    def __init__(self, inputs: int, steps: list[tuple[Any, Any, Any, Any]], guards: dict[str, Any], rows: int,
                 row_of: dict[int, int], input_bounds: list[int]) -> None:
        self.inputs, self.steps, self.guards, self.rows, self.row_of = inputs, steps, guards, rows, row_of
        self.input_bounds = input_bounds

    @classmethod
    def make(cls, tape: Tape, needed: list[int], guards: list[Guard], input_bounds: list[int]) -> Batched | None:
        if any(tape.kinds[i] not in "ib" for i in needed):
            return None
        row_of = {slot: row for row, slot in enumerate(needed)}
        depth = [0] * len(needed)
        groups: dict[tuple[int, Any, bool, bool], list[tuple[int, Any, Any]]] = {}
        for row, slot in enumerate(needed):
            if slot < tape.inputs:
                continue
            ufunc, a, b, _ = tape.ops[slot]
            operands = [a] if ufunc is None else [a, b]
            depth[row] = 1 + max((depth[row_of[x.index]] for x in operands if type(x) is Slot), default=0)
            a_value = type(a) is Slot
            b_value = ufunc is not None and type(b) is Slot
            key = (depth[row], ufunc if ufunc is not None else ("astype", b), a_value, b_value)
            groups.setdefault(key, []).append((row, row_of[a.index] if a_value else a,
                                               row_of[b.index] if b_value else b))
        try:
            return cls._grouped(tape, needed, guards, input_bounds, row_of, groups)
        except OverflowError:  # a constant past int64 (compared with a size): op by op, in Python ints
            return None

    @classmethod
    def _grouped(cls, tape: Tape, needed: list[int], guards: list[Guard], input_bounds: list[int],
                 row_of: dict[int, int], groups: dict[tuple[int, Any, bool, bool], list[tuple[int, Any, Any]]]
                 ) -> Batched:
        steps = []
        for (_, ufunc, a_value, b_value), members in sorted(groups.items(), key=lambda item: item[0][0]):
            out = np.array([m[0] for m in members], dtype=np.intp)
            a = np.array([m[1] for m in members], dtype=np.intp if a_value else np.int64)
            b = None if isinstance(ufunc, tuple) else np.array([m[2] for m in members],
                                                                 dtype=np.intp if b_value else np.int64)
            steps.append((ufunc, out, (a, a_value), (b, b_value)))
        by_kind: dict[str, list[tuple[int, Any]]] = {}
        for slot, kind, expected in guards:
            name = kind if kind in ("equal", "nonzero") else f"{kind} {bool(expected)}"  # "truth True", ...
            by_kind.setdefault(name, []).append((row_of[slot], expected))
        checks = {kind: (np.array([r for r, _ in items], dtype=np.intp),
                         np.array([int(e) for _, e in items], dtype=np.int64)[:, None] if kind == "equal" else None)
                  for kind, items in by_kind.items()}
        return cls(tape.inputs, steps, checks, len(needed), row_of, input_bounds)

    def replay(self, inputs: list[np.ndarray]) -> np.ndarray | None:
        """(rows, R) int64 values of the needed slots (`row_of`), or None where a guard fails or an
        input size exceeds the recorded run's largest (its bounds then no longer hold)."""
        if any(int(np.abs(x).max()) > bound for x, bound in zip(inputs, self.input_bounds)):
            return None
        values = np.empty((self.rows, len(inputs[0])), dtype=np.int64)
        values[:self.inputs] = inputs
        with np.errstate(all="ignore"):  # (a divisor 0 somewhere: its guard fails below)
            for ufunc, out, (a, a_value), (b, b_value) in self.steps:
                va = values[a] if a_value else a[:, None]
                if isinstance(ufunc, tuple):  # astype (bools as 0 and 1: already so)
                    values[out] = va
                    continue
                values[out] = ufunc(va, values[b] if b_value else b[:, None])
        return values if self._checks(values) else None

    def _checks(self, values: np.ndarray) -> bool:
        for kind, (rows, expected) in self.guards.items():
            got = values[rows]
            if kind == "equal":
                ok = bool((got == expected).all())
            elif kind in ("nonzero", "truth True"):
                ok = bool(got.all())
            else:  # truth False
                ok = not got.any()
            if not ok:
                return False
        return True
