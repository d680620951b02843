"""`fit` bounded by a GPU figure (issue 19): the largest batch whose modelled caching-allocator
reserved bytes (`torch.cuda.max_memory_reserved`) or nvidia-smi figure (reserved + the CUDA
context) fits a budget, besides the step model's allocated peak (`fit.largest_batch`).

The reserved figure is a replay of the allocator (`reserved.py`), not a line in the batch: the
answer is found by bisection from the allocated answer (reserved >= allocated, so that bounds it
from above but for the fp32 input batch the step model counts twice), assuming the figure grows
with the batch (segment rounding can make it step unevenly: the batch found fits, the next does not).
Modelled; measured on CUDA: not yet."""
from __future__ import annotations

from dataclasses import replace

from ..errors import CnnCostError
from .fit import Fit, largest_batch
from .reserved import Device, modelled_for, reserved_bytes
from .step import StepMemory

BUDGET_FIGURES = ("allocated", "reserved", "nvidia-smi")
# what the budget bounds unless told: the allocated peak, the one figure checked exactly (on CPU,
# against PyTorch); the reserved and nvidia-smi figures are modelled, not yet measured on CUDA
DEFAULT_BUDGET_OF = "allocated"


def _figure(step: StepMemory, batch: int, budget_of: str, gpu: Device) -> int:
    r = reserved_bytes(step, batch, gpu)
    return r.peak_reserved if budget_of == "reserved" else r.nvidia_smi


def largest_batch_on(step: StepMemory, budget: int, budget_of: str, gpu: Device, budget_text: str = "") -> Fit:
    """The largest batch whose `budget_of` figure (allocated: `largest_batch`; reserved or
    nvidia-smi) is at most `budget` bytes on the GPU profile `gpu`; the GPU figures at that batch in
    `Fit.device` wherever the allocator model applies (as `table` shows them at that batch)."""
    if budget_of not in BUDGET_FIGURES:
        raise CnnCostError(f"the budget bounds one of {', '.join(BUDGET_FIGURES)}; got '{budget_of}'")
    base = largest_batch(step, budget, budget_text)
    if budget_of == "allocated":
        return replace(base, device=reserved_bytes(step, max(base.batch, 1), gpu)) if modelled_for(step) else base
    if not modelled_for(step):
        raise CnnCostError(f"--budget-of {budget_of} models a plain training step on cuda (no checkpointing, "
                           "accumulation, freezing or sharding yet): use --budget-of allocated")

    def fits(batch: int) -> bool:
        return _figure(step, batch, budget_of, gpu) <= budget
    lo, hi = 0, max(base.batch, 1)
    if fits(hi):  # rare: the fp32 input counted twice by the step model, not by the allocator
        lo, hi = hi, hi * 2
        while fits(hi):
            lo, hi = hi, hi * 2
    while hi - lo > 1:  # fits(lo) (or lo = 0), not fits(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return replace(base, batch=lo, peak=step.peak(max(lo, 1)), budget_of=budget_of,
                   device=reserved_bytes(step, max(lo, 1), gpu))
