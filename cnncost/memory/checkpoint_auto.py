"""`fit --checkpoint auto`: the largest batch, with the cheapest set of checkpointed blocks (least
recomputed FLOPs) that lets it fit.

The candidates are the blocks of the chain (`checkpoint_policy.chain`), each its own region. The
batch is the larger of what fits with none and with all of them checkpointed (each a closed-form
`largest_batch`). At that batch each block's checkpoint lowers the saved bytes by an exact amount
(what its ops save, less the inputs checkpoint keeps) and costs its recompute FLOPs; a knapsack
over the chain (exact ints: a Pareto front of (FLOPs, bytes saved) pairs, one pass per block,
Chen et al. 2016 / Rotor's dynamic programme restricted to one level of blocks) gives the cheapest
set whose savings cover the excess of the peak over the budget. The peak is not exactly the
saved bytes (where the peak sits moves, a recompute holds a block's tensors twice), so the set is
then checked on the exact timeline, and the target raised by what is still missing until it fits
(at worst: every block).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable

from .checkpoint_policy import chain
from .fit import Fit, largest_batch
from .step import step_memory

MAX_FRONT = 4096  # pairs kept per knapsack pass (evenly thinned beyond: deep chains stay fast)


@dataclass(frozen=True)
class CheckpointFit(Fit):
    """A `Fit` with the regions it checkpoints and what they cost (FLOPs per step, at `batch`)."""

    regions: tuple[str, ...] = ()
    recompute_flops: int = 0
    saved_bytes: int = 0  # at `batch`
    policy: str = "auto"  # as asked: auto, or the --checkpoint specs

    def checkpoint_record(self) -> dict[str, Any]:
        """fit's JSON `checkpoint`: the policy, the regions, their recompute FLOPs and saved bytes."""
        return {"policy": self.policy, "regions": list(self.regions), "recompute_flops": self.recompute_flops,
                "saved_bytes": self.saved_bytes}

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"checkpoint": self.checkpoint_record()}


def with_checkpoints(result: Fit, graph: Any, policy: str) -> CheckpointFit:
    """`result` (a fit of a checkpointed step) with its regions and what they cost at its batch
    (batch 1 when not even that fits), from the step it solved."""
    step, batch = result.step, max(result.batch, 1)
    if step.setup.accumulate > 1:  # the regions and their cost are the micro-step's
        step = step_memory(step.trace, replace(step.setup, accumulate=1))
    return CheckpointFit(**{f.name: getattr(result, f.name) for f in fields(result)},
                         regions=step.setup.checkpoint, recompute_flops=_flops(step, graph) * batch,
                         saved_bytes=_saved(step, batch), policy=policy)


def _flops(step: Any, graph: Any) -> int:
    """Recomputed FLOPs per sample of a checkpointed step (2 per MAC of the ops run again)."""
    macs = {node.path: node.macs for node in graph.nodes}
    return sum(2 * macs[step.trace.steps[k].path] for k in getattr(step, "recomputed", ()))


def _saved(step: Any, batch: int) -> int:
    a, c = step.saved_columns()
    return sum(a) * batch + sum(c)


def _knapsack(items: list[tuple[int, int]], need: int) -> list[int] | None:
    """Indices of items (cost, gain) of least total cost with total gain >= need (None: impossible)."""
    front: list[tuple[int, int, tuple[int, ...]]] = [(0, 0, ())]  # (cost, gain, chosen): gain rising with cost
    for i, (cost, gain) in enumerate(items):
        merged = sorted(front + [(c + cost, g + gain, chosen + (i,)) for c, g, chosen in front],
                        key=lambda t: (t[0], -t[1]))
        front = []
        for entry in merged:
            if not front or entry[1] > front[-1][1]:
                front.append(entry)
        if len(front) > MAX_FRONT:
            step = len(front) / MAX_FRONT
            front = [front[int(k * step)] for k in range(MAX_FRONT)] + [front[-1]]
    for cost, gain, chosen in front:
        if gain >= need:
            return list(chosen)
    return None


def fit_auto(graph: Any, make_step: Callable[[dict[str, Any]], Any], budget: int, budget_text: str = "") -> Fit:
    """The largest batch with the cheapest checkpointed blocks it needs (module docstring)."""
    units = [b.path for b in chain(graph)]
    none = largest_batch(make_step({}), budget, budget_text)
    if not units:
        return CheckpointFit(none.architecture, budget, none.batch, none.peak, budget_text, step=none.step)
    every = make_step({"checkpoint": tuple(units)})
    best = largest_batch(every, budget, budget_text)
    if best.batch <= none.batch:  # checkpointing does not let a larger batch fit: none needed
        step0 = make_step({})
        return CheckpointFit(none.architecture, budget, none.batch, none.peak, budget_text, step=step0,
                             saved_bytes=_saved(step0, max(none.batch, 1)))
    batch = best.batch
    base = make_step({})
    singles = [make_step({"checkpoint": (u,)}) for u in units]
    items = [(_flops(s, graph) * batch, _saved(base, batch) - _saved(s, batch)) for s in singles]
    need = base.peak(batch).at(batch) - budget
    chosen: tuple[str, ...] = tuple(units)
    for _ in range(len(units) + 1):
        picked = _knapsack(items, need)
        if picked is None:
            break
        regions = tuple(units[i] for i in sorted(picked))
        step = make_step({"checkpoint": regions} if regions else {})
        over = step.peak(batch).at(batch) - budget
        if over <= 0:
            chosen = regions
            break
        need += over
    step = make_step({"checkpoint": chosen})
    return CheckpointFit(best.architecture, budget, batch, step.peak(batch), budget_text, step=step, regions=chosen,
                         recompute_flops=_flops(step, graph) * batch, saved_bytes=_saved(step, batch))
