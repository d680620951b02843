"""The schema of `cnncost list --format json` (cnncost/cli/listing.py): one object per built-in,
the columns of `cnncost.zoo_frame` (its totals: `columns.summary_columns`)."""
from __future__ import annotations

from ..columns import COLUMNS, summary_columns
from ..conventions import ACTIVATION_COUNTS
from .common import COUNT, TEXT, VERSION, Schema, closed, document, figure

DESCRIBED = ("architecture", "name", "family", "source", "description", "input", "output")  # zoo_frame's text


def schema() -> Schema:
    totals = {c.name: figure(COLUMNS[c.name]) for c in summary_columns()}
    per_image = {"macs_per_image": COUNT, "flops_per_image": COUNT}
    row = closed({**{k: TEXT for k in DESCRIBED}, "batch": COUNT, **totals, **per_image},
                 ["name", "family", "source", "description", "input", "output", "batch", *totals, *per_image])
    fields = {"schema_version": VERSION, "pattern": TEXT, "batch": COUNT, "dtype": TEXT, "optimizer": TEXT,
              "activations": {"enum": list(ACTIVATION_COUNTS)}, "flop_convention": TEXT,
              "columns": {"type": "array", "items": {"enum": list(row["properties"])}, "uniqueItems": True},
              "architectures": {"type": "array", "items": row}}
    return document("cnncost list (JSON)", "cnncost list --format json: every built-in matching the pattern with "
                    "its totals at one configuration; docs/output.md", closed(fields, list(fields)))
