"""The schema of a YAML spec (docs/spec.md; read by cnncost.spec): the top-level keys, and per
built-in layer type its fields, their types (from the dataclass hints the spec reader checks
against, `layers.base._field_checks`), which are required and their defaults. Generated from the
layer registry, so a new type or field is in the schema once `python -m cnncost.schemas.make`
runs (a test fails until then). Editors complete `type:` names and each type's fields from it."""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Literal

from ..layers import LAYER_TYPES, Node
from ..layers.base import _hints
from ..spec import YAML_KEYS
from .common import NAMES, TEXT, Schema, closed, document

SHAPE_TEXT: Schema = {"type": "string", "pattern": r"^[0-9]+([x,][0-9]+)*x?$",
                      "description": "'3x224x224' (any rank; a vector: '768x'; '224' means 3x224x224)"}
SHAPE: Schema = {"anyOf": [{"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1}, SHAPE_TEXT]}
LAYER_REF: Schema = {"$ref": "#/$defs/layer"}
SIMPLE = {int: "integer", float: "number", bool: "boolean", str: "string", type(None): "null", dict: "object"}


def hint_schema(hint: Any) -> Schema:
    """The JSON Schema of the values a field with this type hint accepts from YAML (a tuple is
    a YAML list; a Node is a layer mapping)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return {}
    if origin in (typing.Union, types.UnionType):
        parts = [hint_schema(h) for h in args]
        if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
            return {"type": [p["type"] for p in parts]}
        return {"anyOf": parts}
    if origin is Literal:
        return {"enum": list(args)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": hint_schema(args[0])}
        return {"type": "array", "prefixItems": [hint_schema(a) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if hint in SIMPLE:
        return {"type": SIMPLE[hint]}
    if isinstance(hint, type) and issubclass(hint, Node):
        return LAYER_REF
    raise TypeError(f"no JSON Schema for the field type {hint!r}: add it to cnncost/schemas/spec.py")


def _default(field: dataclasses.Field) -> dict[str, Any]:
    """The field's default where JSON can say it (editors show it)."""
    value = field.default
    if value is dataclasses.MISSING or value is None:
        return {}
    value = list(value) if isinstance(value, tuple) else value
    try:
        json.dumps(value)
    except TypeError:
        return {}
    return {"default": value}


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n    ", " ").replace("\n", " ")


def layer_type(type_name: str) -> Schema:
    """One built-in type: `type`, `name`, `from` and its own fields; nothing else."""
    cls = LAYER_TYPES[type_name]
    hints = _hints(cls)
    properties: dict[str, Schema] = {"type": {"const": type_name}, "name": TEXT,
                                     "from": {"anyOf": [TEXT, NAMES]} | {"description": "earlier layers it reads"}}
    if type_name == "input":  # the inputs as the first layers: only a shape (cnncost.spec._move_input_layer)
        return closed({"type": properties["type"], "name": TEXT, "shape": SHAPE}, ["type", "shape"],
                      description=_summary(cls))
    for field in dataclasses.fields(cls):
        if field.name in ("name", "inputs"):
            continue
        properties[YAML_KEYS.get(field.name, field.name)] = hint_schema(hints[field.name]) | _default(field)
    required = ["type", *(YAML_KEYS.get(f, f) for f in cls.required_fields() if f not in ("name", "inputs"))]
    return closed(properties, required, description=_summary(cls))


def schema() -> Schema:
    names = list(LAYER_TYPES)
    descriptions = [_summary(LAYER_TYPES[n]) for n in names]  # editors show them beside the completed names
    # a built-in type's fields by if/then (a wrong field is reported as such, not as no match of 98);
    # any other type names a block of the spec's own `blocks:` and takes that block's parameters
    layer = {"type": "object", "required": ["type"],
             "properties": {"type": {"anyOf": [{"enum": names, "enumDescriptions": descriptions}, {"type": "string"}],
                                     "description": "a built-in layer type, or a block defined under `blocks:`"},
                            "name": TEXT},
             "allOf": [{"if": {"properties": {"type": {"const": n}}}, "then": {"$ref": f"#/$defs/{n}"}} for n in names]}
    template = {"type": "object", "required": ["type"],
                "properties": {"type": TEXT, "params": {"anyOf": [NAMES, {"type": "object"}]}},
                "description": "a block defined once: its `params` are written $name in its body"}
    defs: dict[str, Schema] = {"layer": layer}
    defs |= {name: layer_type(name) for name in names}
    inputs = {"anyOf": [SHAPE, {"type": "array", "items": SHAPE, "minItems": 1},
                        {"type": "object", "additionalProperties": SHAPE, "minProperties": 1}],
              "description": "one shape, a list of shapes, or input names mapped to shapes"}
    top = closed({"name": {"type": ["string", "number"]}, "input": inputs,
                  "layers": {"type": "array", "items": LAYER_REF}, "notes": TEXT,
                  "blocks": {"type": "object", "additionalProperties": template},
                  "outputs": {"anyOf": [TEXT, NAMES]}}, ["name", "layers"])
    return document("cnncost spec (YAML)", "a network as cnncost reads it: docs/spec.md; in an editor: "
                    "# yaml-language-server: $schema=cnncost-spec.schema.json", top | {"$defs": defs})
