"""Pieces every schema is built of: closed objects, exact counts, shapes, the figures of the
column registry (`cnncost.columns`) with the JSON type each one's values have."""
from __future__ import annotations

from typing import Any

from ..columns import COLUMNS, Column
from ..conventions import SCHEMA_VERSION
from ..timing.model import BOUNDS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]

COUNT: Schema = {"type": "integer", "minimum": 0}  # an exact int: elements, params, MACs, bytes
SECONDS: Schema = {"type": "number", "minimum": 0}  # the time model's floats
TEXT: Schema = {"type": "string"}
FLAG: Schema = {"type": "boolean"}
NAMES: Schema = {"type": "array", "items": TEXT}
SHAPE: Schema = {"type": "array", "items": {"type": "integer", "minimum": 0},
                 "description": "per sample, any rank: [C, H, W], [F], [L, D], [C, D, H, W]"}
VERSION: Schema = {"const": SCHEMA_VERSION, "description": "the version of the JSON contract (docs/output.md)"}


def document(title: str, description: str, body: Schema) -> Schema:
    """A whole schema file: the dialect, its title and description, then `body`."""
    return {"$schema": DIALECT, "title": title, "description": description, **body}


def closed(properties: dict[str, Schema], required: list[str] | tuple[str, ...] = (), **more: Any) -> Schema:
    """An object with exactly these keys (those in `required` always): a renamed or new key fails."""
    out: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out | more


def nullable(schema: Schema) -> Schema:
    """The schema, or null (an unknown figure, an option not given)."""
    if "type" in schema and len(schema) <= 3 and isinstance(schema["type"], str):
        return schema | {"type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def counts_by(names: tuple[str, ...] | list[str]) -> Schema:
    """A mapping of known part names (a memory breakdown) to byte counts; any subset of them."""
    return closed({name: COUNT for name in names})


def figure(column: Column) -> Schema:
    """A registry figure's values: an exact count, seconds (float), or the word of a bound;
    null where a layer may not know it (`unknowable`)."""
    if column.style == "text":
        schema: Schema = {"enum": ["", *BOUNDS]} if column.name == "bound" else dict(TEXT)
    elif column.unit == "seconds":
        schema = dict(SECONDS)
    else:
        schema = dict(COUNT)
    schema["description"] = f"{column.label} ({column.unit})"
    return nullable(schema) if column.unknowable else schema


def figure_names(include: Any = None) -> list[str]:
    """The figures a JSON row may have, in record order (`columns.row_columns`; not the columns of
    per-image DataFrames only), those `include` accepts."""
    from ..columns import row_columns
    return [c.name for c in row_columns(include) if not c.per_image_only]


def figures(include: Any = None) -> dict[str, Schema]:
    return {name: figure(COLUMNS[name]) for name in figure_names(include)}


def always_present(column: Column) -> bool:
    """In every table, whatever the options: neither an optional quantity nor a training figure."""
    return not column.needs and not column.training and not column.per_image_only
