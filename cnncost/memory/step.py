"""The memory of a whole training step (or of inference), as a timeline of moments, each with a
breakdown of what is held; the peak is the largest moment.

Model (PyTorch eager, `optimizer.zero_grad(set_to_none=True)` between steps):
- held throughout: parameters, buffers (norms' running mean and variance and num_batches_tracked),
  optimizer state (with Adam's fp32 step counters on the CPU: optimizer_step.step_counters);
- forward, after step k: parameters, optimizer state, autocast's weight copies so far, the input
  batch, every storage saved so far, and the other tensors still to be read;
- backward, at step k (in reverse): the saved storages whose first saver is k or earlier (autograd
  frees a node's saved tensors once it ran), gradients of the parameters of steps k and later, and
  the gradient of every tensor between its last reader and its producer, plus what one gradient
  per storage misses (grad_moments.py: an in-place op's second gradient, the sum of a storage's
  partial gradients, a concat's gradient held until its last view is used; an add's inputs share
  its output's gradient: one storage); a step's parameters' gradients as its node makes them (in
  the low dtype under autocast);
- after step k's node, where it needs a moment of its own: its gradient sum, then its parameters'
  gradients settling into `.grad` (a cast from the low dtype, a copy into the parameter's layout:
  grad_settling.py), with its saved tensors, weight copies and output's gradient freed;
- optimizer step: parameters, gradients, state, and Adam's temporaries (optimizer_step.py: CUDA's
  foreach implementation allocates one fp32 copy of all parameters, the CPU's per-parameter loop
  two of the largest);
- inference (eval, no grad): `inference.py`.
Not modelled: cuDNN workspaces, allocator rounding, the loss (docs/memory.md, "The step on CPU,
measured").

The timeline is kept by column: per part, the per-sample and fixed bytes of every moment as lists
of ints (running sums and difference arrays, linear in the number of steps). A `Moment` with its
breakdown is made only when asked for (`moments[i]`, `peak`), so the model costs a few list passes
per step, whatever the depth.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any, Callable, Iterator, Sequence

from .._gcpause import paused_gc
from .accumulate import accumulated
from .grad_moments import backward_extras, concat_views, gradient_storages, gradient_sums
from .grad_settling import moment_label, settling, training_axis
from .optimizer_step import optimizer_temporaries, step_counters
from .setup import Setup
from .sharding import RANK_PARTS, per_rank
from .tensors import ELEMENT_BYTES, Bytes
from .trace import Trace

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}   # fp32 copies of the parameters
OPTIMIZER_TEMPORARIES = {"sgd": 0, "momentum": 0, "adam": 1, "adamw": 1}
PARTS: tuple[str, ...] = ("parameters", "gradients", "optimizer state", "optimizer temporaries", "weight casts",
         "input batch", "saved for backward", "live activations", "activation gradients",
         "recomputed") + RANK_PARTS  # recomputed: activation checkpointing only (`checkpoint.py`)
PARTS += ("buffers", "op temporaries")  # op temporaries: inference only (inference.py)

Column = Any  # an int (the same at every moment) or a list of ints, one per moment


@dataclass(frozen=True)
class Moment:
    """What is held at one point of the step; `parts` keyed by PARTS (zeros left out)."""

    phase: str
    parts: dict[str, Bytes]

    def at(self, batch: int) -> int:
        return sum(b.at(batch) for b in self.parts.values())


class StepMemory:
    """Every moment of one step; `peak(batch)` is the largest. `totals` = (per-sample, fixed) bytes
    of each whole moment, as lists; `parts[name]` = (per-sample, fixed) columns of one part (an int
    where it is the same at every moment), computed on first use."""

    def __init__(self, trace: Trace, setup: Setup, count: int, totals: tuple[list[int], list[int]],
                 parts: Any, breakdown: Any, phase: Any, backward_of: list[int] | None = None) -> None:
        self.trace, self.setup, self.count, self.totals = trace, setup, count, totals
        self.backward_of = backward_of  # per moment, the trace step whose backward runs there (-1: none)
        # training: per moment, the parameter gradients micro-step 1 holds, and what a later micro-step
        # of gradient accumulation holds beyond its .grad tensors (accumulate.py)
        self.gradient_columns: tuple[list[int], list[int]] | None = None
        self._parts, self._breakdown, self._phase = parts, breakdown, phase

    def saved_columns(self) -> tuple[list[int], list[int]]:
        """(per-sample, fixed) bytes each trace step saves first (checkpointing changes them)."""
        return self.trace._saved_columns()

    @property
    def optimizer(self) -> str:
        return self.setup.optimizer

    @property
    def mode(self) -> str:
        return self.setup.mode

    @property
    def parts(self) -> dict[str, tuple[Column, Column]]:
        if callable(self._parts):
            self._parts = self._parts()
        return self._parts

    @property
    def moments(self) -> Sequence[Moment]:
        return _Moments(self)

    def moment(self, i: int) -> Moment:
        """Moment i with its breakdown: from the part columns once they exist, else computed for
        this moment alone (one pass over the step's storages, no columns)."""
        if callable(self._parts):
            values = self._breakdown(i)
        else:
            values = {}
            for name, (a, c) in self._parts.items():
                values[name] = (a if type(a) is int else a[i], c if type(c) is int else c[i])
        parts = {}
        for name in PARTS:
            a, c = values.get(name, (0, 0))
            if a or c:
                parts[name] = Bytes(a, c)
        return Moment(self._phase(i), parts)

    def peak_index(self, batch: int) -> int:
        """The first moment holding the most at `batch`."""
        per_sample, fixed = self.totals
        values = [a * batch + c for a, c in zip(per_sample, fixed)]
        return values.index(max(values))

    def peak(self, batch: int) -> Moment:
        return self.moment(self.peak_index(batch))

    def envelope(self) -> tuple[list[int], list[int]]:
        """The moments that can be the peak at some batch: the upper envelope of the lines
        per_sample x batch + fixed, as (slopes, intercepts). max over them = the peak's bytes."""
        best: dict[int, int] = {}
        for a, c in zip(*self.totals):
            if best.get(a, c - 1) < c:
                best[a] = c
        hull: list[tuple[int, int]] = []
        for a, c in sorted(best.items()):
            while len(hull) >= 2:
                (a1, c1), (a2, c2) = hull[-2], hull[-1]
                # the middle line is never above both neighbours (exact, in integers)
                if (c - c1) * (a2 - a1) >= (c2 - c1) * (a - a1):
                    hull.pop()
                else:
                    break
            hull.append((a, c))
        return [a for a, _ in hull], [c for _, c in hull]


class _Moments(Sequence):
    """The moments of a step, made on demand; iterating makes the part columns first."""

    def __init__(self, step: StepMemory) -> None:
        self._step = step

    def __len__(self) -> int:
        return self._step.count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            self._step.parts  # noqa: B018  (computes the columns once)
            return tuple(self._step.moment(i) for i in range(*index.indices(len(self))))
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("moment index out of range")
        return self._step.moment(index)

    def __iter__(self) -> Iterator[Moment]:
        self._step.parts  # noqa: B018  columns once, then each moment is a lookup
        for i in range(len(self)):
            yield self._step.moment(i)


def step_memory(trace: Trace, setup: Setup = Setup()) -> StepMemory:
    """The timeline of one training step (or inference pass) of a traced net under `setup`
    (computed once per trace and setup, then shared: read-only)."""
    cache = trace.step_memories
    step = cache.get(setup)
    if step is None:
        if setup.accumulate > 1:  # --accumulate: built from the plain step (accumulate.py)
            single = step_memory(trace, replace(setup, accumulate=1))
            step = cache[setup] = StepMemory(trace, setup, *accumulated(single, setup))
            if setup.checkpoint:  # the checkpointing's own figures are the micro-step's
                for name in ("saved_columns", "recomputed", "cached", "checkpoint_convention"):
                    setattr(step, name, getattr(single, name))
            return step
        if setup.mode == "train" and setup.checkpoint:  # activation checkpointing: its own timeline (`checkpoint.py`)
            step = cache[setup] = _checkpointed(trace, setup)
        else:
            step = cache[setup] = MODELS[setup.mode](trace, setup)
    return step


def _param_total(trace: Trace) -> int:
    return sum(s.params for s in trace.steps) * ELEMENT_BYTES[trace.precision.param_dtype]


def _running(values: list[int], size: int) -> list[int]:
    """size x (values[0] + ... + values[k]) for every k."""
    sums = list(accumulate(values))
    return sums if size == 1 else [v * size for v in sums]


def _live(n: int, intervals: Any) -> tuple[list[int], list[int]]:
    """Sum of (per-sample, fixed) bytes over (first, last, per_sample, fixed) intervals, at each of
    the n positions: a difference array, then one running sum."""
    per_sample, fixed = [0] * (n + 1), [0] * (n + 1)
    any_fixed = False
    for first, last, a, c in intervals:
        if first < 0:
            first = 0
        if last > n - 1:
            last = n - 1
        if first <= last:
            per_sample[first] += a
            per_sample[last + 1] -= a
            if c:
                any_fixed = True
                fixed[first] += c
                fixed[last + 1] -= c
    del per_sample[n], fixed[n]
    return list(accumulate(per_sample)), (list(accumulate(fixed)) if any_fixed else fixed)


def _covering(k: int, intervals: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """Sum of (per-sample, fixed) over the intervals that contain position k."""
    a = c = 0
    for first, last, p, f in intervals:
        if first <= k <= last:
            a += p
            c += f
    return a, c


def _add(*columns: Any) -> list[int]:
    """Element-wise sum of lists (and ints, added to every element)."""
    lists = [c for c in columns if type(c) is not int]
    constant = sum(c for c in columns if type(c) is int)
    out = list(map(sum, zip(*lists))) if len(lists) > 1 else list(lists[0])
    return [v + constant for v in out] if constant else out


def _training(trace: Trace, setup: Setup) -> StepMemory:
    with paused_gc():
        return _training_step(trace, setup)


def _input_batch(trace: Trace) -> tuple[int, int, set[int]]:
    """The input batch: every input's bytes (per sample, fixed) and the inputs' storage ids."""
    inputs = trace.inputs
    return (sum(t.nbytes_per_sample for t in inputs), sum(t.nbytes_fixed for t in inputs),
            {t.id for t in inputs})


def _training_step(trace: Trace, setup: Setup) -> StepMemory:
    optimizer = setup.optimizer
    n, steps = len(trace.steps), trace.steps
    params = _param_total(trace)
    cast_size, param_size = ELEMENT_BYTES[trace.precision.dtype], ELEMENT_BYTES[trace.precision.param_dtype]
    casts_fw = _running([s.new_casts for s in steps], cast_size)  # cast cache, steps 0..k
    casts_bw = _running([s.weight_casts for s in steps], cast_size)  # saved weight copies, steps 0..k
    # --freeze: gradients, optimizer state and temporaries of the trainable parameters only
    grads_after = _running([s.trainable_params for s in reversed(steps)], param_size)[::-1]  # steps k..n-1
    trainable = grads_after[0] if steps else 0
    # a step's own gradients: as its node makes them (low under autocast), and after it (grad_settling.py)
    at_node, after = settling(trace)
    grads_node = [g - s.trainable_params * param_size + own for g, s, own in zip(grads_after, steps, at_node)]
    # Adam's moments; its step counters (CPU); batch norm's running statistics (buffers)
    state = trainable * OPTIMIZER_STATE[optimizer] + step_counters(trace, optimizer)
    buffers = sum(trace.buffer_sizes())
    # CUDA's foreach copies of the trainable parameters; the CPU's per-parameter loop (optimizer_step.py)
    temporaries = optimizer_temporaries(trace, optimizer, OPTIMIZER_TEMPORARIES[optimizer])
    x_ps, x_fx, input_ids = _input_batch(trace)
    outputs = {t.id: t for t in trace.outputs if t.id not in input_ids}
    out_a = sum(t.nbytes_per_sample for t in outputs.values())
    out_c = sum(t.nbytes_fixed for t in outputs.values())
    savers, last_read = trace.first_savers(), trace.last_reads()
    needing_grad = gradient_storages(trace)  # one gradient per storage that requires grad
    saved_iv: list[tuple[int, int, int, int]] = []
    other_iv: list[tuple[int, int, int, int]] = []
    grad_iv: list[tuple[int, int, int, int]] = []
    for i, step in enumerate(steps):  # every storage, where it is made (ids are unique: made once)
        for t in step.created:
            tensor_id = t.id
            end = last_read.get(tensor_id, i)
            item = (i, n if tensor_id in savers else (end if end > i else i), t.nbytes_per_sample, t.nbytes_fixed)
            (saved_iv if tensor_id in savers else other_iv).append(item)
            if tensor_id in needing_grad:
                grad_iv.append((i, end, t.nbytes_per_sample, t.nbytes_fixed))
    saved_ps, saved_fx = [0] * n, [0] * n  # bytes first saved at each step; held in backward until then
    for i, t in savers.values():
        if t.id in input_ids:  # the input batch itself (fp32 conv1 saves it): held as the input, once
            continue
        saved_ps[i] += t.nbytes_per_sample
        saved_fx[i] += t.nbytes_fixed
    saved_bw = (_running(saved_ps, 1), _running(saved_fx, 1))
    grad_iv += concat_views(trace)  # a concat's gradient, held until its last view is used (grad_moments.py)
    grads = _live(n, grad_iv)
    # in-place ops' second gradients, partial gradients, formulas' temporaries (grad_moments.py);
    # a sum after the node that holds more at every batch replaces them there, one that crosses
    # them gets its own moment
    extras = backward_extras(trace)
    dominating, sums = gradient_sums(trace, extras)
    for column, extra, j in zip(grads, extras, (0, 1)):
        for k, value in enumerate(extra):
            column[k] += dominating[k][j] if k in dominating else value
    # after a step's node: its own saved tensors, weight copies, extras and the gradients it made
    # the last use of (its output's) are freed; its parameters' gradients settle (grad_settling.py)
    ending = ([0] * n, [0] * n)
    for first, last, a, c in grad_iv:
        if first <= last:
            ending[0][first] += a
            ending[1][first] += c

    def earlier(column: list[int], k: int) -> int:
        return column[k - 1] if k else 0

    def after_node(k: int, kind: str) -> dict[str, tuple[int, int]]:
        """The parts a moment after step k's node changes: its gradient sum (`kind` "sum") or its
        parameters' gradients settling ("after")."""
        shown = dominating.get(k, (extras[0][k], extras[1][k]))
        held = sums[k] if kind == "sum" else (0, 0)
        return {"gradients": (0, grads_node[k] if kind == "sum" else grads_node[k] - at_node[k] + after[k][0]),
                "weight casts": (0, earlier(casts_bw, k)),
                "saved for backward": (earlier(saved_bw[0], k), earlier(saved_bw[1], k)),
                "activation gradients": (grads[0][k] - shown[0] - ending[0][k] + held[0],
                                         grads[1][k] - shown[1] - ending[1][k] + held[1])}

    axis = training_axis(n, after, sums)
    m = len(axis)
    fixed_all = params + state + buffers
    live_fw = _live(n, saved_iv + other_iv)  # saved and other together
    totals_ps, totals_fx = [], []
    for k in range(n):
        totals_ps.append(live_fw[0][k] + x_ps)
        totals_fx.append(live_fw[1][k] + casts_fw[k] + fixed_all + x_fx)
    for kind, k in axis[n:-1]:
        if kind == "backward":
            totals_ps.append(saved_bw[0][k] + grads[0][k] + x_ps + out_a)
            totals_fx.append(saved_bw[1][k] + grads[1][k] + grads_node[k] + casts_bw[k] + fixed_all + x_fx + out_c)
        else:
            values = after_node(k, kind)
            totals_ps.append(sum(a for a, _ in values.values()) + x_ps + out_a)
            totals_fx.append(sum(c for _, c in values.values()) + fixed_all + x_fx + out_c)
    totals_ps.append(x_ps + out_a)
    totals_fx.append(fixed_all + trainable + temporaries + x_fx + out_c)

    def breakdown(i: int) -> dict[str, tuple[int, int]]:
        common = {"parameters": (0, params), "optimizer state": (0, state),
                  "input batch": (x_ps, x_fx), "buffers": (0, buffers)}
        kind, k = axis[i]
        if kind == "forward":
            return common | {"weight casts": (0, casts_fw[i]), "saved for backward": _covering(i, saved_iv),
                             "live activations": _covering(i, other_iv)}
        if kind == "backward":
            return common | {"gradients": (0, grads_node[k]), "weight casts": (0, casts_bw[k]),
                             "saved for backward": (saved_bw[0][k], saved_bw[1][k]),
                             "live activations": (out_a, out_c), "activation gradients": (grads[0][k], grads[1][k])}
        if kind in ("sum", "after"):
            return common | {"live activations": (out_a, out_c)} | after_node(k, kind)
        return common | {"gradients": (0, trainable), "optimizer temporaries": (0, temporaries),
                         "live activations": (out_a, out_c)}

    def columns() -> dict[str, tuple[Column, Column]]:
        saved_fw, other_fw = _live(n, saved_iv), _live(n, other_iv)
        backward = [breakdown(i) for i in range(n, m - 1)]

        def timeline(fw: list[int], name: str, index: int, last: int) -> list[int]:
            return fw + [b.get(name, (0, 0))[index] for b in backward] + [last]
        zeros = [0] * n
        return {
            "parameters": (0, params),
            "buffers": (0, buffers),
            "gradients": (0, timeline(zeros, "gradients", 1, trainable)),
            "optimizer state": (0, state),
            "optimizer temporaries": (0, [0] * (m - 1) + [temporaries]),
            "weight casts": (0, timeline(casts_fw, "weight casts", 1, 0)),
            "input batch": (x_ps, x_fx),
            "saved for backward": (timeline(saved_fw[0], "saved for backward", 0, 0),
                                   timeline(saved_fw[1], "saved for backward", 1, 0)),
            "live activations": (timeline(other_fw[0], "live activations", 0, out_a),
                                 timeline(other_fw[1], "live activations", 1, out_c)),
            "activation gradients": (timeline(zeros, "activation gradients", 0, 0),
                                     timeline(zeros, "activation gradients", 1, 0)),
        }

    # gradient accumulation (accumulate.py): per moment, the gradients micro-step 1 holds, and what
    # a later micro-step holds beyond its .grad tensors (its node's fresh gradients, their settling)
    held = [0] * n + [grads_node[k] - at_node[k] + after[k][0] if kind == "after" else grads_node[k]
                      for kind, k in axis[n:-1]] + [trainable]
    later = [0] * n + [after[k][1] if kind == "after" else at_node[k] for kind, k in axis[n:-1]] + [0]
    paths = [s.path for s in steps]
    if setup.sharding is not None:  # several GPUs: one rank's parameters, gradients, state and buffers
        totals_fx, columns, breakdown = per_rank(trace, setup, totals_fx, columns, breakdown, axis, at_node, after)

    def phase(i: int) -> str:
        kind, k = axis[i]
        if kind == "optimizer":
            return "optimizer step"
        return moment_label(kind, paths[k])
    memory = StepMemory(trace, setup, m, (totals_ps, totals_fx), columns, breakdown, phase,
                        [k if kind == "backward" else -1 for kind, k in axis])
    memory.gradient_columns = (held, later)
    return memory


def _checkpointed(trace: Trace, setup: Setup) -> StepMemory:
    """A training step with activation checkpointing (`checkpoint.py` makes its timeline)."""
    from .checkpoint import CONVENTION, checkpointed_timeline
    params = _param_total(trace)
    temporaries = optimizer_temporaries(trace, setup.optimizer, OPTIMIZER_TEMPORARIES[setup.optimizer])
    trainable = sum(s.trainable_params for s in trace.steps) * ELEMENT_BYTES[trace.precision.param_dtype]
    state = trainable * OPTIMIZER_STATE[setup.optimizer] + step_counters(trace, setup.optimizer)
    made = checkpointed_timeline(trace, setup, params, state, temporaries, _input_batch(trace))
    parts = made.parts
    step = StepMemory(trace, setup, made.count, made.totals, parts,
                      lambda i: {p: (a[i], c[i]) for p, (a, c) in parts.items()}, made.phase, made.backward_of)
    step.saved_columns = lambda: made.saved  # type: ignore[method-assign]
    step.recomputed = made.recomputed  # type: ignore[attr-defined]
    step.cached = made.cached  # type: ignore[attr-defined]
    step.checkpoint_convention = CONVENTION  # type: ignore[attr-defined]
    step.gradient_columns = made.gradients
    return step


# The model of each mode (setup.MODES): training here; inference.py adds its own on import (the package does).
MODELS: dict[str, Callable[[Trace, Setup], StepMemory]] = {"train": _training}
