"""The memory of an inference pass (`model.eval()`, under `torch.no_grad()`), row by row, and a
static arena plan for it.

The pass is the traced forward (`trace.py`) seen in eval mode without autograd:
- dropout and stochastic depth are the identity (their output is their input's storage);
- batch norm uses its running statistics: no batch statistics are made;
- an in-place op makes nothing (training's copy of an in-place activation's input is for backward);
- every other storage a step makes lives from that step to its last reader (the net's outputs
  to the end); one that no later step reads is the op's temporary, freed when it returns
  (max pool's indices, a cast under autocast, layer norm's statistics): it counts at its row only.
Held throughout: parameters, buffers (batch norm's running mean and variance, in the parameters'
dtype, and its int64 counter), the input batch, and under autocast the cast cache (each
parameter's low copy from the first row that reads it until the pass ends).

Each moment is one row while it runs: its inputs and output alive at once, as a live-tensor
tracker sees the storages after every op (`cnncost.torch_backend.live`). Workspaces an op
allocates and frees inside itself (oneDNN's reorders on CPU, cuDNN's workspaces) are not tensors
and are not modelled.

`int8`: a deployment estimate: every floating tensor (weights, buffers, activations) is stored in
1 byte; int64 indices and bool masks keep their size, but max pools make no indices (int8
runtimes return the values only); per-tensor or per-channel scales and zero points are not counted.

`arena(batch)`: the size of a static plan placing every activation storage (the input batch
included) at one offset for its whole lifetime, greedy by size: TFLite's `GreedyBySizePlanner`
(tensorflow/lite/simple_memory_arena.cc and greedy_memory_planner.cc; Pisarchyk and Lee,
"Efficient Memory Management for Deep Neural Net Inference", 2020, arXiv:2001.03288): the largest
storage first, each in the smallest gap between the storages already placed that overlap it in
time, else above them all. Storages that overlap in time never share bytes, so the arena is at
least the live peak of the activations.
"""
from __future__ import annotations

from typing import Any

from .._gcpause import paused_gc
from .op_temporaries import add_temporary
from .setup import Setup
from .step import MODELS, Column, StepMemory, _add, _live, _running
from .tensors import ELEMENT_BYTES, Tensor
from .trace import Trace

IDENTITY_IN_EVAL = ("dropout", "stochastic_depth")  # their output is their input in eval mode
RUNNING_STATISTICS = ("batchnorm",)  # eval mode normalises with the buffers: no batch statistics made
INT8_KEPT = ("int64", "bool")  # int8 estimates keep these dtypes' sizes
# int8 runtimes' max pools return the values only (TFLite's MAX_POOL_2D, PyTorch's quantized
# max_pool2d): no int64 indices, which eager PyTorch's float max pool makes and drops
INDEX_POOLS = ("maxpool", "adaptive_maxpool")


def _lrn_temporary(step: Any, int8: bool) -> int:
    """Per-sample bytes LRN holds at its fullest beyond its output. PyTorch's composite
    `local_response_norm` reassigns one variable: square A (the input's dtype), zero-padded B, on
    CPU under autocast B's fp32 copy C for the 3-D average pool, pooled D, then D x alpha, + k and
    ^beta (T1, T2, T3 in the output's dtype W), and the output. Alive after each op: A + B,
    B + C + D, D + T1 + T2 (and D + T2 + T3), T3 + output (measured, torch 2.13 CPU, fp32 and bf16).
    The trace's tensors give the sizes: padded (C's dtype where there is a cast), base, power, output."""
    padded, _, _, out = step.created[-4:]
    x = step.reads[0]
    if int8:
        low = pooled = wide = 1
    else:
        low, pooled, wide = (ELEMENT_BYTES[d] for d in (x.dtype, padded.dtype, out.dtype))
    square, padded_low = out.per_sample * low, padded.per_sample * low
    cast = padded.per_sample * pooled if padded.dtype != x.dtype and not int8 else 0
    pool, w = out.per_sample * pooled, out.per_sample * wide
    return max(square + padded_low, padded_low + cast + pool, pool + 2 * w, 2 * w) - w


# autocast's "promote" ops (cat, stack): each input of another dtype than the widest is first cast
# to it, a copy alive during the op (measured, torch 2.13 CPU bf16: a class token's cat)
PROMOTING = ("concat", "stack", "tokens")


# composites that negate their input first (softmin = softmax(-x)): the negation, in the input's
# dtype, lives until the op returns (measured, torch 2.13 CPU)
NEGATING = ("softmin",)


# op type -> per-sample bytes its intermediates hold at the op's fullest, beyond its output, where
# PyTorch frees them one by one inside the op (the trace's other tensors of that row are not used)
SEQUENTIAL = {"lrn": _lrn_temporary, "add": add_temporary}


class InferenceMemory(StepMemory):
    """The moments of an inference pass, one per row, and what the arena plan needs: every
    activation storage as (first row, last row, per-sample bytes, fixed bytes)."""

    def __init__(self, *args: Any, storages: list[tuple[int, int, int, int]], baseline: tuple[int, int]) -> None:
        super().__init__(*args)
        self.storages = storages
        self.baseline = baseline  # (per-sample, fixed) bytes held before the first row
        self._summaries: dict[int, dict[str, Any]] = {}  # by batch: the arena is planned once

    def arena(self, batch: int) -> int:
        """Bytes of a greedy-by-size static plan of the activation storages at `batch`."""
        return greedy_by_size([(first, last, a * batch + c) for first, last, a, c in self.storages])

    def summary(self, batch: int) -> dict[str, Any]:
        """The JSON object `inference` at `batch` (docs/output.md); a new dict each call."""
        if batch not in self._summaries:
            self._summaries[batch] = self._summary(batch)
        found = self._summaries[batch]
        return found | {"breakdown": dict(found["breakdown"])}

    def _summary(self, batch: int) -> dict[str, Any]:
        i = self.peak_index(batch)
        moment = self.moment(i)
        parts = {name: size.at(batch) for name, size in moment.parts.items()}
        activations = sum(parts.get(k, 0) for k in ("input batch", "live activations", "op temporaries"))
        return {"peak_bytes": moment.at(batch), "peak_activation_bytes": activations,
                "peak_at": moment.phase.split(", ", 1)[1], "arena_bytes": self.arena(batch),
                "baseline_bytes": self.baseline[0] * batch + self.baseline[1],
                "int8": self.setup.int8, "breakdown": parts}

    def live_by_path(self, batch: int) -> dict[str, int]:
        """Bytes held while each traced step runs, by its path (a path traced twice: its largest)."""
        out: dict[str, int] = {}
        for step, a, c in zip(self.trace.steps, *self.totals):
            value = a * batch + c
            if out.get(step.path, -1) < value:
                out[step.path] = value
        return out


def greedy_by_size(storages: list[tuple[int, int, int]]) -> int:
    """The arena of (first, last, bytes) storages, each placed at an offset for rows first..last:
    largest first (ties: the earlier first), each at the best-fitting gap among the placed storages
    whose rows overlap its own, else above the highest of them (TFLite's GreedyBySizePlanner).
    The placed storages are indexed by row, so a storage meets only those alive beside it."""
    rows = 1 + max((last for _, last, _ in storages), default=0)
    by_row: list[list[tuple[int, int]]] = [[] for _ in range(rows)]  # row -> (offset, size) placed there
    arena = 0
    for first, last, size in sorted(storages, key=lambda s: (-s[2], s[0], s[1])):
        if size <= 0:
            continue
        overlapping = sorted({placed for row in range(first, last + 1) for placed in by_row[row]})
        best, best_gap, top = None, None, 0
        for offset, used in overlapping:
            gap = offset - top
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = top, gap
            top = max(top, offset + used)
        offset = top if best is None else best
        for row in range(first, last + 1):
            by_row[row].append((offset, size))
        arena = max(arena, offset + size)
    return arena


def inference_memory(trace: Trace, setup: Setup) -> InferenceMemory:
    with paused_gc():
        return _inference(trace, setup)


def _size(tensor: Tensor, int8: bool) -> tuple[int, int]:
    """(per-sample, fixed) bytes of a storage (int8: 1 byte per element of a float)."""
    if int8 and tensor.dtype not in INT8_KEPT:
        return tensor.per_sample, tensor.fixed
    return tensor.nbytes_per_sample, tensor.nbytes_fixed


def _storages(trace: Trace, int8: bool) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    """(first, last, per-sample, fixed) of every storage the eval pass makes: those read later (or
    outputs), then the temporaries (first == last, read by no later row)."""
    steps, n = trace.steps, len(trace.steps)
    autocast = trace.precision.autocast
    alias: dict[int, int] = {}  # an eval identity's output -> its input's storage
    made: dict[int, tuple[int, Tensor]] = {}
    inside: list[tuple[int, int, int, int]] = []  # what a composite op holds beyond its output (`SEQUENTIAL`)
    last: dict[int, int] = {}
    for i, step in enumerate(steps):
        reads = [alias.get(t.id, t.id) for t in step.reads]
        for tensor_id in reads:
            last[tensor_id] = i
        out = step.output
        if step.type in IDENTITY_IN_EVAL and reads and out is not None:
            alias[out.id] = reads[0]
            continue
        if out is not None and out.id in reads:
            continue  # in place, or a view: nothing new without autograd
        if autocast and step.type in PROMOTING and out is not None:
            for t in step.reads:
                if t.dtype != out.dtype:
                    a, c = _size(Tensor(-1, t.elements, t.fixed, out.dtype), int8)
                    inside.append((i, i, a, c))
        if step.type in NEGATING and step.reads:
            a, c = _size(Tensor(-1, step.reads[0].elements, 0, step.reads[0].dtype), int8)
            inside.append((i, i, a, c))
        if step.type in SEQUENTIAL and out is not None:
            inside.append((i, i, SEQUENTIAL[step.type](step, int8), 0))
            made.setdefault(out.id, (i, out))
            continue
        for tensor in step.created:
            if step.type in RUNNING_STATISTICS and (out is None or tensor.id != out.id):
                continue
            if int8 and step.type in INDEX_POOLS and tensor.dtype == "int64":
                continue
            made.setdefault(tensor.id, (i, tensor))
    for tensor in trace.outputs:
        last[alias.get(tensor.id, tensor.id)] = n
    kept: list[tuple[int, int, int, int]] = []
    temporaries: list[tuple[int, int, int, int]] = []
    for tensor_id, (i, tensor) in made.items():
        end = last.get(tensor_id, i)
        a, c = _size(tensor, int8)
        (kept if end > i else temporaries).append((i, max(i, end), a, c))
    return kept, temporaries + inside


def _buffers(trace: Trace, int8: bool) -> int:
    """Batch norm's running mean and variance (2 per channel, the parameters' dtype; 1 byte in
    int8) and its num_batches_tracked (int64): the channels from the batch statistics training saves."""
    size = 1 if int8 else ELEMENT_BYTES[trace.precision.param_dtype]
    total = 0
    for step in trace.steps:
        if step.type in RUNNING_STATISTICS:
            channels = sum(t.fixed for t in step.created if step.output is None or t.id != step.output.id)
            total += channels * size + ELEMENT_BYTES["int64"]
    return total


def _inference(trace: Trace, setup: Setup) -> InferenceMemory:
    int8 = setup.int8
    n, steps = len(trace.steps), trace.steps
    param_size = 1 if int8 else ELEMENT_BYTES[trace.precision.param_dtype]
    params = sum(s.params for s in steps) * param_size
    buffers = _buffers(trace, int8)
    casts = ([0] * n if int8 else _running([s.new_casts for s in steps], ELEMENT_BYTES[trace.precision.dtype]))
    x_ps = x_fx = 0
    for tensor in trace.inputs:
        a, c = _size(tensor, int8)
        x_ps, x_fx = x_ps + a, x_fx + c
    kept, temporaries = _storages(trace, int8)
    live, temp = _live(n, kept), _live(n, temporaries)
    held = params + buffers + x_fx
    totals = (_add(live[0], temp[0], x_ps), _add(live[1], temp[1], casts, held))
    parts: dict[str, tuple[Column, Column]] = {
        "parameters": (0, params), "buffers": (0, buffers), "weight casts": (0, casts),
        "input batch": (x_ps, x_fx), "live activations": live, "op temporaries": temp}
    paths = [s.path for s in steps]
    storages = kept + temporaries + [(0, n, x_ps, x_fx)]  # the input batch: the caller's, held throughout
    return InferenceMemory(trace, setup, n, totals, parts, None, lambda i: f"forward, {paths[i]}",
                           storages=storages, baseline=(x_ps, held))


MODELS["inference"] = inference_memory
