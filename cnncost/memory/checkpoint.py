"""Activation checkpointing: the training step when regions of the net run under PyTorch's
non-reentrant `torch.utils.checkpoint.checkpoint(fn, *inputs, use_reentrant=False)`.

A region is a block path ('layer2.1') or a run of consecutive blocks ('layer1.0..layer2.1'): the
trace steps from the first one's first row to the last one's last row. What PyTorch does (torch
2.13 CPU, measured: tests/memory/test_checkpoint_torch.py):
- forward: the region's ops save nothing (checkpoint's saved-tensor hooks keep a tiny holder
  instead); the region's inputs (the tensors it reads that were made before it) are saved once by
  checkpoint's own `_NoopSaveInputs` node and held until autograd has run the backward of the
  region's earliest op that saved anything. The RNG states it keeps (`torch.get_rng_state()`,
  5,056 bytes, and on CUDA `torch.cuda.get_rng_state()`) are host tensors, not device memory: not
  counted (nor does the live tracker see them: they are made outside the dispatcher);
- backward: when autograd first unpacks a tensor of the region (the backward of its last op that
  saves anything, `last`), the region's forward runs again from its inputs up to that op (early
  stop: ops after `last` are not run again) with the RNG state restored: what the ops save is kept (new storages: a tensor the region made
  and saved is made again, even where a later op outside saved the original), the other tensors
  are freed after their last reader, and at the stop the op `last` has made its outputs only if it
  saves one of them (inputs are packed before the kernel runs, outputs after). Backward then goes
  on through the region as without checkpointing, freeing the recomputed tensors as it goes;
- batch norm in a region updates its running statistics twice per step (once more in the
  recompute); dropout draws the same mask again (the RNG state restored);
- the recompute's FLOPs are the forward FLOPs of the region's ops up to `last`.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate
from typing import Any, Sequence

from .._gcpause import paused_gc
from ..errors import CnnCostError
from .grad_moments import backward_extras, concat_views, gradient_storages, gradient_sums
from .grad_settling import moment_label, settling
from .op_temporaries import add_temporary, affine_bias_repeat, running_stats_temporary
from .tensors import ELEMENT_BYTES, Bytes
from .trace import Trace

SEPARATOR = ".."
CONVENTION = ("checkpointed regions run under torch.utils.checkpoint(use_reentrant=False): their ops save nothing, "
              "checkpoint saves their inputs; in backward each region's forward runs again up to its last op that "
              "saves anything (early stop), holding what it saves; recompute_flops = 2 x the MACs run again, "
              "included in training_flops; RNG states (host memory) not counted")  # 'layer1.0..layer2.1': a run of consecutive blocks checkpointed as one region


@dataclass(frozen=True)
class Region:
    """One checkpointed region: trace steps first..stop-1; `last` the last step that saves anything
    (None: nothing to recompute); `first_saver` the earliest step that saves anything."""

    name: str
    first: int
    stop: int
    last: int | None
    first_saver: int | None


def step_range(trace: Trace, path: str) -> tuple[int, int]:
    """The trace steps of block `path` (its rows: path itself or under it), as first, stop."""
    prefix = path + "."
    inside = [i for i, s in enumerate(trace.steps) if s.path == path or s.path.startswith(prefix)]
    if not inside:
        raise CnnCostError(f"--checkpoint: no block '{path}' in {trace.name}")
    return inside[0], inside[-1] + 1


def regions(trace: Trace, names: Sequence[str]) -> list[Region]:
    """The regions `names` (block paths or 'A..B' runs), in step order; overlapping ones refused."""
    spans = []
    for name in names:
        if SEPARATOR in name:
            a, b = name.split(SEPARATOR, 1)
            first, stop = step_range(trace, a)[0], step_range(trace, b)[1]
        else:
            first, stop = step_range(trace, name)
        spans.append((first, stop, name))
    spans.sort()
    out: list[Region] = []
    for (first, stop, name) in spans:
        if out and first < out[-1].stop:
            raise CnnCostError(f"--checkpoint: regions '{out[-1].name}' and '{name}' overlap")
        saving = [i for i in range(first, stop) if trace.steps[i].saved]
        out.append(Region(name, first, stop, saving[-1] if saving else None, saving[0] if saving else None))
    return out


def recomputed_steps(trace: Trace, names: Sequence[str]) -> list[int]:
    """The trace steps run again in backward: each region's steps up to its last saving op."""
    out: list[int] = []
    for r in regions(trace, names):
        if r.last is not None:
            out.extend(range(r.first, r.last + 1))
    return out


class _Axis:
    """The moments of a checkpointed step, in order: forward k, then backward with each region's
    recompute moments right before the backward of its `last` step, and after the backward of a
    step a moment for its gradient sum and one where its parameters' gradients settle with a cast
    or a copy, where it has them (`grad_settling.training_axis`), then the optimizer step."""

    def __init__(self, n: int, regs: list[Region], after: Any = (), sums: Any = ()) -> None:
        self.n = n
        self.phases: list[tuple[str, int]] = [("forward", k) for k in range(n)]
        self.backward_at: list[int] = [0] * n  # moment index of backward at step k
        self.recompute_at: dict[int, list[int]] = {}  # region index -> moment indices (steps first..last)
        by_last = {r.last: j for j, r in enumerate(regs) if r.last is not None}
        for k in range(n - 1, -1, -1):
            j = by_last.get(k)
            if j is not None:
                r = regs[j]
                self.recompute_at[j] = list(range(len(self.phases), len(self.phases) + k - r.first + 1))  # k: r.last
                self.phases.extend(("recompute", i) for i in range(r.first, k + 1))
            self.backward_at[k] = len(self.phases)
            self.phases.append(("backward", k))
            if k in sums:
                self.phases.append(("sum", k))
            if k in after:
                self.phases.append(("after", k))
        self.phases.append(("optimizer", -1))
        self.m = len(self.phases)


class _Columns:
    """Per part, per-sample and fixed byte columns over the axis (difference arrays)."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.parts: dict[str, tuple[list[int], list[int]]] = {}

    def add(self, part: str, first: int, last: int, a: int, c: int) -> None:
        """a, c bytes held at moments first..last (inclusive)."""
        if first > last or not (a or c):
            return
        ps, fx = self.parts.setdefault(part, ([0] * (self.m + 1), [0] * (self.m + 1)))
        ps[first] += a
        ps[last + 1] -= a
        fx[first] += c
        fx[last + 1] -= c

    def at(self, part: str, i: int, a: int, c: int) -> None:
        self.add(part, i, i, a, c)

    def finish(self) -> dict[str, tuple[list[int], list[int]]]:
        return {name: (list(accumulate(ps))[:self.m], list(accumulate(fx))[:self.m])
                for name, (ps, fx) in self.parts.items()}


@dataclass
class Timeline:
    """What `step.StepMemory` is made of (`step.py` makes it): moments, their totals and parts, and
    the checkpointing's own figures."""

    count: int
    totals: tuple[list[int], list[int]]
    parts: dict[str, tuple[list[int], list[int]]]
    phase: Any
    saved: tuple[list[int], list[int]]  # per trace step, bytes it saves first (region inputs: the region's first row)
    recomputed: list[int]  # trace steps run again in backward
    cached: tuple[int, int]  # (per-sample, fixed) bytes of the outputs selective checkpointing keeps (in `saved`)
    backward_of: list[int]  # per moment, the trace step whose backward runs there (-1: forward, recompute, optimizer)
    gradients: tuple[list[int], list[int]]  # as `StepMemory.gradient_columns`


# Ops whose kernel makes what they save with their output: statistics, indices
CO_OUTPUTS = ("batchnorm", "layer_norm", "group_norm", "instance_norm", "maxpool", "adaptive_maxpool")


def _unmade_at_stop(step: Any, device: str) -> set[int]:
    """Storage ids of what the region's last saving op has not made yet when the recompute stops
    at its last pack. Autograd packs an op's inputs before its kernel runs and its outputs after.
    What an op saves is either an input of its final kernel (the op's input; a tensor it made
    first: autocast's copy, a zero-padded copy, a dropout's noise) or made by the kernel with the
    output (the output itself, batch norm's statistics, max pool's indices): in the first case the
    op's output is not made yet at the stop, in the second everything is."""
    made = {t.id for t in step.created}
    saved_made = {t.id for t in step.saved if t.id in made}
    fused = step.type == "dropout" and device == "cuda"  # CUDA's fused kernel makes its mask with the output
    if (step.output is not None and step.output.id in saved_made) or (saved_made and (step.type in CO_OUTPUTS or fused)):
        return set()
    # made in order: what came before the last tensor it saves exists at the stop (autocast's copy
    # that a zero-padded copy was made from), the rest (its output) does not
    last = max((k for k, t in enumerate(step.created) if t.id in saved_made), default=-1)
    return {t.id for t in step.created[last + 1:]}


def _unpacked_once(steps: Any, regs: list[Region], made: dict[int, tuple[int, Any]]) -> frozenset[int]:
    """Storage ids the recomputes make that one op alone saves: unpacking hands that op the only
    reference (checkpoint's frame drops its own), so the copy dies inside the op's backward."""
    savers: dict[int, int] = {}
    for r in regs:
        if r.last is None:
            continue
        for i in range(r.first, r.last + 1):
            for t in {t.id: t for t in steps[i].saved}.values():
                if t.id in made and r.first <= made[t.id][0] <= r.last:
                    savers[t.id] = savers.get(t.id, 0) + 1
    return frozenset(tid for tid, count in savers.items() if count == 1)


def checkpointed_timeline(trace: Trace, setup: Any, params: int, state: int, temporaries: int,
                          input_batch: tuple[int, int, set[int]]) -> Timeline:
    """The moments of a training step with `setup.checkpoint`'s regions checkpointed; `params`,
    `state`, `temporaries`: bytes of the parameters, optimizer state and its temporaries (as
    `step.py` counts them); `input_batch`: (per-sample, fixed bytes, storage ids) of the inputs."""
    with paused_gc():
        return _checkpointed(trace, setup, params, state, temporaries, input_batch)


def _checkpointed(trace: Trace, setup: Any, params: int, state: int, temporaries: int,
                  input_batch: tuple[int, int, set[int]]) -> Timeline:
    steps = trace.steps
    n = len(steps)
    regs = regions(trace, setup.checkpoint)
    region_of = [-1] * n
    for j, r in enumerate(regs):
        for i in range(r.first, r.stop):
            region_of[i] = j
    made: dict[int, tuple[int, Any]] = {}
    for i, step in enumerate(steps):
        for t in step.created:
            made.setdefault(t.id, (i, t))
    at_node, after = settling(trace)
    extras = backward_extras(trace, _unpacked_once(steps, regs, made))
    dominating, sums = gradient_sums(trace, extras)
    axis = _Axis(n, regs, after, sums)
    m, bw = axis.m, axis.backward_at
    cols = _Columns(m)
    cast_size, param_size = ELEMENT_BYTES[trace.precision.dtype], ELEMENT_BYTES[trace.precision.param_dtype]
    x_ps, x_fx, input_ids = input_batch
    cols.add("parameters", 0, m - 1, 0, params)
    cols.add("optimizer state", 0, m - 1, 0, state)
    cols.add("buffers", 0, m - 1, 0, sum(trace.buffer_sizes()))
    cols.add("input batch", 0, m - 1, x_ps, x_fx)
    cols.at("optimizer temporaries", m - 1, 0, temporaries)
    trainable = sum(s.trainable_params for s in steps) * param_size  # --freeze: frozen params get no gradient
    cols.at("gradients", m - 1, 0, trainable)

    last_read = trace.last_reads()
    savers: dict[int, list[int]] = {}
    for i, step in enumerate(steps):
        for t in step.saved:
            lst = savers.setdefault(t.id, [])
            if not lst or lst[-1] != i:
                lst.append(i)
    # Effective first saver: ops outside regions, and each region's saving of its inputs (released
    # with the region's earliest saving op); a region's own saves are recomputed copies.
    effective: dict[int, int] = {}
    tensors: dict[int, Any] = {t.id: t for t in trace.inputs}
    for tid, (_, t) in made.items():
        tensors[tid] = t
    for tid, who in savers.items():
        outside = [i for i in who if region_of[i] < 0]
        if outside:
            effective[tid] = outside[0]
    region_inputs: list[list[int]] = []
    for j, r in enumerate(regs):
        ids: list[int] = []
        for i in range(r.first, r.stop):
            for t in steps[i].reads:
                producer = made.get(t.id, (-1, None))[0]
                if producer < r.first and t.id not in ids:
                    ids.append(t.id)
        region_inputs.append(ids)
        if r.first_saver is None:
            continue
        for tid in ids:
            tensors.setdefault(tid, next(t for i in range(r.first, r.stop) for t in steps[i].reads if t.id == tid))
            if effective.get(tid, n) > r.first_saver:
                effective[tid] = r.first_saver
    # selective checkpointing: the outputs of the chosen ops in a region are kept from the forward (PyTorch's
    # caching dispatch mode), and handed back, not made again, when the recompute reaches them
    keep = set(getattr(setup, "checkpoint_save", ()))
    cached: dict[int, tuple[int, int]] = {}  # storage id -> (region, step)
    for j, r in enumerate(regs):
        for i in range(r.first, r.stop):
            out = steps[i].output
            if steps[i].type in keep and out is not None and any(t.id == out.id for t in steps[i].created):
                cached[out.id] = (j, i)
    saved_ps, saved_fx = [0] * n, [0] * n  # per step, what it saves first (the table's rows): region inputs at its first row
    for tid, i in effective.items():
        t = tensors[tid]
        row = i
        j = region_of[i]
        if j >= 0 and i == regs[j].first_saver and tid in region_inputs[j]:
            row = regs[j].first
        saved_ps[row] += t.nbytes_per_sample
        saved_fx[row] += t.nbytes_fixed

    cached_ps = cached_fx = 0
    for tid, (j, i) in cached.items():
        if tid not in effective:
            t = tensors[tid]
            saved_ps[i] += t.nbytes_per_sample
            saved_fx[i] += t.nbytes_fixed
            cached_ps, cached_fx = cached_ps + t.nbytes_per_sample, cached_fx + t.nbytes_fixed

    # forward: saved storages from creation to the end of forward, the others until their last read
    for tid, (i, t) in made.items():
        if tid in effective or tid in cached:
            cols.add("saved for backward", i, n - 1, t.nbytes_per_sample, t.nbytes_fixed)
        else:
            cols.add("live activations", i, min(max(i, last_read.get(tid, i)), n - 1), t.nbytes_per_sample,
                     t.nbytes_fixed)
    # backward (moments n..): held from its first moment until the backward of the effective first saver
    for tid, i in effective.items():
        if tid in input_ids:
            continue
        t = tensors[tid]
        cols.add("saved for backward", n, bw[i], t.nbytes_per_sample, t.nbytes_fixed)
    for tid, (j, i) in cached.items():  # the cache: from the backward's start until the recompute takes it back
        t, r = tensors[tid], regs[j]
        start = bw[effective[tid]] + 1 if tid in effective else n
        if r.last is not None and i <= r.last and not (i == r.last and tid in _unmade_at_stop(steps[i], trace.precision.device)):
            end = axis.recompute_at[j][i - r.first] - 1
        else:  # never taken back (the recompute stopped before): freed with checkpoint's frame
            end = bw[r.first_saver] if r.first_saver is not None else n - 1
        cols.add("saved for backward", start, end, t.nbytes_per_sample, t.nbytes_fixed)
    outputs = {t.id: t for t in trace.outputs if t.id not in input_ids}
    out_a = sum(t.nbytes_per_sample for t in outputs.values())
    out_c = sum(t.nbytes_fixed for t in outputs.values())
    cols.add("live activations", n, m - 1, out_a, out_c)
    # weight casts: the cast cache in forward; saved copies in backward (a region's: from its recompute)
    casts = list(accumulate(s.new_casts for s in steps))
    for k in range(n):
        cols.at("weight casts", k, 0, casts[k] * cast_size)
    for i, s in enumerate(steps):
        if not s.weight_casts:
            continue
        j = region_of[i]
        # a region's copies: the recompute's cast cache holds them while it runs (below), then its ops
        cast_start = n if j < 0 else (bw[region_last] if (region_last := regs[j].last) is not None and i <= region_last else None)
        if cast_start is not None:
            cols.add("weight casts", cast_start, bw[i], 0, s.weight_casts * cast_size)
    # parameter gradients: from a step's backward to the optimizer step, as its node makes them,
    # then settled (a cast or a copy on the way: grad_settling.py)
    later = [0] * m  # what a later micro-step of accumulation holds beyond its .grad tensors
    for i, s in enumerate(steps):
        if s.trainable_params:
            node_end = bw[i] + (i in sums)  # as the node makes them, through its gradient sum
            cols.add("gradients", bw[i], node_end, 0, at_node[i])
            later[bw[i]:node_end + 1] = [at_node[i]] * (node_end + 1 - bw[i])
            if i in after:
                cols.at("gradients", node_end + 1, 0, after[i][0])
                later[node_end + 1] = after[i][1]
            cols.add("gradients", node_end + 1 + (i in after), m - 2, 0, s.trainable_params * param_size)
    # activation gradients: the gradient of a tensor from the backward of its last reader to its producer's
    needing = gradient_storages(trace)
    for tid, (i, t) in made.items():
        if tid in needing:
            end = last_read.get(tid, i)
            # an output's gradient exists from the backward's first moment (a recompute, where the last op is in a region)
            cols.add("activation gradients", n if end >= n else bw[end], bw[i], t.nbytes_per_sample, t.nbytes_fixed)
    # what one gradient per storage misses, as in the plain step (grad_moments.py): at a step's backward
    for k, (a, c) in enumerate(zip(*extras)):
        cols.at("activation gradients", bw[k], *dominating.get(k, (a, c)))
    for k, (a, c) in sums.items():  # a sum after the node, in a moment of its own
        cols.at("activation gradients", bw[k] + 1, a, c)
    for first, last, a, c in concat_views(trace):
        cols.add("activation gradients", bw[last], bw[first], a, c)
    # the recomputes
    for j, r in enumerate(regs):
        if r.last is None:
            continue
        at = axis.recompute_at[j]
        # copies: what the region's ops save, made again; held until the backward of their first saver inside
        unmade = _unmade_at_stop(steps[r.last], trace.precision.device)
        inside_first: dict[int, int] = {}
        for i in range(r.first, r.last + 1):
            for t in steps[i].saved:
                if t.id in made and r.first <= made[t.id][0] <= r.last:
                    inside_first.setdefault(t.id, i)
        for i in range(r.first, r.last + 1):
            for t in steps[i].created:
                if i == r.last and t.id in unmade:  # the early stop came before this tensor was made, but
                    if steps[i].type == "lrn" and t is steps[i].output:  # LRN's composite holds its pooled sum
                        # (output-sized) while `div = div.mul(alpha).add(k).pow(beta)` runs, before the stop
                        cols.at("recomputed", at[i - r.first], t.nbytes_per_sample, t.nbytes_fixed)
                    continue
                part = "saved for backward" if t.id in cached else "recomputed"  # a kept output is not made again
                if t.id in inside_first:
                    cols.add(part, at[i - r.first], bw[inside_first[t.id]], t.nbytes_per_sample, t.nbytes_fixed)
                else:
                    end = min(last_read.get(t.id, i), r.last)
                    cols.add(part, at[i - r.first], at[max(i, end) - r.first] if end >= i else at[i - r.first],
                             t.nbytes_per_sample, t.nbytes_fixed)
            cols.at("weight casts", at[i - r.first], 0, sum(s.new_casts for s in steps[r.first:i + 1]) * cast_size)
            if steps[i].type == "add":  # a scaled or many-input add's running value, beside its output
                cols.at("recomputed", at[i - r.first], add_temporary(steps[i]), 0)
            if i < r.last:  # instance norm's running statistics' update (after its saves: not where the recompute stops)
                cols.at("recomputed", at[i - r.first], 0, running_stats_temporary(steps[i], trace.precision.param_dtype))
            # affine instance norm's repeated bias, held while the norm runs (where it stops too)
            cols.at("recomputed", at[i - r.first], affine_bias_repeat(steps[i], trace.precision.param_dtype), 0)
        # what else is held during the recompute (saved tensors, gradients, the states of regions not
        # yet done) is the backward's between steps last+1 and last: the intervals above span these moments
    parts = cols.finish()
    names = list(parts)
    totals = (list(map(sum, zip(*(parts[p][0] for p in names)))), list(map(sum, zip(*(parts[p][1] for p in names)))))
    paths = [s.path for s in steps]
    region_names = {i: r.name for r in regs for i in range(r.first, r.stop)}

    def phase(i: int) -> str:
        kind, k = axis.phases[i]
        if kind == "optimizer":
            return "optimizer step"
        if kind == "recompute":
            return f"recompute {region_names[k]}, {paths[k]}"
        return moment_label(kind, paths[k])

    again = [k for k in recomputed_steps(trace, setup.checkpoint) if not (steps[k].output is not None
                                                                        and cached.get(steps[k].output.id, (0, -1))[1] == k)]  # type: ignore[union-attr]
    backward_of = [k if kind == "backward" else -1 for kind, k in axis.phases]
    return Timeline(m, totals, parts, phase, (saved_ps, saved_fx), again, (cached_ps, cached_fx), backward_of,
                    (parts["gradients"][1] if "gradients" in parts else [0] * m, later))


def saved(step: Any) -> Bytes:
    """Total saved bytes of a step (checkpointed or not)."""
    a, c = step.saved_columns()
    return Bytes(sum(a), sum(c))
