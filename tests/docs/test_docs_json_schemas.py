"""What the docs show is valid under the shipped schemas: every `--format json` command of
README.md and docs/*.md (run again here, its JSON validated against its command's schema), every
YAML spec the docs show or ship (docs' yaml blocks, docs/examples, specs/), and the docs'
hardware profile."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import docs_blocks as db
import pytest
import yaml
from schema_validation import COMMAND_KINDS, problems, assert_valid

pytest.importorskip("jsonschema")

JSON_COMMANDS = [(path, check) for path in db.doc_files() for block in db.parse(path) for check in block.checks
                 if check.kind == "command" and "json" in shlex.split(check.source, comments=True)]


def _kind(argv: list[str]) -> str:
    return "check-against" if argv[1] == "check" and "--against" in argv else COMMAND_KINDS[argv[1]]


def test_the_docs_have_json_commands() -> None:
    assert len(JSON_COMMANDS) >= 7  # README, ci.md, counting.md, time.md, torch-backend.md, output.md


@pytest.mark.parametrize(("path", "check"), JSON_COMMANDS,
                         ids=[f"{db.relative(p)}:{c.line}" for p, c in JSON_COMMANDS])
def test_json_the_docs_print_is_valid(path: Path, check: db.Check) -> None:
    if check.expected and check.expected[0].startswith("cnncost: error:"):
        pytest.skip("an error shown on purpose: no JSON")
    argv = shlex.split(check.source, comments=True)
    if argv[1] == "check":
        pytest.importorskip("torch")
    shown_argv = argv[: argv.index(">")] if ">" in argv else argv  # the JSON itself, not a file
    for flag in ("-o", "--out"):  # written to a file: the same JSON on stdout instead
        if flag in shown_argv:
            at = shown_argv.index(flag)
            shown_argv = shown_argv[:at] + shown_argv[at + 2:]
    command = " ".join(shlex.quote(a) for a in shown_argv)
    session = db.Session()
    try:
        _write_files_the_page_made(session, path)
        shown, problem = session.command(command)
    finally:
        session.close()
    if problem.startswith("exit status 1") and argv[1] in ("check", "fit"):
        problem = ""  # a difference found, nothing fits: still a JSON document
    assert not problem, f"{command}: {problem}\n{shown}"
    assert_valid(_kind(argv), json.loads(shown))


def _write_files_the_page_made(session: db.Session, path: Path) -> None:
    """A profile the page wrote with `cnncost calibrate --out cpu.yaml` (minutes of measuring):
    the datasheet example stands in for it, the same schema."""
    if path.name == "time.md":
        (session.cwd / "cpu.yaml").write_text((db.ROOT / "docs/examples/my-gpu.yaml").read_text())


def _yaml_blocks() -> list[tuple[str, str, object]]:
    """(where, schema KIND, document) of each yaml block of the docs that is a spec, a list of
    layers (checked as a spec's `layers`) or a hardware profile; not a CI workflow, nor a block's
    body with `$param`s or an elided `...` (shown, not read)."""
    out = []
    for path in db.doc_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for start, end, lang, indent in db.fences(lines):
            if lang != "yaml":
                continue
            text = "\n".join(line[len(indent):] for line in lines[start + 1:end])
            document = yaml.safe_load(text)
            where = f"{db.relative(path)}:{start + 1}"
            if isinstance(document, list) and "$" not in text and "..." not in text:
                out.append((where, "spec", {"name": "fragment", "layers": document}))
            elif isinstance(document, dict) and "layers" in document:  # a part of a spec: no name
                out.append((where, "spec", {"name": "fragment", **document}))
            elif isinstance(document, dict) and "vendor_name" in document:
                out.append((where, "profile", document))
    return out


YAML_BLOCKS = _yaml_blocks()
SPEC_FILES = sorted([*db.ROOT.glob("specs/*.yaml"), *db.ROOT.glob("docs/examples/*.yaml")])
NOT_SPECS = {"my-gpu.yaml": "a hardware profile", "typo.yaml": "a spec error shown on purpose"}


def test_the_docs_show_specs() -> None:
    assert len([b for b in YAML_BLOCKS if b[1] == "spec"]) >= 30 and len(SPEC_FILES) >= 20


@pytest.mark.parametrize(("where", "kind", "document"), YAML_BLOCKS, ids=[w for w, _, _ in YAML_BLOCKS])
def test_yaml_blocks_of_the_docs_are_valid(where: str, kind: str, document: object) -> None:
    assert_valid(kind, document)


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.name for p in SPEC_FILES])
def test_spec_files_are_valid(path: Path) -> None:
    if path.name in NOT_SPECS:
        pytest.skip(NOT_SPECS[path.name])
    assert_valid("spec", yaml.safe_load(path.read_text(encoding="utf-8")))


def test_the_typo_example_is_rejected_at_its_field() -> None:
    found = problems("spec", yaml.safe_load((db.ROOT / "docs/examples/typo.yaml").read_text()))
    assert found and found[0].startswith("at layers/0: Additional properties") and "'kernal'" in found[0]


def test_specs_cnncost_writes_are_valid() -> None:
    """`cnncost spec NAME` of built-ins of every kind of block (Python families, YAML, multi-input)."""
    from cnncost.resolve import resolve
    from cnncost.spec import dump_spec
    for name in ("googlenet", "resnet50", "mobilenet-v3-large", "convnext-tiny", "unet", "densenet121"):
        assert_valid("spec", yaml.safe_load(dump_spec(resolve(name))))


def test_a_wrong_spec_is_rejected() -> None:
    good = {"name": "n", "input": [3, 8, 8], "layers": [{"type": "conv", "out": 4, "kernel": 3, "padding": "same"}]}
    assert problems("spec", good) == []
    for layer in ({"type": "conv", "kernel": 3},                     # a required field missing
                  {"type": "conv", "out": "4", "kernel": 3},         # a count as text
                  {"type": "conv", "out": 4, "kernel": 3, "padding": "full"},  # not a padding
                  {"type": "maxpool", "kernel": 2, "ceil_mode": "yes"},
                  {"name": "x"}):                                      # no type
        assert problems("spec", {**good, "layers": [layer]}) != [], layer
    assert problems("spec", {**good, "outputz": []}) != []
    # a block of the spec's own `blocks:` takes its own parameters
    templated = {**good, "blocks": {"cbr": {"params": ["width"], "type": "sequential",
                                            "layers": [{"type": "conv", "out": "$width", "kernel": 3}]}},
                 "layers": [{"type": "cbr", "width": 8}]}
    assert problems("spec", templated) == []
