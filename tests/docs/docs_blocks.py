"""Run the examples in README.md and docs/*.md and compare what they print with what the docs show.

    python tests/docs/docs_blocks.py [FILE...]            # check (all docs by default)
    python tests/docs/docs_blocks.py --update [FILE...]   # rewrite the shown output from what runs now

What runs:

- ```console blocks: every `$ cnncost ...` line, in-process through `cnncost.cli.main`. The lines
  after it, up to the next `$` line or the block's end, are its expected output (stdout, then
  stderr). A trailing `# comment` is not part of the command; `> FILE` writes stdout to FILE.
  `$` lines that are not cnncost commands (`$ python -m pytest`) are shown, not run.
- ```python blocks with `>>>` lines: doctest style; each example's output is compared.
- other ```python blocks: run as a script; if a ```text block follows directly, it is the expected
  output (prints, then the value of a final bare expression, as a notebook shows it).

Expected output is compared line by line after stripping trailing whitespace; a last line `...`
means only the lines above it are compared (long tables). A command that exits non-zero, or an
example that raises, fails unless its shown output starts with `cnncost: error:`. Each file runs in one Python namespace
and one fresh temporary directory that links every top-level entry of the repository, so
relative paths (`docs/examples/my_net.yaml`, `specs/unet.yaml`) resolve from the repository root
and files the examples write stay in the temporary directory.

An HTML comment on the line(s) just above a fence changes how the block (or, with a backticked
command prefix, one command of it) is run:

    <!-- docs: torch -->                               needs PyTorch: skipped where it is missing
    <!-- docs: needs `onnx` -->                        the same for another module
    <!-- docs: skip (needs torchvision) -->            not run; the reason is required
    <!-- docs: run (prints timings) -->                run, output not compared; reason required
    <!-- docs: run `cnncost check resnet50` (slow) --> the same for the commands starting so
    <!-- docs: file `docs/examples/tiny.yaml` -->      the block (any language) shows that file as it is

Prose a script prints (a markdown table) sits between two comments; `python SCRIPT ...` runs in a
subprocess, from the repository root:

    <!-- docs: output of `python benchmarks/tools_table.py --markdown` -->
    | model | ... |
    <!-- docs: end -->
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import doctest
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
DIRECTIVE = re.compile(r"^\s*<!--\s*docs:\s*(.*?)\s*-->\s*$")
OUTPUT_OF = re.compile(r"^output of\s+`([^`]+)`$")   # a region of prose the command prints
REGION_END = "end"
DIRECTIVE_BODY = re.compile(r"^(skip|run|torch|needs|file)\s*(?:`([^`]+)`)?\s*(?:\((.*)\))?$")
TRUNCATED = "..."
MAX_DIFF_LINES = 80
SCRIPT_TIMEOUT_S = 120
UPDATE_COMMAND = "python tests/docs/docs_blocks.py --update"
# pandas' repr wraps at 80 columns and hides columns; docs show whole rows, as a notebook does
PANDAS_OPTIONS = {"display.width": 250, "display.max_columns": None}


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass
class Directive:
    action: str          # skip, run, torch or file
    prefix: str | None   # applies to the commands starting with it (file: the path); None: the whole block
    reason: str          # needs: the module


@dataclass
class Check:
    """One thing that runs: a command or a Python example, and the output the doc shows for it."""
    kind: str                 # "command", "example" (doctest), "script" or "file" (a block that shows a file)
    line: int                 # 1-based line of the command or of the code
    source: str
    expected: list[str]
    truncated: bool           # the doc shows the first len(expected) lines, then "..."
    span: tuple[int, int]     # 0-based [start, end) of the expected lines in the file, "..." included
    indent: str = ""
    mode: str = "compare"     # compare, run (not compared) or skip
    reason: str = ""
    needs: list[str] = field(default_factory=list)   # modules that must be importable


@dataclass
class Block:
    path: Path
    line: int                 # 1-based line of the opening fence
    lang: str
    checks: list[Check]
    shown: list[str] = field(default_factory=list)   # `$` lines shown but not run

    @property
    def id(self) -> str:
        return f"{relative(self.path)}:{self.line}"


@dataclass
class Result:
    check: Check
    status: str               # passed, failed, error, ran, skipped
    actual: list[str] | None = None
    message: str = ""


# --- parsing ---

def parse_directive(text: str, where: str) -> Directive:
    match = DIRECTIVE_BODY.match(text.strip())
    if not match:
        raise ValueError(f"{where}: cannot read the docs directive '{text}' (skip|run|torch [`prefix`] [(reason)])")
    action, prefix, reason = match.group(1), match.group(2), (match.group(3) or "").strip()
    if action in ("skip", "run") and not reason:
        raise ValueError(f"{where}: 'docs: {action}' needs a reason in parentheses")
    if action in ("file", "needs") and not prefix:
        raise ValueError(f"{where}: 'docs: {action}' needs a path or module in backticks")
    if action in ("torch", "needs"):  # a module, for every check of the block
        return Directive("needs", None, prefix.strip() if prefix else "torch")
    return Directive(action, prefix.strip() if prefix else None, reason)


def fences(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """(open, close, lang, indent) of every fenced block; close is the closing fence's index."""
    found, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match:
            indent, lang = match.group(1), match.group(2).lower()
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            found.append((index, end, lang, indent))
            index = end + 1
        else:
            index += 1
    return found


def directives_above(lines: list[str], index: int, where: str) -> list[Directive]:
    found = []
    above = index - 1
    while above >= 0 and DIRECTIVE.match(lines[above]):
        text = DIRECTIVE.match(lines[above]).group(1)
        if text == REGION_END or OUTPUT_OF.match(text):
            break
        found.insert(0, parse_directive(text, where))
        above -= 1
    return found


def split_expected(body: list[str]) -> tuple[list[str], bool]:
    lines = [line.rstrip() for line in body]
    while lines and not lines[-1]:
        lines.pop()
    if lines and lines[-1].strip() == TRUNCATED:
        return lines[:-1], True
    return lines, False


def console_checks(lines: list[str], start: int, end: int, indent: str) -> tuple[list[Check], list[str]]:
    checks, shown = [], []
    index = start
    while index < end:
        text = lines[index][len(indent):] if lines[index].startswith(indent) else lines[index].lstrip()
        if not text.startswith("$ "):
            index += 1  # text before the first command: not output of anything
            continue
        following = index + 1
        while following < end and not lines[following].strip().startswith("$ "):
            following += 1
        command = text[2:].strip()
        if command.startswith("cnncost ") or command == "cnncost":
            body = [line[len(indent):] if line.startswith(indent) else line.lstrip()
                    for line in lines[index + 1:following]]
            expected, truncated = split_expected(body)
            stop = index + 1 + len(expected) + (1 if truncated else 0)
            checks.append(Check("command", index + 1, command, expected, truncated, (index + 1, stop), indent))
        else:
            shown.append(command)
        index = following
    return checks, shown


def python_checks(lines: list[str], start: int, end: int, indent: str, text_after: tuple[int, int] | None,
                  ) -> list[Check]:
    body = [line[len(indent):] if line.startswith(indent) else line for line in lines[start:end]]
    source = "\n".join(body) + "\n"
    examples = doctest.DocTestParser().get_examples(source)
    if not examples:
        if text_after is None:
            return [Check("script", start + 1, source, [], False, (start, start), indent, "run",
                          "no output shown")]
        t_start, t_end, t_indent = text_after
        expected, truncated = split_expected([line[len(t_indent):] for line in lines[t_start:t_end]])
        stop = t_start + len(expected) + (1 if truncated else 0)
        return [Check("script", start + 1, source, expected, truncated, (t_start, stop), t_indent)]
    checks = []
    for example in examples:
        want = [line.replace("<BLANKLINE>", "") for line in example.want.splitlines()]
        expected, truncated = split_expected(want)
        first = start + example.lineno + example.source.count("\n")
        stop = first + len(expected) + (1 if truncated else 0)
        checks.append(Check("example", start + example.lineno + 1, example.source, expected, truncated,
                            (first, stop), indent + " " * example.indent))
    return checks


def regions(path: Path, lines: list[str]) -> list[Block]:
    blocks = []
    for index, line in enumerate(lines):
        match = DIRECTIVE.match(line)
        output = OUTPUT_OF.match(match.group(1)) if match else None
        if not output:
            continue
        end = next((k for k in range(index + 1, len(lines))
                    if DIRECTIVE.match(lines[k]) and DIRECTIVE.match(lines[k]).group(1) == REGION_END), None)
        if end is None:
            raise ValueError(f"{relative(path)}:{index + 1}: 'docs: output of' without a '<!-- docs: end -->'")
        expected, truncated = split_expected(lines[index + 1:end])
        stop = index + 1 + len(expected) + (1 if truncated else 0)
        check = Check("command", index + 1, output.group(1), expected, truncated, (index + 1, stop))
        blocks.append(Block(path, index + 1, "region", [check]))
    return blocks


def parse(path: Path, text: str | None = None) -> list[Block]:
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    found = fences(lines)
    blocks = regions(path, lines)
    for number, (open_, close, lang, indent) in enumerate(found):
        where = f"{relative(path)}:{open_ + 1}"
        directives = directives_above(lines, open_, where)
        shown_file = [d for d in directives if d.action == "file"]
        if shown_file:
            body = [line[len(indent):] if line.startswith(indent) else line for line in lines[open_ + 1:close]]
            expected, _ = split_expected(body)
            checks = [Check("file", open_ + 2, shown_file[0].prefix, expected, False,
                            (open_ + 1, open_ + 1 + len(expected)), indent)]
            blocks.append(Block(path, open_ + 1, lang, checks))
            continue
        if lang not in ("console", "python"):
            continue
        if lang == "console":
            checks, shown = console_checks(lines, open_ + 1, close, indent)
        else:
            after = None
            if number + 1 < len(found):
                n_open, n_close, n_lang, n_indent = found[number + 1]
                if n_lang == "text" and all(not line.strip() for line in lines[close + 1:n_open]):
                    after = (n_open + 1, n_close, n_indent)
            checks, shown = python_checks(lines, open_ + 1, close, indent, after), []
        for directive in directives:
            chosen = [c for c in checks if directive.prefix is None or c.source.startswith(directive.prefix)]
            if not chosen and directive.prefix is not None:  # a typo in the prefix would silently compare
                raise ValueError(f"{where}: 'docs: {directive.action}' matches no command of the block")
            for check in chosen:
                if directive.action == "needs":
                    check.needs.append(directive.reason)
                elif directive.action == "skip" or check.mode != "skip":
                    check.mode, check.reason = directive.action, directive.reason
        blocks.append(Block(path, open_ + 1, lang, checks, shown))
    return sorted(blocks, key=lambda block: block.line)


# --- running ---

def output_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Session:
    """One doc file's run: a namespace and a working directory shared by its blocks, in order."""

    def __init__(self) -> None:
        self.namespace: dict = {"__name__": "__docs__"}
        self._tmp = tempfile.TemporaryDirectory(prefix="cnncost-docs-")
        self.cwd = Path(self._tmp.name)
        for entry in ROOT.iterdir():
            if not entry.name.startswith("."):
                (self.cwd / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())

    def close(self) -> None:
        self._tmp.cleanup()

    @contextlib.contextmanager
    def _inside(self, stdout: io.StringIO, stderr: io.StringIO):
        before = os.getcwd()
        os.chdir(self.cwd)
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                yield
        finally:
            os.chdir(before)

    def command(self, text: str) -> tuple[str, str]:
        """(shown output, problem or '')."""
        from cnncost.cli import main
        argv = shlex.split(text, comments=True)
        if argv[:1] == ["python"]:
            return self.script(argv)
        target = None
        if ">" in argv:
            at = argv.index(">")
            if at != len(argv) - 2:
                return "", "'>' must be followed by exactly one file name"
            argv, target = argv[:at], argv[at + 1]
        stdout, stderr = io.StringIO(), io.StringIO()
        with self._inside(stdout, stderr):
            try:
                code = main(argv[1:])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except Exception:  # noqa: BLE001  cnncost's boundary should not let one through: show it
                return stdout.getvalue() + stderr.getvalue(), traceback.format_exc()
        shown = stdout.getvalue()
        if target is not None:
            (self.cwd / target).write_text(shown, encoding="utf-8")
            shown = ""
        shown += stderr.getvalue()
        return shown, (f"exit status {code}" if code else "")

    def script(self, argv: list[str]) -> tuple[str, str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, *argv[1:]], cwd=self.cwd, env=env, capture_output=True, text=True,
                              timeout=SCRIPT_TIMEOUT_S)
        return done.stdout + done.stderr, (f"exit status {done.returncode}" if done.returncode else "")

    def python(self, source: str, filename: str, kind: str) -> tuple[str, str]:
        stdout, stderr = io.StringIO(), io.StringIO()
        with self._inside(stdout, stderr):
            try:
                if kind == "example":
                    exec(compile(source, filename, "single"), self.namespace)  # the REPL echoes expressions
                else:
                    tree = ast.parse(source, filename)
                    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                    exec(compile(tree, filename, "exec"), self.namespace)
                    if last is not None:
                        value = eval(compile(ast.Expression(last.value), filename, "eval"), self.namespace)
                        if value is not None:
                            print(repr(value))
            except Exception:  # noqa: BLE001  a failing example is a failing check
                return stdout.getvalue(), traceback.format_exc(limit=-3)
        return stdout.getvalue() + stderr.getvalue(), ""


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_blocks(path: Path, blocks: list[Block]) -> list[Result]:
    import pandas
    options = [item for pair in PANDAS_OPTIONS.items() for item in pair]
    with pandas.option_context(*options):  # not set globally: other tests in the process see the defaults
        return _run(path, blocks)


def _run(path: Path, blocks: list[Block]) -> list[Result]:
    session = Session()
    results = []
    try:
        for block in blocks:
            for check in block.checks:
                missing = [m for m in check.needs if not available(m)]
                if check.mode == "skip" or missing:
                    reason = check.reason if check.mode == "skip" else f"needs {', '.join(missing)}"
                    results.append(Result(check, "skipped", message=reason))
                    continue
                if check.kind == "file":
                    shown, problem = (ROOT / check.source).read_text(encoding="utf-8"), ""
                elif check.kind == "command":
                    shown, problem = session.command(check.source)
                else:
                    shown, problem = session.python(check.source, f"{relative(path)}:{check.line}", check.kind)
                actual = output_lines(shown)
                if problem and not (check.expected and check.expected[0].startswith("cnncost: error:")):
                    results.append(Result(check, "error", actual, problem))
                elif check.mode == "run":
                    results.append(Result(check, "ran", actual))
                else:
                    compared = actual[:len(check.expected)] if check.truncated else actual
                    ok = compared == check.expected and (not check.truncated or len(actual) > len(check.expected))
                    results.append(Result(check, "passed" if ok else "failed", actual))
    finally:
        session.close()
    return results


# --- reporting and updating ---

def shown_source(check: Check) -> str:
    if check.kind == "command":
        return f"$ {check.source}"
    if check.kind == "file":
        return f"(the file {check.source})"
    first = check.source.strip().splitlines()[0] if check.source.strip() else ""
    return (">>> " if check.kind == "example" else "") + first + (" ..." if check.source.strip().count("\n") else "")


def describe(path: Path, result: Result) -> str:
    check = result.check
    head = f"{relative(path)}:{check.line}: {shown_source(check)}"
    if result.status == "error":
        shown = "\n".join(f"  | {line}" for line in result.actual or [])
        return f"{head}\n  failed to run: {result.message.strip()}\n{shown}"
    expected = check.expected + ([TRUNCATED] if check.truncated else [])
    actual = result.actual or []
    if check.truncated and len(actual) > len(check.expected):
        actual = actual[:len(check.expected)] + [TRUNCATED]
    diff = list(difflib.unified_diff(expected, actual, "shown in the doc", "printed now", lineterm=""))
    if len(diff) > MAX_DIFF_LINES:
        diff = diff[:MAX_DIFF_LINES] + [f"... ({len(diff) - MAX_DIFF_LINES} more diff lines)"]
    return (f"{head}\n  the doc shows other output than the command prints now; if the change is meant, run\n"
            f"  {UPDATE_COMMAND} {relative(path)}\n" + "\n".join(f"  {line}" for line in diff))


def new_expected(check: Check, actual: list[str]) -> list[str]:
    if check.truncated and len(actual) > len(check.expected):
        lines = actual[:len(check.expected)] + [TRUNCATED]
    else:
        lines = list(actual)
    if check.kind == "example":
        lines = [line or "<BLANKLINE>" for line in lines]
    return [(check.indent + line).rstrip() for line in lines]


def update(path: Path, results: list[Result]) -> int:
    """Rewrite the expected output of every compared check that ran; the number of checks changed."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=False)
    changed = 0
    for result in sorted(results, key=lambda r: r.check.span, reverse=True):
        if result.status != "failed":
            continue
        start, stop = result.check.span
        lines[start:stop] = new_expected(result.check, result.actual or [])
        changed += 1
    if changed:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="rewrite the docs' expected output in place")
    parser.add_argument("files", nargs="*", type=Path, help="markdown files (default: README.md and docs/*.md)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    bad = 0
    for path in [p.resolve() for p in args.files] or doc_files():
        started = time.perf_counter()
        results = run_blocks(path, parse(path))
        counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "error", "ran", "skipped")}
        print(f"{relative(path)}: {', '.join(f'{n} {s}' for s, n in counts.items() if n)} "
              f"({time.perf_counter() - started:.1f} s)")
        for result in results:
            if result.status == "skipped":
                where = f"{relative(path)}:{result.check.line}"
                print(f"  skipped {where}: {shown_source(result.check)} ({result.message})")
            elif result.status == "error" or (result.status == "failed" and not args.update):
                print("\n" + describe(path, result) + "\n")
                bad += 1
        if args.update:
            changed = update(path, results)
            if changed:
                print(f"  updated {changed} output(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
