"""Generate the shipped schema files from the code: `python -m cnncost.schemas.make` writes them
all; `--check` exits 1 naming those that differ (tests/outputs/test_schemas_shipped.py does the
same). Each KIND's schema is built by the `schema()` of its module below."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from . import FOLDER, KINDS, file_name

BUILDERS = {"table": "table", "compare": "compare", "fit": "fit", "sweep": "sweep", "list": "listing",
            "check": "check", "check-against": "check", "hardware": "hardware", "profile": "hardware",
            "spec": "spec"}  # KIND -> the module in this package whose schema() (or schema_KIND()) builds it


def build(kind: str) -> dict[str, Any]:
    """The schema of KIND as the code defines it now."""
    module = importlib.import_module(f".{BUILDERS[kind]}", __package__)
    own = f"schema_{kind.replace('-', '_')}"
    return getattr(module, own)() if hasattr(module, own) else module.schema()


def text(kind: str) -> str:
    """The file's text: two-space indentation, keys in the order the builders give them."""
    return json.dumps(build(kind), indent=2, ensure_ascii=False) + "\n"


def stale() -> list[str]:
    """The KINDs whose shipped file differs from the generated text."""
    out = []
    for kind in KINDS:
        path = Path(FOLDER, file_name(kind))
        if not path.exists() or path.read_text(encoding="utf-8") != text(kind):
            out.append(kind)
    return out


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        differ = stale()
        for kind in differ:
            print(f"{file_name(kind)} differs from the code: run python -m cnncost.schemas.make", file=sys.stderr)
        return 1 if differ else 0
    for kind in KINDS:
        Path(FOLDER, file_name(kind)).write_text(text(kind), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
