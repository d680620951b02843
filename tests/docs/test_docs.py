"""The README's and docs/'s examples print what the docs show (tests/docs/docs_blocks.py does the work).

A failure shows the command, a diff of shown vs printed output, and the command that regenerates
the docs after a deliberate output change: python tests/docs/docs_blocks.py --update FILE.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import docs_blocks as db

BLOCKS = {path: db.parse(path) for path in db.doc_files()}
CASES = [(path, block) for path, blocks in BLOCKS.items() for block in blocks if block.checks]
_RESULTS: dict[Path, list[db.Result]] = {}


def results_for(path: Path) -> list[db.Result]:
    # a file's blocks share one namespace and directory, so the whole file runs once, in order
    if path not in _RESULTS:
        _RESULTS[path] = db.run_blocks(path, BLOCKS[path])
    return _RESULTS[path]


@pytest.mark.parametrize(("path", "block"), CASES, ids=[block.id for _, block in CASES])
def test_block(path: Path, block: db.Block) -> None:
    if all(check.mode == "skip" for check in block.checks):
        pytest.skip("; ".join(sorted({check.reason for check in block.checks})))
    for module in sorted({m for check in block.checks for m in check.needs}):
        pytest.importorskip(module)
    results = [r for r in results_for(path) if any(r.check is check for check in block.checks)]
    assert len(results) == len(block.checks)
    problems = [db.describe(path, r) for r in results if r.status in ("failed", "error")]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


# --- the parser finds what the docs hold, so a broken parser cannot pass by finding nothing ---

# checks whose output the doc shows and compares, at least (what the docs hold today)
COMPARED = {
    "README.md": 16, "docs/ci.md": 10, "docs/conventions.md": 4, "docs/counting.md": 8, "docs/import.md": 6, "docs/lecture.md": 6,
    "docs/memory.md": 13, "docs/papers.md": 1, "docs/pictures.md": 3, "docs/spec.md": 7, "docs/sweeps.md": 13,
    "docs/torch-backend.md": 4, "docs/zoo-inception.md": 1, "docs/zoo-mobile.md": 1, "docs/zoo-resnet.md": 1,
    "docs/zoo-segmentation.md": 1, "docs/zoo-torchvision.md": 1,
}


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_parser_finds_the_blocks(name: str) -> None:
    checks = [check for block in BLOCKS[db.ROOT / name] for check in block.checks]
    compared = [check for check in checks if check.mode == "compare" and check.expected]
    assert len(compared) >= COMPARED[name], [db.shown_source(check) for check in checks]
    silent = [c for c in checks
              if c.mode == "compare" and c.kind == "command" and not c.expected and ">" not in c.source]
    assert not silent, "a command shown without its output: " + ", ".join(db.shown_source(c) for c in silent)


def test_every_skip_and_run_gives_a_reason() -> None:
    for blocks in BLOCKS.values():
        for block in blocks:
            for check in block.checks:
                assert check.mode == "compare" or check.reason, f"{block.id}: {db.shown_source(check)}"


# --- a stale figure fails, and --update repairs it ---

def printed(tmp_path: Path, markdown: str) -> list[db.Result]:
    doc = tmp_path / "doc.md"
    doc.write_text(markdown, encoding="utf-8")
    return db.run_blocks(doc, db.parse(doc))


def stale(lines: list[str]) -> list[str]:
    """The same lines with one digit changed: a figure gone stale."""
    for number, line in enumerate(lines):
        for at, char in enumerate(line):
            if char.isdigit():
                return lines[:number] + [line[:at] + str((int(char) + 1) % 10) + line[at + 1:]] + lines[number + 1:]
    raise AssertionError(f"no figure in {lines}")


COMMAND = "cnncost table alexnet --depth 0 --batch 1"
EXAMPLE = ">>> import cnncost\n>>> cnncost.table('alexnet', batch=1).totals.params"


def test_a_stale_command_output_fails_and_update_fixes_it(tmp_path: Path) -> None:
    (first,) = printed(tmp_path, f"```console\n$ {COMMAND}\n```\n")
    assert first.status == "failed" and first.actual  # nothing shown: the whole output is missing
    good = "\n".join(first.actual)
    assert [r.status for r in printed(tmp_path, f"```console\n$ {COMMAND}\n{good}\n```\n")] == ["passed"]

    doc = tmp_path / "doc.md"
    bad = "\n".join(stale(first.actual))
    (result,) = printed(tmp_path, f"Intro.\n\n```console\n$ {COMMAND}   # a comment\n{bad}\n```\n")
    assert result.status == "failed"
    message = db.describe(doc, result)
    assert f"$ {COMMAND}" in message and "python tests/docs/docs_blocks.py --update" in message
    assert "--- shown in the doc" in message and "+++ printed now" in message

    assert db.update(doc, [result]) == 1
    assert doc.read_text() == f"Intro.\n\n```console\n$ {COMMAND}   # a comment\n{good}\n```\n"
    assert [r.status for r in db.run_blocks(doc, db.parse(doc))] == ["passed"]


def test_truncated_output_compares_the_lines_shown_and_update_keeps_the_length(tmp_path: Path) -> None:
    (first,) = printed(tmp_path, f"```console\n$ {COMMAND}\n```\n")
    head = first.actual[:3]
    assert len(first.actual) > 3
    shown = "\n".join(head)
    assert [r.status for r in printed(tmp_path, f"```console\n$ {COMMAND}\n{shown}\n...\n```\n")] == ["passed"]
    doc = tmp_path / "doc.md"
    (result,) = printed(tmp_path, f"```console\n$ {COMMAND}\n" + "\n".join(stale(head)) + "\n...\n```\n")
    assert result.status == "failed"
    db.update(doc, [result])
    assert doc.read_text() == f"```console\n$ {COMMAND}\n{shown}\n...\n```\n"


def test_a_stale_doctest_figure_fails_and_update_fixes_it(tmp_path: Path) -> None:
    (_, first) = printed(tmp_path, f"```python\n{EXAMPLE}\n```\n")
    assert first.status == "failed" and len(first.actual) == 1
    figure = first.actual[0]
    doc = tmp_path / "doc.md"
    results = printed(tmp_path, f"```python\n{EXAMPLE}\n{stale([figure])[0]}\n```\n")
    assert [r.status for r in results] == ["passed", "failed"]
    db.update(doc, results)
    assert doc.read_text() == f"```python\n{EXAMPLE}\n{figure}\n```\n"


def test_a_script_is_compared_with_the_text_block_after_it(tmp_path: Path) -> None:
    code = ("import cnncost\nreport = cnncost.table('alexnet', batch=1)\n"
            "print(report.totals.params)\nreport.totals.macs\n")
    (first,) = printed(tmp_path, f"```python\n{code}```\n\n```text\n```\n")
    assert first.status == "failed" and len(first.actual) == 2
    good = "\n".join(first.actual)
    assert [r.status for r in printed(tmp_path, f"```python\n{code}```\n\n```text\n{good}\n```\n")] == ["passed"]
    bad = "\n".join(stale(first.actual))
    assert [r.status for r in printed(tmp_path, f"```python\n{code}```\n\n```text\n{bad}\n```\n")] == ["failed"]


def test_directives_skip_run_and_need(tmp_path: Path) -> None:
    markdown = ("<!-- docs: skip `cnncost check` (needs a GPU) -->\n<!-- docs: run `cnncost list` (long) -->\n"
                "```console\n$ cnncost check resnet50 --device cuda\nnot compared\n$ cnncost list\n"
                "not compared either\n$ cnncost table missing-arch\n```\n")
    statuses = [r.status for r in printed(tmp_path, markdown)]
    assert statuses == ["skipped", "ran", "error"]  # an unknown architecture fails even unshown
    with pytest.raises(ValueError, match="needs a reason"):
        db.parse(tmp_path / "x.md", "<!-- docs: skip -->\n```console\n$ cnncost list\n```\n")
    with pytest.raises(ValueError, match="matches no command"):
        db.parse(tmp_path / "x.md", "<!-- docs: run `cnncost fit` (slow) -->\n```console\n$ cnncost list\n```\n")
    needs = db.parse(tmp_path / "x.md", "<!-- docs: torch -->\n```console\n$ cnncost check alexnet\n```\n")
    assert needs[0].checks[0].needs == ["torch"]
    needs = db.parse(tmp_path / "x.md", "<!-- docs: needs `onnx` -->\n```python\n>>> 1\n1\n```\n")
    assert needs[0].checks[0].needs == ["onnx"]


def test_redirection_writes_into_the_session_directory_and_paths_resolve_from_the_root(tmp_path: Path) -> None:
    markdown = ("```console\n$ cnncost spec docs/examples/my_net.yaml > copy.yaml\n"
                "$ cnncost table copy.yaml --batch 1\n```\n")
    results = printed(tmp_path, markdown)
    assert results[0].status == "passed" and results[0].actual == []
    assert results[1].status == "failed" and results[1].actual  # it ran: the copy exists
    assert not (db.ROOT / "copy.yaml").exists()


def test_torch_checks_skip_without_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "available", lambda module: module != "torch")
    (result,) = printed(tmp_path, "<!-- docs: torch -->\n```console\n$ cnncost check alexnet\nx\n```\n")
    assert result.status == "skipped"


# --- a prose table of engine figures no command prints whole ---

def test_memory_md_predicted_saved_bytes_are_the_engines() -> None:
    """docs/memory.md's proof table: its "predicted" columns are the memory model's at batch 2 on CPU (the
    measured columns come from benchmarks/memory_check.py, which needs torch and minutes)."""
    import cnncost
    from cnncost.memory.tensors import Precision
    from cnncost.memory.trace import trace

    def predicted(name: str, dtype: str) -> int:  # as benchmarks/memory_check.py predicts: autocast weight copies in
        net = cnncost.load(name)
        return sum(trace(net, precision=Precision(dtype, device="cpu")).saved_by_module(2).values())

    lines = (db.ROOT / "docs/memory.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| architecture | predicted fp32 (B)"))
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2:]))
    assert len(rows) > 50
    stale = []
    for row in rows:
        name, fp32, _, _, _, bf16 = (cell.strip() for cell in row.strip().strip("|").split("|"))
        name = name.strip("`")
        for dtype, shown in (("fp32", fp32), ("bf16", bf16.split("=")[0])):
            if not shown.strip():
                continue
            saved = predicted(name, dtype)
            if f"{saved:,}" != shown.strip():
                stale.append(f"{name} {dtype}: the doc shows {shown.strip()}, cnncost predicts {saved:,}")
    assert not stale, ("docs/memory.md's table is stale (rerun benchmarks/memory_check.py for these):\n"
                       + "\n".join(stale))
