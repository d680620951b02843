"""The JSON Schemas shipped in cnncost/schemas are the ones the code generates (so a new figure,
layer type or field cannot be left out), valid draft 2020-12 schemas, in the wheel, and printed
by `cnncost schema KIND`."""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnncost.cli import main
from cnncost.schemas import FOLDER, KINDS, file_name, schema_text
from cnncost.schemas.make import build, text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_shipped_file_is_the_generated_one(kind: str) -> None:
    if kind in ("check", "check-against"):  # generated from the torch back end's names
        pytest.importorskip("torch", reason="the check schemas are generated from cnncost.torch_backend")
    shipped = Path(FOLDER, file_name(kind)).read_text(encoding="utf-8")
    assert shipped == text(kind), f"{file_name(kind)} is stale: run python -m cnncost.schemas.make"


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_is_a_draft_2020_12_schema(kind: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_text(kind))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_no_other_schema_files_are_shipped() -> None:
    assert sorted(p.name for p in Path(FOLDER).glob("*.json")) == sorted(file_name(k) for k in KINDS)


def test_the_wheel_carries_them() -> None:
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "cnncost.schemas" in setuptools["packages"]
    assert setuptools["package-data"]["cnncost.schemas"] == ["*.schema.json"]


def test_the_generator_follows_the_registries() -> None:
    """A figure registered in cnncost.columns and a layer type's fields are in the schemas built."""
    from cnncost.columns import COLUMNS
    from cnncost.layers import LAYER_TYPES
    row = build("table")["properties"]["layers"]["items"]
    assert {c.name for c in COLUMNS.values() if c.per_row and not c.per_image_only} <= set(row["properties"])
    spec = build("spec")
    assert set(LAYER_TYPES) <= set(spec["$defs"])
    conv = spec["$defs"]["conv"]
    assert conv["required"] == ["type", "out", "kernel"] and conv["additionalProperties"] is False
    assert conv["properties"]["padding"]["anyOf"][-1] == {"enum": ["same", "valid"]}
    assert conv["properties"]["stride"]["default"] == 1


def test_a_registered_figure_enters_the_table_schema() -> None:
    from cnncost.columns import Column, register, unregister
    register(Column("schema_probe_bytes", lambda q: 0, "bytes", section="extra", unit="bytes"))
    try:
        assert "schema_probe_bytes" in build("table")["properties"]["total"]["properties"]
    finally:
        unregister("schema_probe_bytes")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("kind", list(KINDS))
def test_cnncost_schema_prints_the_shipped_file(kind: str) -> None:
    assert run("schema", kind) == (0, schema_text(kind), "")


def test_an_unknown_kind_is_one_line_with_a_suggestion() -> None:
    code, out, err = run("schema", "tabel")
    assert (code, out) == (2, "")
    assert err == ("cnncost: error: unknown schema 'tabel'; did you mean table? kinds: " + ", ".join(KINDS) + "\n")


def test_help_lists_every_kind() -> None:
    code, out, _ = run("schema", "--help")
    assert code == 0 and all(f"\n  {kind} " in out for kind in KINDS)


def test_printing_a_schema_imports_no_validator() -> None:
    code = ("import sys; from cnncost.cli import main; main(['schema', 'spec']); "
            "sys.stderr.write(repr(sorted(m for m in ('jsonschema', 'yaml', 'pandas', 'numpy', "
            "'cnncost.schemas.make', 'cnncost.schemas.spec') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stderr == "[]" and json.loads(done.stdout)["title"] == "cnncost spec (YAML)"
