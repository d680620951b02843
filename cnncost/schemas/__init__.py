"""JSON Schemas (draft 2020-12) of every JSON cnncost writes and of the YAML spec, shipped as
package data: `cnncost schema KIND` prints one, `schema_text(KIND)` returns it.

The files are generated from the code (the column registry, the layer registry, the memory
model's parts) by `python -m cnncost.schemas.make`; `tests/outputs/test_schemas_shipped.py`
checks that each shipped file equals the generated one. Reading one imports nothing else.
"""
from __future__ import annotations

import os

# KIND -> what it describes, in the order `cnncost schema --help` lists them
KINDS: dict[str, str] = {
    "table": "cnncost table --format json; Report.to_json()",
    "compare": "cnncost compare --format json; Comparison.to_json()",
    "fit": "cnncost fit --format json",
    "sweep": "cnncost sweep --format json",
    "list": "cnncost list --format json",
    "check": "cnncost check --format json",
    "check-against": "cnncost check --against --format json",
    "hardware": "cnncost hardware --format json (one profile, or every built-in)",
    "profile": "a hardware profile YAML file (cnncost calibrate --out FILE, --hardware FILE)",
    "spec": "a YAML spec (docs/spec.md): layers, blocks, every layer type and its fields",
}
FOLDER = os.path.dirname(os.path.abspath(__file__))  # os.path: the command line builds its parser from KINDS


def file_name(kind: str) -> str:
    return f"{kind}.schema.json"


def schema_text(kind: str) -> str:
    """The shipped schema of KIND as JSON text (a KeyError for an unknown KIND)."""
    if kind not in KINDS:
        raise KeyError(kind)
    with open(os.path.join(FOLDER, file_name(kind)), encoding="utf-8") as handle:
        return handle.read()
