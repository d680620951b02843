"""Validate cnncost's JSON against the schemas the package ships (cnncost/schemas/*.schema.json).

`assert_valid(kind, document)` raises AssertionError naming the first problem; `install()` (called by
tests/conftest.py) wraps the command line so that every `--format json` output any test makes is
validated against its command's schema. Without jsonschema (not installed: the `test` extra has
it) `install` does nothing and `assert_valid` skips the test."""
from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

import pytest

# command -> schema KIND of its --format json output (check --against: check-against)
COMMAND_KINDS = {"table": "table", "compare": "compare", "fit": "fit", "sweep": "sweep", "list": "list",
                 "check": "check", "hardware": "hardware"}


@cache
def validator(kind: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    from cnncost.schemas import schema_text
    schema = json.loads(schema_text(kind))
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def problems(kind: str, document: Any) -> list[str]:
    """Every way `document` breaks KIND's schema, as 'at PATH: MESSAGE' (empty: valid)."""
    from jsonschema.exceptions import best_match
    errors = list(validator(kind).iter_errors(document))
    if not errors:
        return []
    first = best_match(errors)
    where = "/".join(str(p) for p in first.absolute_path) or "(top)"
    return [f"at {where}: {first.message[:300]}"] + [f"at {'/'.join(map(str, e.absolute_path))}: {e.message[:120]}"
                                                       for e in errors[:5] if e is not first]


def assert_valid(kind: str, document: Any) -> None:
    found = problems(kind, document)
    assert not found, f"not valid under the {kind} schema:\n  " + "\n  ".join(found)


def load_json(text: str) -> Any:
    """json.loads, for any exact int cnncost writes (a hostile spec's counts may pass Python's
    4,300-digit limit on int() of a string, which json.loads applies)."""
    import sys
    if not hasattr(sys, "get_int_max_str_digits"):  # before Python 3.10.7: no limit
        return json.loads(text)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return json.loads(text)
    finally:
        sys.set_int_max_str_digits(limit)


def kind_of(args: Any) -> str | None:
    """The schema of what a parsed command prints, or None when it prints no JSON."""
    if getattr(args, "format", None) != "json":
        return None
    command = getattr(args, "command", None)
    if command == "check" and getattr(args, "against", None):
        return "check-against"
    return COMMAND_KINDS.get(str(command))


def install() -> None:
    """Wrap `cnncost.cli._run` for this process: a JSON output that its schema rejects fails the test."""
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return
    from cnncost import cli
    if getattr(cli._run, "validates_json", False):
        return
    run = cli._run

    def checked(args: Any) -> tuple[str | None, int]:
        output, code = run(args)
        kind = kind_of(args)
        if kind and output and code in (0, 1) and _registered_figures_known():
            assert_valid(kind, load_json(output))
        return output, code

    checked.validates_json = True  # type: ignore[attr-defined]
    cli._run = checked


def _registered_figures_known() -> bool:
    from cnncost.columns import COLUMNS
    return {c.name for c in COLUMNS.values() if c.per_row and not c.per_image_only} <= _shipped_figures()


@lru_cache(maxsize=1)
def _shipped_figures() -> frozenset[str]:
    from cnncost.schemas import schema_text
    row = json.loads(schema_text("table"))["properties"]["layers"]["items"]["properties"]
    return frozenset(row)
