"""The schema of `cnncost fit --format json` (cnncost/cli/fit.py): the largest batch, the step's
peak at that batch (`training_step`, as a table's), and what --freeze, --accumulate,
--global-batch, --world-size, --checkpoint and --hardware add."""
from __future__ import annotations

from . import objects
from .common import COUNT, NAMES, TEXT, VERSION, Schema, closed, document

BUDGET_OF = ("allocated", "reserved", "nvidia-smi")  # cnncost.memory.device_fit; --budget-of


def schema() -> Schema:
    checkpoint = closed({"policy": {"anyOf": [{"const": "auto"}, TEXT, NAMES]}, "regions": NAMES,
                         "recompute_flops": COUNT, "saved_bytes": COUNT},
                        ["policy", "regions", "recompute_flops", "saved_bytes"])
    head = {"schema_version": VERSION, "architecture": TEXT, "budget_bytes": COUNT, "budget": TEXT,
            "budget_of": {"enum": list(BUDGET_OF)},
            "batch": COUNT | {"description": "the largest batch that fits (per rank; 0: not even one sample)"},
            "dtype": TEXT, "optimizer": TEXT, "mode": {"enum": ["train", "inference"]},
            "training_step": objects.training_step()}
    fields = head | {
        "freeze": NAMES, "accumulate": COUNT, "micro_batch": COUNT, "last_micro_batch": COUNT,
        "global_batch": COUNT, "communication": objects.communication(), "checkpoint": checkpoint,
        "timing": objects.timing(),
    }
    body = closed(fields, list(head), dependentRequired={
        "accumulate": ["micro_batch", "last_micro_batch", "global_batch"], "communication": ["global_batch"]})
    return document("cnncost fit (JSON)", "cnncost fit --format json: the largest batch whose training step fits "
                    "the budget and the step's peak at that batch; docs/output.md", body)
