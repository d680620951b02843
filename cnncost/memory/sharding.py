"""Training on several GPUs: what ONE rank holds at each moment of the step, and what it sends.

`per_rank` rewrites the single-device step's fixed columns (parameters, gradients, optimizer state
and temporaries) for one rank of a data-parallel job and adds the parts sharding brings; the
per-sample parts are untouched (`--batch` is per rank). The rules, per `Setup.sharding`:

- ddp (PyTorch DistributedDataParallel): parameters and state replicated; the reducer holds a flat
  bucket per group of gradients ("gradient buckets", every trainable parameter's bytes, the whole
  step: made at construction and rebuilt in gradient-ready order after the first iteration).
  `gradient_as_bucket_view=False` (PyTorch's default): `.grad` tensors are separate and copied into
  the buckets, so gradient memory is doubled; True: `.grad` are views of the buckets, and only the
  fresh gradient of the layer in backward exists beside them (autograd makes it; the reducer
  copies it into its bucket and points `.grad` at the bucket view).
- zero1/zero2/zero3 (ZeRO, Rajbhandari et al. 2020, DeepSpeed stages): stage 1 shards the optimizer
  state (and Adam's temporary), 2 also the gradients, 3 also the parameters. Sharded gradients: the
  rank keeps its 1/N of those already reduced, the layer in backward has its full gradients (the
  "reduce-scatter buffer"). Stage 3: the parameters of the layer in flight and of the next one
  (prefetch) are all-gathered in full ("all-gather buffer"). DeepSpeed's own buffers
  (reduce_bucket_size, allgather_bucket_size, contiguous gradients, prefetch bucket sizes) are not
  modelled: the paper's model states are.
- fsdp / fsdp-grad-op / hybrid (PyTorch FSDP, Zhao et al. 2023; FULL_SHARD, SHARD_GRAD_OP,
  HYBRID_SHARD): each unit (default: every top-level child of the net, as ModuleWrapPolicy on the
  top-level blocks; `fsdp_units` patterns choose blocks instead, the rest stays in the root unit)
  is one flat parameter padded to a multiple of the shard count; the rank holds one shard of each,
  its gradient and optimizer state. full_shard gathers a unit for its forward and again for its
  backward, with BACKWARD_PRE prefetch (the next unit of backward gathered too); the root unit stays
  gathered from its forward to its backward. shard_grad_op keeps every gathered unit from its
  forward to the end of backward. hybrid = full_shard within a node of `ranks_per_node` ranks,
  replicated across nodes. No MixedPrecision policy: units are gathered in the parameters' dtype.

Sharded sizes: ceil(elements / shards) per flat tensor (the padding FSDP and DeepSpeed add).
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Callable

from ..errors import CnnCostError
from ..layers.base import suggest
from .optimizer_step import step_counters
from .tensors import ELEMENT_BYTES

SHARDINGS = ("ddp", "zero1", "zero2", "zero3", "fsdp", "fsdp-grad-op", "hybrid")
RANK_PARTS = ("gradient buckets", "all-gather buffer", "reduce-scatter buffer")
FIRST_BUCKET_BYTES = 2**20  # torch.distributed._DEFAULT_FIRST_BUCKET_BYTES
DEFAULT_BUCKET_CAP_MB = 25  # torch.nn.parallel.distributed._DEFAULT_BUCKET_CAP_MB
FIXED_PARTS = ("parameters", "gradients", "optimizer state", "optimizer temporaries") + RANK_PARTS


def shards(setup: Any) -> int:
    """How many ranks one parameter is split over (hybrid: the ranks of one node)."""
    if setup.sharding == "ddp":
        return 1
    if setup.sharding == "hybrid":
        return min(setup.ranks_per_node, setup.world_size)
    return setup.world_size


def shard_bytes(nbytes: int, size: int, parts: int) -> int:
    """Bytes of one rank's shard of a flat tensor of `nbytes` (elements of `size` bytes), padded."""
    return -(-(nbytes // size) // parts) * size


def units_of(trace: Any, setup: Any) -> list[int]:
    """The unit of every step: an index, or -1 for the root unit (FSDP) / no unit."""
    keys: dict[str, int] = {}
    out = []
    for step in trace.steps:
        if setup.sharding == "zero3":  # DeepSpeed gathers each module with parameters
            key = step.path if step.params else None
        elif setup.fsdp_units:
            parts = step.path.split(".")
            prefixes = (".".join(parts[:j]) for j in range(1, len(parts) + 1))
            key = next((p for p in prefixes if any(fnmatchcase(p, pat) for pat in setup.fsdp_units)), None)
        else:
            key = step.path.split(".")[0]
        out.append(-1 if key is None else keys.setdefault(key, len(keys)))
    return out


def per_rank(trace: Any, setup: Any, totals_fx: list[int], columns: Callable[[], dict], breakdown: Callable,
             axis: list[tuple[str, int]], at_node: list[int], after: dict[int, tuple[int, int]]):
    """(totals_fx, columns, breakdown) of one rank, from the single-device step's: every moment's
    fixed bytes change by the per-rank delta of the parts in FIXED_PARTS. `axis`: each moment's
    (kind, trace step): forward, backward (a step's node), sum (a gradient sum after it), after (its
    gradients settling: grad_settling.py), optimizer; `at_node`, `after`: `grad_settling.settling`'s."""
    base = columns()
    delta = _deltas(trace, setup, base, axis, at_node, after)
    totals = [t + sum(d[i] for d in delta.values()) for i, t in enumerate(totals_fx)]

    def rank_columns() -> dict:
        out = dict(base)
        for name, d in delta.items():
            a, c = out.get(name, (0, 0))
            out[name] = (a, [(c if type(c) is int else c[i]) + d[i] for i in range(len(d))])
        return out

    def rank_breakdown(i: int) -> dict:
        values = dict(breakdown(i))
        for name, d in delta.items():
            a, c = values.get(name, (0, 0))
            values[name] = (a, c + d[i])
        return values
    return totals, rank_columns, rank_breakdown


def _at(column: Any, i: int) -> int:
    return column if type(column) is int else column[i]


def _deltas(trace: Any, setup: Any, base: dict, axis: list[tuple[str, int]], at_node: list[int],
            after: dict[int, tuple[int, int]]) -> dict[str, list[int]]:
    """Per part, the fixed bytes one rank holds minus what one device holds, at every moment. The
    sharded parts are laid out on the plain axis (forward k, backward k, the optimizer step) and
    a moment after a step's node holds what its node does, plus the settling's transient over the
    step's final gradients (a cast beside its low gradient, a copy into the parameter's layout)."""
    steps, n = trace.steps, len(trace.steps)
    m = len(axis)
    size = ELEMENT_BYTES[trace.precision.param_dtype]
    params = _at(base["parameters"][1], 0)
    state, temporaries = _at(base["optimizer state"][1], 0), _at(base["optimizer temporaries"][1], m - 1)
    step_params = [s.params * size for s in steps]
    fresh = [s.trainable_params * size for s in steps]  # the gradients a step's backward makes (none frozen)
    plain = [k if kind == "forward" else 2 * n - 1 - k if kind != "optimizer" else 2 * n for kind, k in axis]
    excess = [after[k][0] - fresh[k] if kind == "after" else 0 for kind, k in axis]
    want = {name: [_at(base.get(name, (0, 0))[1], i) for i in range(m)] for name in FIXED_PARTS}
    have = {name: list(column) for name, column in want.items()}
    kind, parts = setup.sharding, shards(setup)
    total_grads = sum(fresh)

    def spread(column: list[int], add_excess: bool = False) -> list[int]:
        """A column of the plain axis (2n + 1 moments) on the step's."""
        return [column[j] + (excess[i] if add_excess else 0) for i, j in enumerate(plain)]
    if kind == "ddp":
        want["gradient buckets"] = [total_grads] * m
        if setup.gradient_as_bucket_view:  # the fresh gradients beside the buckets, until copied in
            want["gradients"] = [at_node[k] if what in ("backward", "sum") else after[k][0] if what == "after" else 0
                                 for what, k in axis]
    else:
        units = units_of(trace, setup) if kind in ("zero3", "fsdp", "fsdp-grad-op", "hybrid") else [0] * n
        flat_params = (sum(shard_bytes(p, size, parts) for p in per_unit(units, step_params).values())
                       if kind != "zero1" and kind != "zero2" else shard_bytes(params, size, parts))
        counters = step_counters(trace, setup.optimizer)  # Adam's step counts (CPU): one per tensor, not sharded
        copies = (state - counters) // params if params else 0
        temporary_copies = temporaries // params if params else 0
        sharded = shard_bytes(params, size, parts) if kind in ("zero1", "zero2") else flat_params
        want["optimizer state"] = [copies * sharded + counters] * m
        want["optimizer temporaries"] = [0] * (m - 1) + [temporary_copies * sharded]
        if kind != "zero1":
            grads, buffer = _sharded_grads(n, units, fresh, size, parts, kind in ("zero2", "zero3"))
            want["gradients"], want["reduce-scatter buffer"] = spread(grads, True), spread(buffer)
        if kind not in ("zero1", "zero2"):
            want["parameters"] = [flat_params] * m
            want["all-gather buffer"] = spread(_gathered(n, units, step_params, size, parts, kind))
    return {name: [w - h for w, h in zip(want[name], have[name])] for name in FIXED_PARTS
            if want[name] != have[name]}


def per_unit(units: list[int], values: list[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for u, v in zip(units, values):
        out[u] = out.get(u, 0) + v
    return out


def _sharded_grads(n: int, units: list[int], fresh: list[int], size: int, parts: int, by_layer: bool):
    """(gradients, reduce-scatter buffer) columns: the rank's shards of the gradients reduced so far;
    the full gradients of the layer (ZeRO) or unit (FSDP) in backward, until its reduce-scatter."""
    grads, buffer = [0] * n, [0] * n
    done = 0  # ZeRO: bytes reduced so far (one flat partition); FSDP: sum of the finished units' shards
    pending: dict[int, int] = {}  # FSDP: each unit's full gradients, until its first layer's backward is done
    first = {u: units.index(u) for u in set(units)}
    for k in range(n - 1, -1, -1):  # backward order
        if by_layer:
            buffer[k], grads[k] = fresh[k], shard_bytes(done, size, parts)
            done += fresh[k]
            continue
        u = units[k]
        pending[u] = pending.get(u, 0) + fresh[k]
        buffer[k], grads[k] = sum(pending.values()), done
        if k == first[u]:  # the unit's flat gradient is complete: reduce-scattered, then freed
            done += shard_bytes(pending.pop(u), size, parts)
    final = shard_bytes(done, size, parts) if by_layer else done
    return [0] * n + grads[::-1] + [final], [0] * n + buffer[::-1] + [0]


def _gathered(n: int, units: list[int], step_params: list[int], size: int, parts: int, kind: str) -> list[int]:
    """The all-gather buffer at every moment: full (padded) parameters of the units gathered then."""
    full = {u: shard_bytes(p, size, parts) * parts for u, p in per_unit(units, step_params).items() if p}
    root = full.pop(-1, 0)
    order = list(dict.fromkeys(u for u in units if u in full))  # units with parameters, in forward order
    first = {u: units.index(u) for u in order}
    forward, backward = [0] * n, [0] * n
    for k in range(n):
        u = units[k]
        now = full.get(u, 0)
        if kind == "zero3":  # the layer in flight and the next one with parameters (prefetch)
            nxt = next((units[j] for j in range(k + 1, n) if units[j] in full), None)
            prv = next((units[j] for j in range(k - 1, -1, -1) if units[j] in full), None)
            forward[k] = now + (full[nxt] if nxt is not None else 0)
            backward[k] = now + (full[prv] if prv is not None else 0)
        elif kind == "fsdp-grad-op":  # every unit from its forward to the end of backward
            forward[k] = backward[k] = root + sum(full[v] for v in order if first[v] <= k)
        else:  # full_shard: the unit now; in backward also the next unit of backward (BACKWARD_PRE)
            position = order.index(u) if u in full else 0
            before = full[order[position - 1]] if position > 0 else 0
            forward[k], backward[k] = root + now, root + now + before
    return forward + backward[::-1] + [0]


def ddp_buckets(trace: Any, setup: Any) -> list[int]:
    """Bytes of each DDP gradient bucket after the rebuild, in the order they are reduced: the
    reducer's `compute_bucket_assignment_by_size` over the gradients in backward order (a layer's
    parameters taken together; a bucket closes once it reaches its cap). PyTorch's default: the
    first bucket's cap 1 MiB, the others' 25 MiB; a `bucket_cap_mb` given is every bucket's cap
    (DDP's `_BucketConfig`)."""
    size = ELEMENT_BYTES[trace.precision.param_dtype]
    later = (setup.bucket_cap_mb or DEFAULT_BUCKET_CAP_MB) * 2**20
    buckets, current, cap = [], 0, FIRST_BUCKET_BYTES if setup.bucket_cap_mb is None else later
    for step in reversed(trace.steps):
        if not step.params:
            continue
        current += step.params * size
        if current >= cap:
            buckets.append(current)
            current, cap = 0, later
    if current:
        buckets.append(current)
    return buckets


def check_parallel(setup: Any) -> None:
    """One clear line for a setup several GPUs cannot run."""
    for name in ("world_size", "ranks_per_node", "bucket_cap_mb"):
        value = getattr(setup, name)
        if value is None and name == "bucket_cap_mb":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CnnCostError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
    if setup.sharding is None:
        if setup.world_size > 1:
            raise CnnCostError(f"world size {setup.world_size} needs a sharding: {', '.join(SHARDINGS)}")
        return
    if setup.sharding not in SHARDINGS:
        raise CnnCostError(f"unknown sharding '{setup.sharding}'" + suggest(str(setup.sharding), SHARDINGS))
    if setup.mode != "train":
        raise CnnCostError(f"sharding '{setup.sharding}' models a training step: use mode train")
    if setup.sharding == "hybrid" and setup.world_size % min(setup.ranks_per_node, setup.world_size):
        raise CnnCostError(f"hybrid sharding needs whole nodes: world size {setup.world_size} is not a multiple "
                           f"of {setup.ranks_per_node} ranks per node")
    if not isinstance(setup.fsdp_units, tuple):
        raise CnnCostError("fsdp_units must be a tuple of block path patterns")


# The ZeRO paper's model states (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward
# Training Trillion Parameter Models", section 5.1 and Figure 1): mixed-precision Adam keeps fp16
# parameters (2 Psi bytes) and gradients (2 Psi) and K Psi of optimizer state (fp32 master weights,
# momentum and variance: K = 12), each device of Nd holding:
ZERO_STAGES = {0: (1, 1, 1), 1: (1, 1, 0), 2: (1, 0, 0), 3: (0, 0, 0)}  # replicated? params, grads, state


def zero_model_states(psi: int, devices: int, stage: int, k: int = 12) -> float:
    """Bytes of model states per device at ZeRO `stage` (0: data parallel): 2 Psi of parameters, 2 Psi
    of gradients and K Psi of optimizer state, each divided by Nd once its stage shards it."""
    params, grads, state = ZERO_STAGES[stage]
    return sum(b * psi / (1 if whole else devices) for b, whole in ((2, params), (2, grads), (k, state)))
