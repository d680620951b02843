"""The schema of `cnncost sweep --format json` (cnncost/cli/sweep.py): the frame's attrs, its
columns, one object per configuration; the count columns from the registry
(`columns.sweep_columns`), the time columns from `sweep_time.TIME_COLUMNS`."""
from __future__ import annotations

from ..columns import COLUMNS, sweep_columns
from ..conventions import ACTIVATION_COUNTS
from .common import BOUNDS, COUNT, SECONDS, TEXT, VERSION, Schema, closed, document, figure

MULTIPLIER: Schema = {"type": "number", "exclusiveMinimum": 0}
CONFIGURATION: dict[str, Schema] = {  # what varies, before the figures (cnncost.sweeps)
    "width": MULTIPLIER, "depth": MULTIPLIER,
    "input": TEXT | {"description": "the per-sample input, '3x224x224'"}, "batch": COUNT, "dtype": TEXT,
    "optimizer": TEXT,
}


def _time_columns() -> dict[str, Schema]:
    from ..sweep_time import TIME_COLUMNS
    from ..timing.sweep_job import COMMUNICATION_COLUMNS, MICRO_STEP_COLUMNS, RECOMPUTE_COLUMNS
    job = {name: SECONDS for name in RECOMPUTE_COLUMNS} | {name: COUNT for name in MICRO_STEP_COLUMNS} | {
        name: SECONDS for name in COMMUNICATION_COLUMNS}  # the job's step (checkpoint, accumulate, several GPUs)
    return {name: {"enum": list(BOUNDS)} if name == "limited_by" else SECONDS for name in TIME_COLUMNS} | job


def schema() -> Schema:
    counts = {c.name: figure(c) for c in (*sweep_columns(autograd=True), COLUMNS["recompute_flops"])}  # (checkpoint)
    lecture = [c.name for c in sweep_columns(autograd=False)]
    row = closed(CONFIGURATION | counts | _time_columns(), ["input", "batch", "dtype", "optimizer", *lecture])
    names = list(row["properties"])
    fields = {"schema_version": VERSION, "architecture": TEXT, "memory": {"enum": ["lecture", "autograd"]},
              "activations": {"enum": list(ACTIVATION_COUNTS)}, "device": {"enum": ["cuda", "cpu"]},
              "flop_convention": TEXT, "hardware": TEXT, "time_convention": TEXT,
              "columns": {"type": "array", "items": {"enum": names}, "uniqueItems": True},
              "configurations": {"type": "array", "items": row}}
    required = ["schema_version", "architecture", "memory", "activations", "flop_convention", "columns",
                "configurations"]
    body = closed(fields, required, dependentRequired={"hardware": ["time_convention"]})
    return document("cnncost sweep (JSON)", "cnncost sweep --format json: one object per configuration, the "
                    "totals of its table; docs/output.md, docs/sweeps.md", body)
