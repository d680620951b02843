"""The schema of a table's JSON (`cnncost table --format json`, `Report.to_json()`;
cnncost.outputs.records): its rows' and total's keys are the column registry's figures, so a
figure registered there is in the schema when it is generated again."""
from __future__ import annotations

from ..columns import COLUMNS, row_columns
from ..conventions import ACTIVATION_COUNTS
from ..counting.names import TOOL_NAMES
from ..outputs.records import IDENTITY
from . import objects
from .common import COUNT, NAMES, SHAPE, TEXT, VERSION, Schema, always_present, closed, document, figures, nullable

IDENTITY_SCHEMAS: dict[str, Schema] = {
    "name": TEXT | {"description": "dotted path of the row"},
    "type": TEXT | {"description": "the spec's layer type, a merge kind, input, or a collapsed block's type"},
    "depth": COUNT, "attrs": TEXT, "input_shape": SHAPE, "output_shape": SHAPE,
}
ROW_IDENTITY = {key: IDENTITY_SCHEMAS[key] for key in IDENTITY}  # a new identity key: add its schema above
UNKNOWN: Schema = {"type": "array", "items": {"enum": list(COLUMNS)},
                   "description": "the row's figures that are null: a layer does not know them"}


def row(identity: dict[str, Schema]) -> Schema:
    """A layer row or the total: the identity keys, every figure, `unknown` where any is null."""
    required = [*identity, *(c.name for c in row_columns(always_present))]
    return closed(identity | figures() | {"unknown": UNKNOWN}, required)


def _training_required() -> Schema:
    """Without `mode` (a training table) every row and the total have the training figures."""
    names = [c.name for c in row_columns(lambda c: c.training and not c.needs)]
    rows = {"required": names}
    return {"if": {"not": {"required": ["mode"]}},
            "then": {"properties": {"layers": {"items": rows}, "total": rows}}}


def schema() -> Schema:
    shapes = {"input_shape": SHAPE, "output_shape": SHAPE}
    total = row(shapes)
    known = closed(shapes | figures(), list(shapes))
    head: dict[str, Schema] = {
        "schema_version": VERSION, "architecture": TEXT, "batch": COUNT, "dtype": TEXT, "bytes_per_element": COUNT,
        "optimizer": nullable(TEXT), "param_copies": nullable(COUNT),
        "activation_count": {"enum": list(ACTIVATION_COUNTS)}, "flop_convention": TEXT, "depth": nullable(COUNT),
    }
    fields = head | {
        "inputs": {"type": "array", "items": closed({"name": TEXT, "shape": SHAPE}, ["name", "shape"])},
        "layers": {"type": "array", "items": row(ROW_IDENTITY)},
        "total": total,
        # counting (cnncost.report: --count-as, --freeze, the training FLOPs, --checkpoint)
        "count_as": {"enum": list(TOOL_NAMES)}, "ops_unit": TEXT, "implementation_profile": TEXT, "freeze": NAMES,
        "training_flop_convention": TEXT, "checkpoint_convention": TEXT,
        # --memory autograd
        "memory_convention": {"const": "autograd"}, "training_step": objects.training_step(),
        "communication": objects.communication(),
        "timing": objects.timing(),  # --hardware
        "mode": {"const": "inference"}, "inference": objects.inference(),  # --mode inference
        "unknown_counts": {"type": "object", "propertyNames": {"enum": list(COLUMNS)}, "additionalProperties": NAMES},
        "known_total": known,
        "warnings": NAMES,
    }
    required = [*head, "layers", "total", "training_flop_convention", "unknown_counts"]
    body = closed(fields, required, allOf=[
        _training_required(),
        {"dependentRequired": {"memory_convention": ["training_step"], "training_step": ["memory_convention"],
                               "mode": ["inference"], "inference": ["mode"], "communication": ["training_step"],
                               "count_as": ["ops_unit"]}},
    ])
    return document("cnncost table (JSON)", "cnncost table --format json, Report.to_json(): one row per layer, "
                    "the total, the options; docs/output.md", body)
