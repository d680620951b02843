"""The memory of a whole training step (or of inference), as a timeline of moments, each with a
breakdown of what is held; the peak is the largest moment.

Model (PyTorch eager, `optimizer.zero_grad(set_to_none=True)` between steps):
- forward, after step k: parameters, optimizer state, autocast's weight copies so far, the input
  batch, every storage saved so far, and the other tensors still to be read;
- backward, at step k (in reverse): the saved storages whose first saver is k or earlier (autograd
  frees a node's saved tensors once it ran), gradients of the parameters of steps k and later, and
  the gradient of every tensor between its last reader and its producer;
- optimizer step: parameters, gradients, state, and Adam's temporary sqrt(v) (CUDA's foreach
  implementation allocates one fp32 copy of all parameters);
- inference (no grad): parameters, weight copies, and the tensors alive at each step.
Not modelled: cuDNN workspaces, allocator rounding, the loss.
"""
from __future__ import annotations

from dataclasses import dataclass

from .tensors import ELEMENT_BYTES, ZERO, Bytes, Tensor, total
from .trace import Trace

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}   # fp32 copies of the parameters
OPTIMIZER_TEMPORARIES = {"sgd": 0, "momentum": 0, "adam": 1, "adamw": 1}
PARTS = ("parameters", "gradients", "optimizer state", "optimizer temporaries", "weight casts",
         "input batch", "saved for backward", "live activations", "activation gradients")
MODES = ("train", "inference")


@dataclass(frozen=True)
class Moment:
    """What is held at one point of the step; `parts` keyed by PARTS (zeros left out)."""

    phase: str
    parts: dict[str, Bytes]

    def at(self, batch: int) -> int:
        return sum(b.at(batch) for b in self.parts.values())


@dataclass(frozen=True)
class StepMemory:
    """Every moment of one step; `peak(batch)` is the largest."""

    trace: Trace
    optimizer: str
    mode: str
    moments: tuple[Moment, ...]

    def peak(self, batch: int) -> Moment:
        return max(self.moments, key=lambda m: m.at(batch))


def step_memory(trace: Trace, optimizer: str = "adam", mode: str = "train") -> StepMemory:
    """The timeline of one training step (or inference pass) of a traced net."""
    moments = _inference(trace) if mode == "inference" else _training(trace, optimizer)
    return StepMemory(trace, optimizer, mode, tuple(moments))


def _param_bytes(trace: Trace, steps) -> Bytes:
    return Bytes(0, sum(s.params for s in steps) * ELEMENT_BYTES[trace.precision.param_dtype])


def _running(values: list[int], size: int) -> list[Bytes]:
    """Bytes(0, size x (values[0] + ... + values[k])) for every k: running sums keep the timeline
    linear in the number of steps."""
    out, acc = [], 0
    for v in values:
        acc += v
        out.append(Bytes(0, acc * size))
    return out


def _live(n: int, intervals) -> list[Bytes]:
    """Sum of `bytes` over (first, last, bytes) intervals, at each of the n positions."""
    per_sample, fixed = [0] * (n + 1), [0] * (n + 1)
    for first, last, b in intervals:
        first, last = max(first, 0), min(last, n - 1)
        if first <= last:
            per_sample[first] += b.per_sample
            per_sample[last + 1] -= b.per_sample
            fixed[first] += b.fixed
            fixed[last + 1] -= b.fixed
    out, a, c = [], 0, 0
    for i in range(n):
        a, c = a + per_sample[i], c + fixed[i]
        out.append(Bytes(a, c))
    return out


def _producers(trace: Trace) -> dict[int, tuple[int, Tensor]]:
    made: dict[int, tuple[int, Tensor]] = {}
    for i, step in enumerate(trace.steps):
        for tensor in step.created:
            made.setdefault(tensor.id, (i, tensor))
    return made


def _forward_intervals(trace: Trace, keep_saved: bool):
    """(first, last, bytes) of every activation storage during the forward pass."""
    last_read, savers = trace.last_reads(), trace.first_savers()
    for tensor_id, (i, tensor) in _producers(trace).items():
        saved = keep_saved and tensor_id in savers
        end = len(trace.steps) if saved else max(i, last_read.get(tensor_id, i))
        yield i, end, tensor.nbytes, saved


def _training(trace: Trace, optimizer: str) -> list[Moment]:
    n, steps = len(trace.steps), trace.steps
    params = _param_bytes(trace, steps)
    cast_size, param_size = ELEMENT_BYTES[trace.precision.dtype], ELEMENT_BYTES[trace.precision.param_dtype]
    casts_fw = _running([s.weight_casts + s.bias_casts for s in steps], cast_size)  # cast cache, steps 0..k
    casts_bw = _running([s.weight_casts for s in steps], cast_size)  # saved weight copies, steps 0..k
    grads_after = list(reversed(_running([s.params for s in reversed(steps)], param_size)))  # steps k..n-1
    state = params.scaled(OPTIMIZER_STATE[optimizer])
    x = trace.input.nbytes
    outputs = total(t.nbytes for t in {t.id: t for t in trace.outputs}.values() if t.id != trace.input.id)
    intervals = list(_forward_intervals(trace, keep_saved=True))
    saved_fw = _live(n, [(a, b, size) for a, b, size, saved in intervals if saved])
    other_fw = _live(n, [(a, b, size) for a, b, size, saved in intervals if not saved])
    moments = []
    for k in range(n):
        moments.append(Moment(f"forward, {steps[k].path}", {
            "parameters": params, "optimizer state": state,
            "weight casts": casts_fw[k], "input batch": x,
            "saved for backward": saved_fw[k], "live activations": other_fw[k]}))
    saved_bw = _live(n, [(i, n - 1, t.nbytes) for i, t in trace.first_savers().values()])
    last_read, produced = trace.last_reads(), _producers(trace)
    # One gradient per storage that requires grad: each step's output (in place: its input's storage).
    outputs_needing_grad = {s.output.id for s in steps if s.output is not None and s.output.requires_grad}
    grads = _live(n, [(i, last_read.get(tensor_id, i), tensor.nbytes)
                      for tensor_id, (i, tensor) in produced.items() if tensor_id in outputs_needing_grad])
    for k in reversed(range(n)):
        moments.append(Moment(f"backward, {steps[k].path}", {
            "parameters": params, "gradients": grads_after[k], "optimizer state": state,
            "weight casts": casts_bw[k], "input batch": x,
            "saved for backward": saved_bw[k], "live activations": outputs, "activation gradients": grads[k]}))
    moments.append(Moment("optimizer step", {
        "parameters": params, "gradients": params, "optimizer state": state,
        "optimizer temporaries": params.scaled(OPTIMIZER_TEMPORARIES[optimizer]) if trace.precision.device == "cuda"
        else ZERO, "input batch": x, "live activations": outputs}))
    return [Moment(m.phase, _nonzero(m.parts)) for m in moments]


def _nonzero(parts: dict[str, Bytes]) -> dict[str, Bytes]:
    """The parts in PARTS order, zeros left out."""
    out = {}
    for name in PARTS:
        size = parts.get(name)
        if size is not None and (size.per_sample or size.fixed):
            out[name] = size
    return out


def _inference(trace: Trace) -> list[Moment]:
    n = len(trace.steps)
    params = _param_bytes(trace, trace.steps)
    casts = Bytes(0, sum(s.weight_casts + s.bias_casts for s in trace.steps) * ELEMENT_BYTES[trace.precision.dtype])
    live = _live(n, [(a, b, size) for a, b, size, _ in _forward_intervals(trace, keep_saved=False)])
    moments = [Moment(f"forward, {s.path}", {"parameters": params, "weight casts": casts,
                                             "input batch": trace.input.nbytes, "live activations": live[k]})
               for k, s in enumerate(trace.steps)]
    return [Moment(m.phase, _nonzero(m.parts)) for m in moments]
