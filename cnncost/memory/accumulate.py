"""Gradient accumulation (`--accumulate K`): one optimizer step is K micro-steps of `batch`
samples each (the batch is the micro-batch; the global batch is batch x K).

Timeline (PyTorch eager, `zero_grad(set_to_none=True)` after the optimizer step):
- micro-step 1: forward and backward as a plain step's (no gradients in its forward; each
  parameter's gradient made at its layer's backward moment);
- micro-steps 2..K (alike, modelled once): every trainable parameter's gradient is held through
  forward and backward; at a layer's backward moment its new gradient exists too until AccumulateGrad
  adds it in place into the held one;
- the optimizer step, as a plain step's.
With activation checkpointing the micro-steps are the checkpointed step's (its recompute moments
hold the gradients as the backward around them does).
The peak is the largest of these moments; with K > 1 it no longer depends on K.
"""
from __future__ import annotations

from typing import Any

from .tensors import ELEMENT_BYTES


def accumulated(single: Any, setup: Any) -> tuple[int, Any, Any, Any, Any]:
    """The K-micro-step timeline built from `single`, the `StepMemory` (accumulate 1) of the same
    trace and setup, plain or checkpointed (its recompute moments too): micro-step 1's m - 1
    moments, micro-step 2..K's m - 1, the optimizer step; as `StepMemory`'s (count, totals, parts,
    breakdown, phase). `single.gradient_columns`: per moment, the gradients micro-step 1 holds and
    what a later micro-step holds beyond its .grad tensors (a node's fresh gradients; after it,
    their cast: grad_settling.py)."""
    trace = single.trace
    m1 = single.count - 1  # the moments of one micro-step (forward and backward)
    size = ELEMENT_BYTES[trace.precision.param_dtype]
    held = sum(s.trainable_params for s in trace.steps) * size
    first, new = single.gradient_columns
    ps, fx = single.totals
    # later micro-steps: every gradient held, and those a moment's backward makes until added
    later_fx = [f - g + held + c for f, g, c in zip(fx[:m1], first, new)]
    totals = (ps[:m1] + ps[:m1] + ps[m1:], fx[:m1] + later_fx + fx[m1:])
    k = setup.accumulate

    def source(i: int) -> tuple[int, int | None]:
        """(the single step's moment, the gradients held there if a later micro-step's, else None)."""
        if i < m1:
            return i, None
        if i < 2 * m1:
            return i - m1, held + new[i - m1]
        return m1, None

    def values(i: int) -> dict[str, tuple[int, int]]:
        j, grads = source(i)
        out = {name: (b.per_sample, b.fixed) for name, b in single.moment(j).parts.items()}
        if grads is not None:
            out["gradients"] = (0, grads)
        return out

    def parts() -> dict[str, tuple[Any, Any]]:
        moments = [values(i) for i in range(2 * m1 + 1)]
        names = {name for m in moments for name in m}
        return {name: ([m.get(name, (0, 0))[0] for m in moments], [m.get(name, (0, 0))[1] for m in moments])
                for name in names}

    def phase(i: int) -> str:
        j, _ = source(i)
        text = single.moment(j).phase
        if i >= 2 * m1:
            return text
        which = "micro-step 1" if i < m1 else ("micro-step 2" if k == 2 else f"micro-steps 2-{k}")
        return f"{which} of {k}, {text}"

    return 2 * m1 + 1, totals, parts, values, phase


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
