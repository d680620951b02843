"""The objects table and fit share: `training_step` (the autograd model's peak, docs/memory.md),
`inference`, `communication` (several GPUs) and `timing` (a hardware profile), their part names
and enums read from the modules that make them."""
from __future__ import annotations

from ..memory.sharding import SHARDINGS
from ..memory.step import PARTS
from .common import BOUNDS, COUNT, FLAG, NAMES, SECONDS, TEXT, Schema, closed, counts_by

BREAKDOWN = counts_by(PARTS) | {"description": "bytes per part at the peak (parts that are 0 left out), summing to "
                                               "peak_bytes"}
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter")
WHEN = ("forward", "backward", "after the optimizer step")

# what the caching allocator model adds (cnncost.memory.reserved.device_record): cuda, a plain step
DEVICE_FIELDS: dict[str, Schema] = {
    "reserved_bytes": COUNT, "nvidia_smi_bytes": COUNT, "allocator_allocated_bytes": COUNT,
    "workspace_bytes": COUNT, "cuda_context_bytes": COUNT, "gpu": TEXT, "reserved_peak_at": TEXT,
    "reserved_status": TEXT,
}
# --freeze and --accumulate (cnncost.memory.accumulate.setup_fields); the per-step FLOPs null-free
# only where every layer's MACs are known
SETUP_FIELDS: dict[str, Schema] = {
    "freeze": NAMES, "trainable_params": COUNT, "frozen_params": COUNT, "accumulate": {"type": "integer", "minimum": 2},
    "micro_batch": COUNT, "global_batch": COUNT, "training_flops_per_micro_step": COUNT,
    "training_flops_per_step": COUNT,
}


def training_step() -> Schema:
    """`training_step`: the peak moment of one step (fit --mode inference: of the eval pass)."""
    return closed({"mode": {"enum": ["train", "inference"]}, "peak_bytes": COUNT, "phase": TEXT,
                   "breakdown": BREAKDOWN, "checkpoint": NAMES, **SETUP_FIELDS, **DEVICE_FIELDS},
                  ["mode", "peak_bytes", "phase", "breakdown"])


def inference() -> Schema:
    """`inference` (cnncost.memory.inference.InferenceMemory.summary)."""
    return closed({"peak_bytes": COUNT, "peak_activation_bytes": COUNT, "peak_at": TEXT, "arena_bytes": COUNT,
                   "baseline_bytes": COUNT, "int8": FLAG, "breakdown": BREAKDOWN},
                  ["peak_bytes", "peak_activation_bytes", "peak_at", "arena_bytes", "baseline_bytes", "int8",
                   "breakdown"])


def communication() -> Schema:
    """`communication` (cnncost.memory.communication): what one step sends, ring convention."""
    collective = closed({"collective": {"enum": list(COLLECTIVES)}, "when": {"enum": list(WHEN)},
                         "group_size": COUNT, "calls": COUNT, "payload_bytes": COUNT, "sent_bytes_per_rank": COUNT},
                        ["collective", "when", "group_size", "calls", "payload_bytes", "sent_bytes_per_rank"])
    fields = {"world_size": COUNT, "sharding": {"enum": list(SHARDINGS)}, "shards": COUNT, "batch_per_rank": COUNT,
              "global_batch": COUNT, "algorithm": TEXT, "collectives": {"type": "array", "items": collective},
              "sent_bytes_per_rank": COUNT, "sent_bytes_total": COUNT}
    return closed(fields, list(fields))


def timing_communication() -> Schema:
    """`timing.communication` and `timing.bound.communication` (cnncost.timing.communication.plan_record):
    several GPUs' communication by one estimate; `timed` false with a `reason` where a link is unknown."""
    from ..timing.communication import LINKS
    collective = closed({"collective": {"enum": list(COLLECTIVES)}, "when": {"enum": list(WHEN)},
                         "group_size": COUNT, "calls": COUNT, "payload_bytes": COUNT, "sent_bytes_per_rank": COUNT,
                         "link": {"enum": list(LINKS)}, "bus_bandwidth": COUNT,
                         "overlaps": {"enum": ["forward", "backward", None]}, "every_micro_step": FLAG,
                         "seconds": SECONDS}, ["collective", "when", "group_size", "calls", "payload_bytes",
                                               "sent_bytes_per_rank", "link", "bus_bandwidth", "overlaps",
                                               "every_micro_step", "seconds"])
    always = {"timed": FLAG, "sharding": {"enum": list(SHARDINGS)}, "world_size": COUNT, "nodes": COUNT}
    timed = {"algorithm": TEXT, "reduce_dtype": {"enum": ["fp32", "bf16", "fp16"]},
             "micro_steps": {"type": "integer", "minimum": 1}, "sent_bytes_per_rank": COUNT,
             "bus_bandwidth": closed({link: COUNT for link in LINKS}), "latency_seconds": SECONDS,
             "seconds": SECONDS, "exposed_seconds": SECONDS, "overlapped_seconds": SECONDS, "global_batch": COUNT,
             "global_images_per_second": SECONDS, "collectives": {"type": "array", "items": collective}}
    return {"oneOf": [closed(always | {"timed": {"const": True}} | timed, [*always, *timed]),
                      closed(always | {"timed": {"const": False}, "reason": TEXT}, [*always, "reason"])]}


def _step_time(expected: bool) -> Schema:
    """The step's times by one estimate (cnncost.timing.step.StepTime.to_dict), with the epoch's."""
    by_bound = closed({bound: SECONDS for bound in BOUNDS}, list(BOUNDS))
    fields = {"forward_seconds": SECONDS, "backward_seconds": SECONDS, "optimizer_seconds": SECONDS,
              "step_seconds": SECONDS, "images_per_second": SECONDS, "limited_by": {"enum": list(BOUNDS)},
              "seconds_by_bound": by_bound, "recompute_seconds": SECONDS,
              "micro_steps": {"type": "integer", "minimum": 1}}
    required = list(fields)
    fields |= {"epoch_seconds": SECONDS, "epoch_cost": SECONDS, "communication_seconds": SECONDS,
               "communication": timing_communication()}
    if expected:
        fields |= {"epoch_images": COUNT, "price_per_hour": SECONDS}
    return closed(fields, required)


def timing() -> Schema:
    """`timing` (cnncost.timing.step.Timing.to_dict): the expected estimate, the roofline `bound`."""
    from ..hardware.profile import ORIGINS
    head = {"hardware": TEXT, "hardware_origin": {"enum": list(ORIGINS)}, "compute_dtype": TEXT,
            "estimate": {"const": "expected"}, "batch": COUNT}
    expected = _step_time(True)
    fields = head | expected["properties"] | {"bound": _step_time(False), "convention": TEXT}
    return closed(fields, [*head, *expected["required"], "bound", "convention"])

