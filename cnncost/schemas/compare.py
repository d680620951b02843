"""The schema of a comparison's JSON (`cnncost compare --format json`, `Comparison.to_dict`):
per architecture the compared totals (`columns.summary_columns`) and their ratios."""
from __future__ import annotations

from ..columns import COLUMNS, summary_columns
from ..conventions import ACTIVATION_COUNTS
from .common import COUNT, SHAPE, TEXT, VERSION, Schema, closed, document, figure, nullable


def schema() -> Schema:
    compared = [c.name for c in summary_columns()]
    ratio = nullable({"type": "number", "minimum": 0}) | {
        "description": "the float nearest the exact ratio to the baseline; null where the baseline's figure is 0 "
                       "or either is unknown"}
    unknown = {"type": "array", "items": {"enum": compared}}
    architecture = closed({"name": TEXT, "input_shape": SHAPE, "output_shape": SHAPE,
                           **{name: nullable(figure(COLUMNS[name])) for name in compared},
                           "ratios": closed({name: ratio for name in compared}, compared), "unknown": unknown},
                          ["name", "input_shape", "output_shape", *compared, "ratios"])
    fields = {"schema_version": VERSION, "batch": COUNT, "dtype": TEXT, "optimizer": nullable(TEXT),
              "activation_count": {"enum": list(ACTIVATION_COUNTS)}, "baseline": TEXT,
              "architectures": {"type": "array", "items": architecture, "minItems": 1}}
    return document("cnncost compare (JSON)", "cnncost compare --format json, Comparison.to_json(): the totals "
                    "of each architecture and their ratios to the first; docs/output.md", closed(fields, list(fields)))
