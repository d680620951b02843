"""Gradient accumulation (`--accumulate K`): one optimizer step is K micro-steps of `batch`
samples each (the batch is the micro-batch; the global batch is batch x K).

Timeline (PyTorch eager, `zero_grad(set_to_none=True)` after the optimizer step):
- micro-step 1: forward and backward as a plain step's (no gradients in its forward; each
  parameter's gradient made at its layer's backward moment);
- micro-steps 2..K (alike, modelled once): every trainable parameter's gradient is held through
  forward and backward; at a layer's backward moment its new gradient exists too until AccumulateGrad
  adds it in place into the held one;
- the optimizer step, as a plain step's.
The peak is the largest of these moments; with K > 1 it no longer depends on K.
"""
from __future__ import annotations

from itertools import accumulate as running
from typing import Any

from .tensors import ELEMENT_BYTES


def accumulated(single: Any, setup: Any) -> tuple[int, Any, Any, Any, Any]:
    """The K-micro-step timeline built from `single`, the plain `StepMemory` (accumulate 1) of the
    same trace and setup: micro-step 1's 2n moments, micro-step 2..K's 2n moments, the optimizer
    step; as `StepMemory`'s (count, totals, parts, breakdown, phase)."""
    trace = single.trace
    n = len(trace.steps)
    size = ELEMENT_BYTES[trace.precision.param_dtype]
    own = [s.trainable_params * size for s in trace.steps]  # each step's new gradients
    held = sum(own)
    after = list(running(reversed(own)))  # a plain step's gradients at backward moment n + j
    ps, fx = single.totals
    # later micro-steps: forward + all gradients; backward: plain - gradients so far + all + the step's new ones
    later_fx = [f + held for f in fx[:n]] + [fx[n + j] - after[j] + held + own[n - 1 - j] for j in range(n)]
    totals = (ps[:2 * n] + ps[:2 * n] + ps[2 * n:], fx[:2 * n] + later_fx + fx[2 * n:])
    k = setup.accumulate

    def source(i: int) -> tuple[int, int | None]:
        """(the plain step's moment, the gradients held there if a later micro-step's, else None)."""
        if i < 2 * n:
            return i, None
        if i < 4 * n:
            j = i - 2 * n
            return j, held if j < n else held + own[2 * n - 1 - j]
        return 2 * n, None

    def values(i: int) -> dict[str, tuple[int, int]]:
        j, grads = source(i)
        out = {name: (b.per_sample, b.fixed) for name, b in single.moment(j).parts.items()}
        if grads is not None:
            out["gradients"] = (0, grads)
        return out

    def parts() -> dict[str, tuple[Any, Any]]:
        moments = [values(i) for i in range(4 * n + 1)]
        names = {name for m in moments for name in m}
        return {name: ([m.get(name, (0, 0))[0] for m in moments], [m.get(name, (0, 0))[1] for m in moments])
                for name in names}

    def phase(i: int) -> str:
        j, _ = source(i)
        text = single.moment(j).phase
        if i >= 4 * n:
            return text
        which = "micro-step 1" if i < 2 * n else ("micro-step 2" if k == 2 else f"micro-steps 2-{k}")
        return f"{which} of {k}, {text}"

    return 4 * n + 1, totals, parts, values, phase


def setup_fields(step: Any, batch: int, training_flops: int | None = None) -> dict[str, Any]:
    """What `--freeze` and `--accumulate` add to `training_step` (JSON): nothing for a plain step.
    freeze: the patterns, trainable_params and frozen_params; accumulate: the micro-steps, the
    micro-batch (= batch), the global batch, and training FLOPs per micro-step and per step."""
    setup, out = step.setup, dict[str, Any]()
    if setup.freeze:
        params = sum(s.params for s in step.trace.steps)
        trainable = sum(s.trainable_params for s in step.trace.steps)
        out |= {"freeze": list(setup.freeze), "trainable_params": trainable, "frozen_params": params - trainable}
    if setup.accumulate > 1:
        k = setup.accumulate
        out |= {"accumulate": k, "micro_batch": batch, "global_batch": batch * k}
        if training_flops is not None:
            out |= {"training_flops_per_micro_step": training_flops, "training_flops_per_step": k * training_flops}
    return out


def setup_lines(fields: dict[str, Any]) -> list[str]:
    """The text footer's lines for `setup_fields`."""
    lines = []
    if "freeze" in fields:
        lines.append(f"Frozen ({', '.join(fields['freeze'])}): {fields['frozen_params']:,} params, trainable "
                     f"{fields['trainable_params']:,}; frozen params get no gradient and no optimizer state, and "
                     "layers before the first trainable one save nothing")
    if "accumulate" in fields:
        flops = ""
        if "training_flops_per_step" in fields:
            flops = (f"; training FLOPs per micro-step {fields['training_flops_per_micro_step']:,}, per optimizer "
                     f"step {fields['training_flops_per_step']:,}")
        lines.append(f"Gradient accumulation: {fields['accumulate']} micro-steps of batch {fields['micro_batch']:,} "
                     f"(every figure above is per micro-step) = global batch {fields['global_batch']:,} per "
                     f"optimizer step{flops}")
    return lines
