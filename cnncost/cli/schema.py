"""`cnncost schema KIND`: print the JSON Schema (draft 2020-12) of one of cnncost's outputs or of
the YAML spec, as shipped in the package (`cnncost.schemas`); nothing is validated here, so no
validator is needed at run time."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError


def add_parser(commands: Any) -> None:
    from ..schemas import KINDS
    listed = "\n".join(f"  {kind:<14} {what}" for kind, what in KINDS.items())
    parser = commands.add_parser(
        "schema", help="print the JSON Schema of an output (table, fit, ...) or of the YAML spec",
        description="Print a JSON Schema (draft 2020-12) shipped with cnncost: validate a --format json\n"
                    "output against it in CI (docs/ci.md), or point an editor at the spec's (docs/spec.md).",
        epilog=f"KIND is one of:\n{listed}\n\nExample: cnncost schema spec > cnncost-spec.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", metavar="KIND", help="which schema: " + ", ".join(KINDS))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..schemas import KINDS, schema_text
    if args.kind not in KINDS:
        import difflib
        close = difflib.get_close_matches(args.kind.lower(), list(KINDS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ";"
        raise CnnCostError(f"unknown schema '{args.kind}'{hint} kinds: {', '.join(KINDS)}")
    return schema_text(args.kind).rstrip("\n")
