"""The time model's per-pass counts at many input resolutions at once (a sweep with `hardware=`).

`record`: the graph is compiled once with H and W as `SizeVector`s (one int per resolution): the
compiler, the memory model's trace and `passes.node_rows` run as they do for one resolution,
every size an exact int per resolution, so each pass's work, bytes, reduction length and GEMM
rows come out for all those resolutions from one run of the same code. Every branch on a size
must go the same way at every resolution (`size_vector.Diverged` otherwise): where one does not
(a structure that changes with the size), or the code meets a size it cannot take as a vector,
there is no result and the sweep runs each resolution alone (`sweep_time`). The code's own
array paths (`cnncost.shapes`: what a sweep's numpy sizes take) either give each resolution's
value or refuse; a refusal is such a case.

The run is recorded (`tape.Tape`): a `Program` per (dtype, optimizer) keeps the operations its
counts come from and the guards (every branch the code took, every size it took as one int).
`Program.lines` replays them at other resolutions, numpy alone: the closed forms of the counts
in the input's sizes, one per structure and setup. Where a guard fails at the new sizes (the
code would have gone another way), there are none, and they are recorded anew.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CnnCostError
from .passes import NodeRows, PassCost, PassRow, pass_cost, pass_row
from .sweep import (
    RAW,
    Lines,
    arrays_lines,
    arrays_of,
    pass_arrays,
    pass_meta,
    raw_counts,
    resolution_lines,
    timed_passes,
)
from .size_vector import Diverged, SizeVector, recording, size_vector
from .tape import INT64_SAFE, Batched, Guard, Slot, Tape

# what a vectorised run may meet where one resolution would not (a size that must be one int, an
# operation a SizeVector lacks): the resolutions then run alone, each as a table would
NOT_VECTORISED = (Diverged, CnnCostError, TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError)
Shape = tuple[int, ...]


def _distinct_passes(passes: list[tuple[PassRow, int]], row_of: dict[int, int]
                     ) -> tuple[list[tuple[PassRow, int]], np.ndarray, np.ndarray]:
    """The passes whose counts come from the same replay rows and ints (a repeated block's: the
    tape records an operation on the same operands once), with the same rate key and phase, as
    one each, in order; how many each stands for (floats: what `timing.sweep.pass_lines` scales
    by); and per pass given, its distinct one."""
    def operand(v: Any) -> Any:
        return ("row", row_of[v.index]) if type(v) is Slot else v
    index: dict[Any, int] = {}
    distinct: list[tuple[PassRow, int]] = []
    of = []
    for row, phase in passes:
        key = (tuple(operand(v) for v in raw_counts(row)), operand(row[9]), row[0], row[1], row[12], phase)
        if key not in index:
            index[key] = len(distinct)
            distinct.append((row, phase))
        of.append(index[key])
    inverse = np.array(of, dtype=np.intp)
    return distinct, np.bincount(inverse, minlength=len(distinct)).astype(np.float64), inverse


class Program:
    """The closed forms of one (structure, dtype, optimizer, setup)'s pass counts: `dims`, per input
    dim its tape slot or the int every recorded input had; `rows`, the node rows and the optimizer
    pass with each varying count a `Slot`; `needed` and `guards`, what replaying them takes."""

    def __init__(self, tape: Tape, dims: tuple[Slot | int, ...], input_bounds: list[int], needed: list[int],
                 guards: list[Guard], rows: list[Any], optimizer: Any) -> None:
        self.tape, self.dims, self.input_bounds, self.needed = tape, dims, input_bounds, needed
        self.guards = list({(slot, kind, repr(e)): (slot, kind, e) for slot, kind, e in guards}.values())
        self.rows, self.optimizer = rows, optimizer
        self._batched: tuple[Batched | None, tuple[Any, ...] | None] | None = None  # made on the first replay

    @property
    def batched(self) -> Batched | None:
        return self._replayable()[0]

    @property
    def layout(self) -> tuple[Any, ...] | None:
        return self._replayable()[1]

    def _replayable(self) -> tuple[Batched | None, tuple[Any, ...] | None]:
        if self._batched is None:
            batched = Batched.make(self.tape, self.needed, self.guards, self.input_bounds)
            self._batched = batched, None
            self._batched = batched, self._layout()
        return self._batched

    def _layout(self) -> tuple[Any, ...] | None:
        """For `arrays`: the timed passes, their RAW counts that are the same at every resolution
        (int64) and, for the others, the columns and the batched replay's rows they come from; per
        pass its reduction length (an int, or a replay row). None where a pass's kernels vary
        (whether it is timed could differ) or there is no batched replay."""
        if self.batched is None:
            return None
        row_of = self.batched.row_of
        rows = [r for node in self.rows for r in node if r is not None] + [self.optimizer]
        if any(type(r[8]) is Slot for r in rows):
            return None
        passes = timed_passes(self.rows, pass_cost(self.optimizer))
        assert passes is not None  # (no kernels vary)
        passes, times, of = _distinct_passes(passes, row_of)
        raw = [v for r, _ in passes for v in raw_counts(r)]
        if any(type(v) is not Slot and abs(v) >= INT64_SAFE for v in raw):
            return None
        constant = np.array([0 if type(v) is Slot else v for v in raw], dtype=np.int64)
        columns = [i for i, v in enumerate(raw) if type(v) is Slot]
        sources = np.array([row_of[raw[i].index] for i in columns], dtype=np.intp)
        given: list[Any] = [r[9] for r, _ in passes]  # reduction lengths: a Slot where one may vary
        slots = [(p, v) for p, v in enumerate(given) if type(v) is Slot]
        lengths = ([0 if type(v) is Slot else v for v in given], [p for p, _ in slots],
                   np.array([row_of[slot.index] for _, slot in slots], dtype=np.intp))
        return passes, constant, np.array(columns, dtype=np.intp), sources, lengths, {**pass_meta(passes), "times": times, "of": of}

    def arrays(self, inputs: list[Shape]) -> dict[str, Any] | None:
        """The timed passes' counts at these inputs as `timing.sweep.arrays_of` arrays, straight
        from the batched replay; None where that cannot be done (`counts` may still give them)."""
        layout, leaves = self.layout, self._leaves(inputs)
        if layout is None or leaves is None or self.batched is None:
            return None
        matrix = self.batched.replay(leaves)  # (None past the recorded sizes, or where a guard fails)
        if matrix is None:
            return None
        passes, constant, columns, sources, (reductions, varying, rows), meta = layout
        R = len(inputs)
        ints = np.repeat(constant[None], R, axis=0)
        ints[:, columns] = matrix[sources].T
        reductions = list(reductions)
        if varying:  # each an int where the same at every resolution (most), else its array
            values = matrix[rows]
            same = (values == values[:, :1]).all(axis=1).tolist()
            for p, one, each in zip(varying, same, values):
                reductions[p] = int(each[0]) if one else each
        return arrays_of(passes, ints.reshape(R, len(passes), RAW), reductions, meta)

    def lines(self, inputs: list[Shape], profile: Any) -> list[Lines] | None:
        """The step lines at these inputs on `profile` (`timing.sweep`), per input; None where a
        guard fails there (or int64 could overflow)."""
        arrays = self.arrays(inputs)  # (the batched replay; else op by op, where past its sizes)
        if arrays is not None:
            return arrays_lines(arrays, profile)
        counts = self.counts(inputs)
        return None if counts is None else resolution_lines(counts[0], counts[1], profile, len(inputs))

    def _leaves(self, inputs: list[Shape]) -> list[np.ndarray] | None:
        """The varying input sizes as int64 arrays; None where a size recorded as one int differs."""
        leaves = []
        for k, dim in enumerate(self.dims):
            values = [s[k] for s in inputs]
            if type(dim) is Slot:
                leaves.append(np.array(values, dtype=np.int64))
            elif any(v != dim for v in values):  # recorded as one int: the code may have relied on it
                return None
        if not leaves or max(abs(v) for x in leaves for v in x.tolist()) >= INT64_SAFE:
            return None
        return leaves

    def counts(self, inputs: list[Shape]) -> tuple[list[NodeRows], PassCost] | None:
        """(node rows, optimizer pass) at these inputs, each varying count a SizeVector of
        their values; None where a guard fails (or int64 could overflow)."""
        leaves = self._leaves(inputs)
        if leaves is None:
            return None
        made: dict[int, SizeVector] = {}
        batched = self.batched
        if batched is not None and all(int(np.abs(x).max()) <= b for x, b in zip(leaves, self.input_bounds)):
            matrix = batched.replay(leaves)
            if matrix is None:
                return None
            bounds = np.abs(matrix).max(axis=1).tolist()
            row_of = batched.row_of

            def vector(slot: Slot) -> SizeVector:
                out = made.get(slot.index)
                if out is None:
                    row = row_of[slot.index]
                    out = made[slot.index] = SizeVector(matrix[row], bounds[row])
                return out
        else:
            replayed = self.tape.replay(leaves, self.needed, self.guards)
            if replayed is None:
                return None
            values = replayed

            def vector(slot: Slot) -> SizeVector:
                out = made.get(slot.index)
                if out is None:
                    array, bound = values[slot.index]
                    out = made[slot.index] = SizeVector(array, bound)
                return out

        def fill(row: Any) -> Any:
            if row is None:
                return None
            return tuple(vector(v) if type(v) is Slot else v for v in row)

        return [tuple(fill(p) for p in node) for node in self.rows], pass_cost(fill(self.optimizer))


def _first(arrays: dict[str, Any], keep: int) -> dict[str, Any]:
    """`pass_arrays` of the first `keep` resolutions (a reduction length equal at those: an int)."""
    reductions: list[Any] = []
    length: Any
    for length in arrays["reduction"]:
        if type(length) is not int:
            length = length[:keep]
            if (length == length[0]).all():
                length = int(length[0])
        reductions.append(length)
    return arrays | {"counts": arrays["counts"][:keep], "reduction": reductions}


def _template(row: Any) -> Any:
    if row is None:
        return None
    return tuple(Slot(v.slot) if type(v) is SizeVector else v for v in row)


def record(net: Any, inputs: list[Shape], setups: list[tuple[str, str]], freeze: tuple[str, ...], device: str,
           release: tuple[int, int], foreach: bool, profile: Any) -> dict[tuple[str, str], tuple[Program, list[Lines]]] | None:
    """Per (dtype, optimizer) of `setups`, the `Program` of `net` at `inputs` (same rank, two or
    more) and its step lines there on `profile`, from one compile and one trace per dtype (the
    recorded run's own counts: every branch went one way at all its inputs, so each input's are
    those it would have alone); None where a size diverges. Recorded with two larger inputs beside
    them (`_probes`): fewer branches are then taken only because the inputs were close together (a
    size below some threshold at all of them), each a guard the next inputs would have to meet."""
    for shapes in (inputs + _probes(inputs), inputs):
        recorded = _record(net, shapes, setups, freeze, device, release, foreach, len(inputs), profile)
        if recorded is not None:
            return recorded
    return None


def _probes(inputs: list[Shape]) -> list[Shape]:
    """Two inputs larger than all: each size that varies between them doubled and tripled (plus
    one or two, apart between dims)."""
    top = [max(s[k] for s in inputs) for k in range(len(inputs[0]))]
    varies = [len({s[k] for s in inputs}) > 1 for k in range(len(top))]
    return [tuple(2 * v + 1 + k % 2 if varies[k] else v for k, v in enumerate(top)),
            tuple(3 * v + 2 - k % 2 if varies[k] else v for k, v in enumerate(top))]


def _record(net: Any, inputs: list[Shape], setups: list[tuple[str, str]], freeze: tuple[str, ...], device: str,
            release: tuple[int, int], foreach: bool, keep: int, profile: Any
            ) -> dict[tuple[str, str], tuple[Program, list[Lines]]] | None:
    """`record` at `inputs`, the lines of the first `keep` of them."""
    from ..conventions import memory_dtype
    from ..counting.training import frozen_nodes
    from ..graph import DEFAULT_MAX_NODES, _Compiler  # the compiler itself: `compile` checks for plain ints
    from ..memory import Precision, trace
    from .step import step_costs

    varying = [k for k in range(len(inputs[0])) if len({s[k] for s in inputs}) > 1]
    tape = Tape(len(varying))
    dims = tuple(Slot(varying.index(k)) if k in varying else inputs[0][k] for k in range(len(inputs[0])))
    shape = tuple(size_vector([s[k] for s in inputs], varying.index(k)) if k in varying else inputs[0][k]
                  for k in range(len(inputs[0])))
    input_bounds = [max(abs(s[k]) for s in inputs) for k in varying]
    out: dict[tuple[str, str], tuple[Program, list[Lines]]] = {}
    try:
        with recording(tape):
            graph = _Compiler(net, DEFAULT_MAX_NODES).run(((net.input_name, shape),))
            frozen = frozen_nodes(graph, freeze) if freeze else None
            for dtype, optimizer in setups:
                traced = trace(graph, precision=Precision(memory_dtype(dtype), device, release))
                rows, step = step_costs(graph, traced, dtype, optimizer, frozen, foreach=foreach)
                template = [tuple(_template(p) for p in node) for node in rows]
                optimizer_row = _template(pass_row(step))
                # the guards so far: this setup's branches, and those of whatever it reused
                guards = list(tape.guards)
                roots = [g[0] for g in guards] + [v.index for row in template for p in row if p is not None
                                                  for v in p if type(v) is Slot]
                roots += [v.index for v in optimizer_row if type(v) is Slot]
                program = Program(tape, dims, input_bounds, tape.needed(roots), guards, template, optimizer_row)
                arrays = program.arrays(inputs[:keep])  # (its equal passes merged: as a replay gives them)
                if arrays is None:
                    arrays = pass_arrays(rows, step, len(inputs))
                    if arrays is None:
                        return None
                    arrays = _first(arrays, keep)
                out[(dtype, optimizer)] = program, arrays_lines(arrays, profile)
    except NOT_VECTORISED:
        return None
    return out
