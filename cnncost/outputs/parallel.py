"""What several GPUs add to a report under the autograd memory model: the `communication` object
(JSON) and the footer lines (text) of a per-rank step (`cnncost.memory.sharding`)."""
from __future__ import annotations

from typing import Any

from ..formatting import binary_bytes, grouped


def communication_record(step: Any, batch: int) -> dict[str, Any] | None:
    """The `communication` object of a step run on several GPUs (None on one device)."""
    if step is None or getattr(step.setup, "sharding", None) is None:
        return None
    from ..memory.communication import communication
    return communication(step.trace, step.setup, batch)


def parallel_lines(step: Any, batch: int) -> list[str]:
    """'Several GPUs: ...' and 'Communication per step: ...' (none on one device)."""
    record = communication_record(step, batch)
    if record is None:
        return []
    setup = step.setup
    how = f"sharded over {record['shards']} ranks" if record["shards"] > 1 else "replicated"
    view = ", gradients as bucket views" if setup.sharding == "ddp" and setup.gradient_as_bucket_view else ""
    sent = "; ".join(f"{c['collective'].replace('_', '-')} ({c['when']}, {c['calls']} call"
                     f"{'s' if c['calls'] != 1 else ''} over {c['group_size']} ranks) of "
                     f"{binary_bytes(c['payload_bytes'])}: {binary_bytes(c['sent_bytes_per_rank'])} sent"
                     for c in record["collectives"])
    return [f"Several GPUs: {setup.sharding} over {record['world_size']} ranks ({how}{view}); batch "
            f"{grouped(batch)} per rank, global batch {grouped(record['global_batch'])}; the training step "
            "above is one rank's",
            f"Communication per step and rank (ring: (n-1)/n of the payload per all-gather or reduce-scatter, "
            f"2(n-1)/n per all-reduce): {sent}; in all {binary_bytes(record['sent_bytes_per_rank'])} per rank, "
            f"{binary_bytes(record['sent_bytes_total'])} over all ranks"]
