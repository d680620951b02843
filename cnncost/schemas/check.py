"""The schemas of `cnncost check --format json` (CheckResult.to_dict: the engine's figures beside
PyTorch's) and of `cnncost check --against REF --format json` (CheckAgainst.to_dict)."""
from __future__ import annotations

from .common import COUNT, FLAG, NAMES, SHAPE, TEXT, VERSION, Schema, closed, document, nullable

VALUE: Schema = {"anyOf": [{"type": "integer"}, SHAPE, {"type": "null"}, TEXT],
                 "description": "a count, or a shape for the quantity 'shape'"}


def schema_check() -> Schema:
    from ..torch_backend.measure import SAVED_KINDS
    row = closed({"path": TEXT, "type": TEXT, "quantity": TEXT, "ours": VALUE, "torch": VALUE,
                  "diff": nullable({"type": "integer"}), "rel_error": nullable({"type": "number"}),
                  "status": {"enum": ["ok", "mismatch", "info"]}},
                 ["path", "type", "quantity", "ours", "torch", "diff", "rel_error", "status"])
    by = {"type": "object", "additionalProperties": COUNT}
    fields = {"schema_version": VERSION, "architecture": TEXT, "batch": COUNT, "device": TEXT, "dtype": TEXT,
              "optimizer": TEXT, "ok": FLAG, "rows": {"type": "array", "items": row}, "notes": NAMES,
              "saved_bytes_by_kind": nullable(closed({k: COUNT for k in SAVED_KINDS})),
              "saved_bytes_by_dtype": nullable(by), "flops_by_op": by}
    return document("cnncost check (JSON)", "cnncost check --format json: per layer the engine's figures, "
                    "PyTorch's measurement and their difference; docs/cli.md", closed(fields, list(fields)))


def schema_check_against() -> Schema:
    from ..torch_backend.against import ROW_FIELDS
    figure = {"anyOf": [COUNT, SHAPE, TEXT, {"type": "null"}]}
    shown = closed({**{k: figure for k in ROW_FIELDS}, "unknown": NAMES})
    path = nullable(TEXT)
    difference = closed({"spec_path": path, "reference_path": path, "quantity": TEXT, "spec": figure,
                         "reference": figure}, ["spec_path", "reference_path", "quantity", "spec", "reference"])
    total = closed({"spec": figure, "reference": figure, "equal": nullable(FLAG)}, ["spec", "reference", "equal"])
    matched_by = {"enum": ["path", "structure", "order", ""]}  # torch_backend.row_matching; "": unmatched
    pair = closed({"spec_path": path, "reference_path": path, "matched_by": matched_by, "spec": shown,
                   "reference": shown}, ["spec_path", "reference_path", "matched_by", "spec", "reference"])
    fields = {"schema_version": VERSION, "spec": TEXT, "reference": TEXT, "batch": COUNT, "ok": FLAG,
              "first_difference": nullable(TEXT), "differences": {"type": "array", "items": difference},
              "totals": {"type": "object", "additionalProperties": total},
              "rows": {"type": "array", "items": pair}, "notes": NAMES}
    return document("cnncost check --against (JSON)", "cnncost check SPEC --against REFERENCE --format json: the "
                    "spec's totals and rows beside the reference's; docs/import.md", closed(fields, list(fields)))
