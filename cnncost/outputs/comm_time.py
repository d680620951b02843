"""The words of several GPUs' communication time (`cnncost.timing.communication`) in a table's
summary line and footer and in `fit`'s throughput line; nothing on one device."""
from __future__ import annotations

from typing import Any

from ..formatting import binary_bytes, duration, fixed, grouped

LINK_NAMES = {"nvlink": "NVLink", "pcie": "PCIe", "network": "the network"}


def gigabytes(rate: int) -> str:
    """Bytes/s in GB/s: whole ones grouped, else one decimal (also `cnncost hardware`'s table)."""
    return grouped(rate // 10**9) if rate % 10**9 == 0 else fixed(rate, 10**9, 1)


def _plan(timing: Any) -> Any:
    return getattr(timing, "communication", None)


def summary_part(timing: Any) -> tuple[str, str]:
    """(after 'N images/s', inside the parentheses): ' per rank, M over W ranks' and ', communication
    X of Y not hidden' (or ', communication not timed'); two empty strings on one device."""
    plan = _plan(timing)
    if plan is None:
        return "", ""
    expected = timing.expected
    ranks = f" per rank, {plan.world_size * expected.images_per_second:,.1f} over {plan.world_size} ranks"
    comm = expected.communication
    if comm is None:
        return ranks, "; communication not timed"
    return ranks, f"; communication {duration(comm.exposed_seconds)} of {duration(comm.seconds)} not hidden"


def phase_part(step: Any) -> str:
    """' + communication X' in a step's sum (the seconds compute does not hide)."""
    return "" if step.communication is None else f" + communication {duration(step.communication.exposed_seconds)}"


def footer_lines(timing: Any) -> list[str]:
    """What is sent on which link, how long it takes, and what the step waits for; or why not timed."""
    plan = _plan(timing)
    if plan is None:
        return []
    where = f"{plan.sharding} over {plan.world_size} ranks on {plan.nodes} node{'s' if plan.nodes != 1 else ''}"
    if not plan.timed:
        return [f"Communication time on {timing.hardware} ({where}): {plan.reason}"]
    expected, bound = timing.expected.communication, timing.bound.communication
    k = expected.micro_steps
    sent = "; ".join(
        f"{t.collective.replace('_', '-')} ({t.when}{', every micro-step' if k > 1 and t.every_micro_step else ''}) "
        f"{binary_bytes(t.sent_bytes_per_rank)} per rank on {LINK_NAMES[t.link]} at "
        f"{gigabytes(round(t.bus_bandwidth('expected')))} GB/s: {duration(t.seconds('expected'))}"
        for t in plan.transfers)
    hidden = {"ddp": "the backward hides all but the last bucket's all-reduce and what does not fit under it",
              "zero1": "nothing hides ZeRO's reduce-scatter (one bucket, after backward) and all-gather (after the step)",
              "zero2": "nothing hides ZeRO's reduce-scatter (one bucket, after backward) and all-gather (after the step)"}
    overlap = hidden.get(plan.sharding, "forward and backward hide the gathers and reductions but the first unit's "
                                        "and what does not fit under them")
    return [f"Communication time on {timing.hardware} ({where}, {plan.reduce_dtype} gradients; ring, NCCL's latency "
            f"model): {sent}",
            f"  in all {binary_bytes(plan.sent_bytes_per_rank(k))} per rank, {duration(expected.seconds)} expected, of "
            f"which {duration(expected.exposed_seconds)} adds to the step ({overlap}); roofline bound "
            f"{duration(bound.seconds)} at the links' full bandwidth, hidden but "
            f"{duration(bound.exposed_seconds)} (perfect overlap)"]
