"""Communication time of a data-parallel step on several GPUs (docs/time.md, "Several GPUs").

The bytes are the memory model's (`cnncost.memory.communication`: each collective of one step, its
payload and the bytes one rank sends, exact ints); this module times them on a profile's links:

- **Ring collectives, NCCL's bus bandwidth.** Over a group of n ranks an all-reduce sends 2(n-1)/n of
  its payload per rank, an all-gather or a reduce-scatter (n-1)/n; each rank sends and receives at
  once, so the time is sent bytes / the link's bandwidth **per direction** plus a latency (nccl-tests,
  doc/PERFORMANCE.md: busbw = algbw x 2(n-1)/n for all-reduce, (n-1)/n for all-gather and
  reduce-scatter, comparable with the hardware's peak bandwidth whatever n).
- **Latency per call**, NCCL's own tuning model for the ring and its Simple protocol (the one large
  messages use; NVIDIA/nccl src/graph/tuning.cc, `baseLat` and `hwLat`): 8.4 us, plus per ring step
  3.4 us over NVLink, 5.7 us over PCIe, 9.6 us over the network; 2(n-1) steps for an all-reduce
  (2(N-1) of them between the group's N nodes), n-1 for the others.
- **Links.** A group within one node talks over NVLink where the profile has it, else PCIe; a group
  across nodes at the network's bandwidth per GPU (a ring is as fast as its slowest hop; one NIC per
  GPU, as in DGX/HGX systems), at most the intra-node link's.
- **Expected vs bound.** The bound: the links' full bandwidth, no latency, and perfect overlap (the
  step is at least its compute and at least its communication: exposed = max(0, communication -
  compute)), so it stays a lower bound. Expected: `BUS_EFFICIENCY` of the bandwidth plus the
  latency, and the overlap PyTorch and DeepSpeed get (`exposed_seconds`).
- **Gradient accumulation.** DDP all-reduces once per optimizer step (`no_sync` on the other
  micro-steps), ZeRO-1 reduces once (its gradients are whole on each rank), ZeRO-2/3 and FSDP
  reduce-scatter every micro-step (their gradients are sharded, as the memory model holds them),
  ZeRO-3 and FSDP gather the parameters every micro-step.

Seconds are floats; bytes stay exact ints. A sweep calls `exposed_seconds` per configuration over
its batches at once (a plan does not depend on the batch; its overlap with compute does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CnnCostError

LINKS = ("nvlink", "pcie", "network")
BUS_EFFICIENCY = 0.8  # expected: share of a link's bandwidth a ring collective's bus bandwidth reaches
# (an assumption: NCCL's tuning model caps an A100 node's bus bandwidth at 235 of 300 GB/s, src/graph/tuning.cc)
BASE_LATENCY_NS = 8_400  # NCCL tuning.cc: baseLat, ring, Simple protocol
HOP_LATENCY_NS = {"nvlink": 3_400, "pcie": 5_700, "network": 9_600}  # hwLat, ring, Simple, per ring step
ALGORITHM = ("ring (NCCL): per call latency 8.4 us + per ring step 3.4 us NVLink, 5.7 us PCIe, 9.6 us network; "
             "sent bytes (an all-reduce 2(n-1)/n of its payload, an all-gather or reduce-scatter (n-1)/n) / bus "
             "bandwidth per direction")
GRADIENT_COLLECTIVES = ("all_reduce", "reduce_scatter")
REDUCE_DTYPES = ("fp32", "bf16", "fp16")
EVERY_MICRO_STEP = {"ddp": (), "zero1": (), "zero2": ("reduce_scatter",),
                    "zero3": ("all_gather", "reduce_scatter"), "fsdp": ("all_gather", "reduce_scatter"),
                    "fsdp-grad-op": ("all_gather", "reduce_scatter"),
                    "hybrid": ("all_gather", "reduce_scatter", "all_reduce")}


@dataclass(frozen=True)
class Transfer:
    """One collective of the step on its link: `sent_bytes_per_rank` over all its `calls`;
    `overlaps`: the phase it runs under (forward, backward) or None (exposed whole); `tail_bytes`:
    the bytes of its one call that nothing can hide (DDP's last bucket, FSDP's first unit)."""

    collective: str
    when: str
    group_size: int
    calls: int
    payload_bytes: int
    sent_bytes_per_rank: int
    link: str
    bandwidth: int  # bytes/s per direction (the datasheet figure)
    group_nodes: int
    overlaps: str | None
    tail_bytes: int
    every_micro_step: bool
    intra_link: str  # the link between the ranks of one node (nvlink or pcie)

    def call_latency(self) -> float:
        """NCCL's ring latency of one call (seconds): its steps within a node over the node's link,
        those between the group's nodes over the network."""
        steps, inter = self.group_size - 1, self.group_nodes - 1
        if self.collective == "all_reduce":
            steps, inter = 2 * steps, 2 * inter
        hops = (steps - inter) * HOP_LATENCY_NS[self.intra_link] + inter * HOP_LATENCY_NS["network"]
        return (BASE_LATENCY_NS + hops) / 1e9

    def bus_bandwidth(self, estimate: str) -> float:
        return self.bandwidth * (BUS_EFFICIENCY if estimate == "expected" else 1.0)

    def seconds(self, estimate: str) -> float:
        """One occurrence (every call): sent / bus bandwidth, plus the latency of each call (expected)."""
        moved = self.sent_bytes_per_rank / self.bus_bandwidth(estimate)
        return moved + self.calls * self.call_latency() if estimate == "expected" else moved

    def tail_seconds(self, estimate: str) -> float:
        if not self.tail_bytes:
            return 0.0
        return self.tail_bytes / self.bus_bandwidth(estimate) + (self.call_latency() if estimate == "expected" else 0.0)


@dataclass(frozen=True)
class Plan:
    """What one optimizer step sends on a job's links: `transfers`, the memory model's collectives
    (`cnncost.memory.communication`) on the profile's links; empty where not timed, `reason` saying why."""

    sharding: str
    world_size: int
    nodes: int
    reduce_dtype: str
    transfers: tuple[Transfer, ...]
    reason: str = ""

    @property
    def timed(self) -> bool:
        return not self.reason

    def sent_bytes_per_rank(self, micro_steps: int = 1) -> int:
        return sum(t.sent_bytes_per_rank * (micro_steps if t.every_micro_step else 1) for t in self.transfers)

    def seconds(self, estimate: str, micro_steps: int = 1) -> float:
        """Every collective of an optimizer step of `micro_steps`, none hidden."""
        return sum(t.seconds(estimate) * (micro_steps if t.every_micro_step else 1) for t in self.transfers)

    def bandwidths(self, estimate: str) -> dict[str, int]:
        """Link -> the bus bandwidth used (bytes/s, rounded to a byte)."""
        return {t.link: round(t.bus_bandwidth(estimate)) for t in self.transfers}


@dataclass(frozen=True)
class CommTime:
    """One estimate's communication in a step: all of it and what compute does not hide."""

    estimate: str
    seconds: float
    exposed_seconds: float
    micro_steps: int = 1


def _larger(a: Any, b: Any) -> Any:
    """max of two floats, or elementwise of numpy arrays (a sweep's batches)."""
    if isinstance(a, float) and isinstance(b, float):
        return a if a >= b else b
    import numpy as np
    return np.maximum(a, b)


def _exposed(transfers: tuple[Transfer, ...] | list[Transfer], estimate: str, forward: Any, backward: Any) -> Any:
    """Expected seconds not hidden in one micro-step: per phase, the collectives that run under it
    expose what does not fit in its compute, and at least their tail (the last bucket, sent after
    the last gradient; the first unit, gathered before anything can run); the rest is exposed whole."""
    out: Any = 0.0
    for phase, window in (("forward", forward), ("backward", backward)):
        group = [t for t in transfers if t.overlaps == phase]
        if group:
            out = out + _larger(sum(t.seconds(estimate) for t in group) - window,
                                float(sum(t.tail_seconds(estimate) for t in group)))
    return out + sum(t.seconds(estimate) for t in transfers if t.overlaps is None)


def exposed_seconds(plan: Plan, estimate: str, forward: Any, backward: Any, optimizer: Any = 0.0,
                    micro_steps: int = 1, last: tuple[Any, Any] | None = None) -> Any:
    """Seconds of communication that add to a step; 0.0 where the plan is not timed. `forward`,
    `backward`, `optimizer`: the step's compute by phase (floats, or numpy arrays over a sweep's
    batches; one micro-step's forward and backward where `micro_steps` > 1, `last` the last
    micro-step's (forward, backward) where its batch differs). Bound: max(0, all communication - all
    compute) (perfect overlap): it needs only the compute's sum. Expected: `_exposed` per
    micro-step: the K-1 first ones send only the collectives repeated every micro-step, the last one all."""
    if not plan.timed:
        return 0.0
    last_forward, last_backward = last if last is not None else (forward, backward)
    k = micro_steps - 1
    if estimate == "bound":
        compute = k * (forward + backward) + last_forward + last_backward + optimizer
        return _larger(plan.seconds("bound", micro_steps) - compute, 0.0)
    every = [t for t in plan.transfers if t.every_micro_step]
    before = k * _exposed(every, estimate, forward, backward) if k and every else 0.0
    return before + _exposed(plan.transfers, estimate, last_forward, last_backward)


def time_of(plan: Plan, estimate: str, forward: float, backward: float, optimizer: float, micro_steps: int = 1,
            last: tuple[float, float] | None = None) -> CommTime:
    exposed = exposed_seconds(plan, estimate, forward, backward, optimizer, micro_steps, last)
    return CommTime(estimate, plan.seconds(estimate, micro_steps), float(exposed), micro_steps)


# --- the plan: the memory model's collectives on the profile's links ---

def network_rate(value: int | str) -> int:
    """Bytes/s from an int, '50GB/s' (bytes, decimal prefixes) or '400Gbit/s', '400Gb/s', '400Gbps' (bits)."""
    from ..hardware.files import rate
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CnnCostError(f"network bandwidth: expected bytes/s or a rate like '400Gbit/s', got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise CnnCostError(f"network bandwidth must be positive, got {value}")
        return value
    text = value[:60].rstrip()
    unit = next((u for u in ("bit/s", "b/s", "bps", "B/s") if text.endswith(u)), "")
    number = text[:len(text) - len(unit)]
    try:  # a profile's decimal rate; the unit right after digits or a prefix ('m' would read as mega)
        if not unit or number[-1:] not in tuple("0123456789kMGT"):
            raise CnnCostError(value)
        parsed = rate("network bandwidth", number)
    except CnnCostError:
        raise CnnCostError(f"network bandwidth: expected a rate like '400Gbit/s' or '50GB/s', got {value[:60]!r}") from None
    bytes_per_second = parsed if unit == "B/s" else parsed // 8
    if bytes_per_second < 1:
        raise CnnCostError(f"network bandwidth must be positive, got {value[:60]!r}")
    return bytes_per_second


def link_keywords(nodes: int | None, network_bandwidth: int | str | None, reduce_dtype: str | None, hardware: Any,
                  world_size: int, how: str) -> dict[str, Any]:
    """`communication_plan`'s keywords as `table`, `fit` and `sweep` take them, checked: they need a
    hardware profile and a world size over 1 (`how`: how to give one); {} where none is given."""
    given: dict[str, Any] = {"nodes": nodes, "network_bandwidth": network_bandwidth, "reduce_dtype": reduce_dtype}
    named = [name for name, value in given.items() if value is not None]
    if not named:
        return {}
    if hardware is None:
        raise CnnCostError(f"{', '.join(named)} time the communication of several GPUs: give hardware= (--hardware)")
    if world_size < 2:
        raise CnnCostError(f"{', '.join(named)} time the communication of several GPUs: give a world size over 1 "
                           f"({how}) under memory='autograd'")
    if network_bandwidth is not None:
        given["network_bandwidth"] = network_rate(network_bandwidth)
    return given


def node_count(setup: Any, nodes: int | None) -> int:
    """Nodes the job spans: given, else one (hybrid: one per shard group, as the sharding means)."""
    from ..memory.sharding import shards
    if nodes is None:
        return setup.world_size // shards(setup) if setup.sharding == "hybrid" else 1
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise CnnCostError(f"nodes must be a positive integer, got {nodes!r}")
    if setup.world_size % nodes:
        raise CnnCostError(f"--nodes {nodes} must divide the world size {setup.world_size} (ranks per node alike)")
    return nodes


def _intra_link(profile: Any) -> tuple[str, int] | None:
    if profile.nvlink_bandwidth:
        return "nvlink", profile.nvlink_bandwidth
    if profile.pcie_bandwidth:
        return "pcie", profile.pcie_bandwidth
    return None


def communication_plan(trace: Any, setup: Any, profile: Any, *, nodes: int | None = None,
                       network_bandwidth: int | None = None, reduce_dtype: str | None = None) -> Plan | None:
    """The communication of one optimizer step of `trace` under `setup` (a `cnncost.Setup` with a
    sharding) on `profile`'s links; None on one device. `nodes`: how many nodes the ranks are spread
    over, evenly (default 1; hybrid: one per shard group); `network_bandwidth`: bytes/s per GPU per
    direction between nodes (default: the profile's); `reduce_dtype`: the dtype gradients travel in
    (default: the parameters', as DDP and ZeRO reduce them; bf16 or fp16 as a compression hook or
    FSDP's MixedPrecision(reduce_dtype=...) sends them). Where the profile lacks a link the job needs,
    the plan is not timed and says why."""
    if setup is None or setup.sharding is None or setup.world_size < 2:
        return None
    from ..memory.communication import communication, ring_sent
    from ..memory.tensors import ELEMENT_BYTES
    param_dtype = trace.precision.param_dtype
    reduce_dtype = param_dtype if reduce_dtype is None else reduce_dtype
    if reduce_dtype not in REDUCE_DTYPES:
        raise CnnCostError(f"reduce dtype must be one of {', '.join(REDUCE_DTYPES)}, got {reduce_dtype!r}")
    n_nodes = node_count(setup, nodes)
    network = network_bandwidth if network_bandwidth is not None else profile.network_bandwidth
    if network is not None and (isinstance(network, bool) or not isinstance(network, int) or network < 1):
        raise CnnCostError(f"network bandwidth must be a positive whole number of bytes/s, got {network!r}")
    record = communication(trace, setup, 1)
    scale = (ELEMENT_BYTES[reduce_dtype], ELEMENT_BYTES[param_dtype])
    plan = Plan(setup.sharding, setup.world_size, n_nodes, reduce_dtype, ())
    intra = _intra_link(profile)
    if intra is None:
        return _untimed(plan, f"the profile {profile.name} gives no GPU interconnect (nvlink_bandwidth or "
                              "pcie_bandwidth): communication not timed")
    tails = _tails(trace, setup)
    transfers = []
    per_node = setup.world_size // n_nodes
    for c in record["collectives"]:
        op, group = c["collective"], c["group_size"]
        payload = c["payload_bytes"] * scale[0] // scale[1] if op in GRADIENT_COLLECTIVES else c["payload_bytes"]
        replicas = setup.sharding == "hybrid" and op == "all_reduce"  # across the shard groups
        group_nodes = min(group, n_nodes) if replicas else max(1, -(-group // per_node)) if n_nodes > 1 else 1
        if group_nodes > 1 and network is None:
            return _untimed(plan, f"{n_nodes} nodes and no network bandwidth (--network-bandwidth, or the "
                                  "profile's network_bandwidth): communication not timed")
        link, bandwidth = ("network", min(network, intra[1])) if group_nodes > 1 and network else intra
        tail = tails.get((op, c["when"]), 0)
        tail = tail * scale[0] // scale[1] if op in GRADIENT_COLLECTIVES else tail
        transfers.append(Transfer(op, c["when"], group, c["calls"], payload, ring_sent(op, group, payload), link,
                                  bandwidth, group_nodes, _overlaps(setup.sharding, op, c["when"]),
                                  ring_sent(op, group, tail) if tail else 0,
                                  op in EVERY_MICRO_STEP[setup.sharding], intra[0]))
    return Plan(setup.sharding, setup.world_size, n_nodes, reduce_dtype, tuple(transfers))


def _untimed(plan: Plan, reason: str) -> Plan:
    return Plan(plan.sharding, plan.world_size, plan.nodes, plan.reduce_dtype, (), reason)


def _overlaps(sharding: str, op: str, when: str) -> str | None:
    """The phase a collective runs under: DDP's buckets and FSDP's/ZeRO-3's gathers and reductions
    overlap compute; DeepSpeed ZeRO-1/2 reduce their one bucket (reduce_bucket_size 5e8 elements
    holds any CNN's gradients) after backward and gather the updated parameters after the step."""
    if sharding in ("zero1", "zero2") or when == "after the optimizer step":
        return None
    return when


def _tails(trace: Any, setup: Any) -> dict[tuple[str, str], int]:
    """(collective, when) -> the payload of its call that cannot overlap: DDP's last bucket (the
    first layers' gradients, ready when backward ends); FSDP's and ZeRO-3's first unit, gathered
    before the forward starts and reduce-scattered after the backward ends."""
    from ..memory.communication import gathered_units
    from ..memory.sharding import ddp_buckets, shards
    if setup.sharding == "ddp":
        buckets = ddp_buckets(trace, setup)
        return {("all_reduce", "backward"): buckets[-1]} if buckets else {}
    if setup.sharding in ("zero1", "zero2"):
        return {}
    first = next(iter(gathered_units(trace, setup).values()), 0)
    if not first:
        return {}
    parts = shards(setup)
    out = {("all_gather", "forward"): first, ("reduce_scatter", "backward"): first}
    if setup.sharding == "hybrid" and setup.world_size > parts:
        out[("all_reduce", "backward")] = first // parts
    return out


def plan_record(plan: Plan, comm: CommTime | None, samples_per_rank: int, step_seconds: float) -> dict[str, Any]:
    """The `communication` object of one estimate in the JSON `timing` (docs/output.md): what is
    sent, on which links at what bus bandwidth, how long it takes, and what the step exposes."""
    out: dict[str, Any] = {"timed": plan.timed, "sharding": plan.sharding, "world_size": plan.world_size,
                           "nodes": plan.nodes}
    if comm is None:
        return out | {"reason": plan.reason}
    estimate, k = comm.estimate, comm.micro_steps
    latency = (sum(t.calls * t.call_latency() * (k if t.every_micro_step else 1) for t in plan.transfers)
               if estimate == "expected" else 0.0)
    collectives = [{"collective": t.collective, "when": t.when, "group_size": t.group_size, "calls": t.calls,
                    "payload_bytes": t.payload_bytes, "sent_bytes_per_rank": t.sent_bytes_per_rank, "link": t.link,
                    "bus_bandwidth": round(t.bus_bandwidth(estimate)), "overlaps": t.overlaps,
                    "every_micro_step": t.every_micro_step, "seconds": t.seconds(estimate)} for t in plan.transfers]
    return out | {"algorithm": ALGORITHM, "reduce_dtype": plan.reduce_dtype, "micro_steps": k,
                  "sent_bytes_per_rank": plan.sent_bytes_per_rank(k), "bus_bandwidth": plan.bandwidths(estimate),
                  "latency_seconds": latency, "seconds": comm.seconds, "exposed_seconds": comm.exposed_seconds,
                  "overlapped_seconds": max(0.0, comm.seconds - comm.exposed_seconds),
                  "global_batch": samples_per_rank * plan.world_size,
                  "global_images_per_second": samples_per_rank * plan.world_size / step_seconds,
                  "collectives": collectives}
