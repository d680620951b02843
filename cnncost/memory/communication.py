"""Bytes one training step sends between ranks under a sharding (`Setup.sharding`), collective by
collective, for the ring algorithm: over a group of n ranks an all-gather or a reduce-scatter of a
payload of B bytes sends (n-1)/n x B per rank, an all-reduce (a reduce-scatter, then an
all-gather) 2(n-1)/n x B; a fraction of a byte is rounded up. The payloads are the flat tensors
`cnncost.memory.sharding` models (padded to a multiple of the shard count where sharded):

- ddp: an all-reduce of every gradient bucket, in backward;
- zero1, zero2: a reduce-scatter of the gradients and an all-gather of the updated parameters
  (2 Psi elements per rank and step, as DDP: ZeRO paper, section 7);
- zero3: all-gathers of the parameters in forward and again in backward, a reduce-scatter of the
  gradients (3 Psi: 1.5 x DDP, ibid.);
- fsdp: as zero3 per unit, the root unit not gathered again in backward (it stays gathered);
  fsdp-grad-op: one all-gather (forward), one reduce-scatter;
- hybrid: fsdp within a node, then an all-reduce of each rank's gradient shard across the nodes.
"""
from __future__ import annotations

from typing import Any

from .sharding import ddp_buckets, per_unit, shard_bytes, shards, units_of
from .tensors import ELEMENT_BYTES

ALGORITHM = ("ring: per rank, an all-gather or reduce-scatter over n ranks sends (n-1)/n of the payload, "
             "an all-reduce 2(n-1)/n (bytes rounded up)")


def ring_sent(collective: str, group: int, payload: int) -> int:
    """Bytes one rank sends in a ring collective (a fraction of a byte rounded up)."""
    factor = 2 if collective == "all_reduce" else 1
    return factor * -(-(group - 1) * payload // group)


def gathered_units(trace: Any, setup: Any) -> dict[int, int]:
    """Per unit with parameters (forward order, -1 the root), its flat parameters' bytes, padded:
    what a sharded step gathers (zero3, fsdp, hybrid)."""
    size, parts = ELEMENT_BYTES[trace.precision.param_dtype], shards(setup)
    units = per_unit(units_of(trace, setup), [s.params * size for s in trace.steps])
    return {u: shard_bytes(p, size, parts) * parts for u, p in units.items() if p}


def _collective(op: str, when: str, group: int, payload: int, calls: int) -> dict[str, Any]:
    return {"collective": op, "when": when, "group_size": group, "calls": calls, "payload_bytes": payload,
            "sent_bytes_per_rank": ring_sent(op, group, payload)}


def communication(trace: Any, setup: Any, batch: int) -> dict[str, Any]:
    """The `communication` object (docs/output.md): the job, each collective of one step, and the
    bytes sent per rank and by all ranks together."""
    size = ELEMENT_BYTES[trace.precision.param_dtype]
    kind, world, parts = setup.sharding, setup.world_size, shards(setup)
    total = sum(s.params * size for s in trace.steps)
    out: list[dict[str, Any]] = []
    if kind == "ddp":
        buckets = ddp_buckets(trace, setup)
        out.append(_collective("all_reduce", "backward", world, total, len(buckets)))
    elif kind in ("zero1", "zero2"):
        padded = shard_bytes(total, size, parts) * parts
        out += [_collective("reduce_scatter", "backward", world, padded, 1),
                _collective("all_gather", "after the optimizer step", world, padded, 1)]
    else:
        gathered = gathered_units(trace, setup)
        every = sum(gathered.values())
        again = every - gathered.get(-1, 0) if kind != "zero3" else every
        out.append(_collective("all_gather", "forward", parts, every, len(gathered)))
        if kind != "fsdp-grad-op":
            out.append(_collective("all_gather", "backward", parts, again, len(gathered) - (-1 in gathered)))
        out.append(_collective("reduce_scatter", "backward", parts, every, len(gathered)))
        if kind == "hybrid" and world > parts:
            out.append(_collective("all_reduce", "backward", world // parts, every // parts, len(gathered)))
    per_rank = sum(c["sent_bytes_per_rank"] for c in out)
    return {"world_size": world, "sharding": kind, "shards": parts, "batch_per_rank": batch,
            "global_batch": batch * world, "algorithm": ALGORITHM, "collectives": out,
            "sent_bytes_per_rank": per_rank, "sent_bytes_total": per_rank * world}
