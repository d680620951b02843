"""The command line under fuzzing (issue 9): at least 2,000 generated specs per run -- valid nets,
mutated nets, random layer fields, hostile YAML (aliases, recursive aliases, tags, duplicate keys,
huge integers, deep nesting, odd unicode names) and broken bytes -- run in-process through
`cnncost.cli.main`, each under a time and memory bound.

Every outcome must be exit 0 with a table (exit 1 from `fit` when nothing fits), or exit 2 with
exactly one stderr line starting `cnncost: error:`. A traceback (CNNCOST_DEBUG=1 makes the
boundary re-raise what it would otherwise turn into an "unexpected" line), a hang, a slow case or
output breaking its contract fails the test, printing the spec.

CNNCOST_FUZZ_CASES=20000 runs more (and a tenth as many `check` cases, at least 200, when PyTorch
is installed); CNNCOST_FUZZ_SEED another sequence. The generator and runner
are benchmarks/fuzz_cli.py, which runs 100,000 and prints the outcome classes.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

CASES = max(2000, int(os.environ.get("CNNCOST_FUZZ_CASES", "2000")))
CHECK_CASES = max(200, CASES // 10)
SEED = int(os.environ.get("CNNCOST_FUZZ_SEED", "20260"))
SOFT_S, HARD_S = 5.0, 20.0  # per case: slow, interrupted (a typical case takes milliseconds)


def _fuzzer():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_cli.py"
    spec = importlib.util.spec_from_file_location("cnncost_fuzz_cli", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz_cli = _fuzzer()


def test_generation_is_reproducible():
    first = [fuzz_cli.generate(SEED, i) for i in range(50)]
    again = [fuzz_cli.generate(SEED, i) for i in range(50)]
    assert [(c.argv, c.files, c.stdin) for c in first] == [(c.argv, c.files, c.stdin) for c in again]
    kinds = {fuzz_cli.generate(SEED, i).kind for i in range(400)}
    assert kinds == {"valid", "mutated", "random-layers", "hostile", "bytes"}


def test_the_runner_sees_what_it_must_fail_on(tmp_path, monkeypatch):
    """The harness itself: a traceback, a hang and a multi-line error are failures."""
    import cnncost.cli
    case = fuzz_cli.Case("probe", ["table", "FILE"], [b"name: x\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n"])
    assert fuzz_cli.run_case(case, tmp_path).cls == "ok"

    real_build = cnncost.cli.build_parser

    def parser_with(run):
        def build():
            parser = real_build()
            for action in parser._subparsers._group_actions[0].choices.values():
                action.set_defaults(run=run)
            return parser
        return build

    def crash(args):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(cnncost.cli, "build_parser", parser_with(crash))
    assert fuzz_cli.run_case(case, tmp_path).cls == "traceback"

    def loop(args):
        while True:
            pass
    monkeypatch.setattr(cnncost.cli, "build_parser", parser_with(loop))
    assert fuzz_cli.run_case(case, tmp_path, soft=0.2, hard=0.5).cls == "hang"

    def two_lines(args):
        sys.stderr.write("cnncost: error: one\nand two\n")
        return "", 2
    monkeypatch.setattr(cnncost.cli, "build_parser", parser_with(two_lines))
    outcome = fuzz_cli.run_case(case, tmp_path)
    assert outcome.cls == "bad-output"


def test_fuzz_the_command_line():
    start = time.perf_counter()
    classes, failures, times = fuzz_cli.fuzz(CASES, SEED, soft=SOFT_S, hard=HARD_S)
    wall = time.perf_counter() - start
    summary = fuzz_cli.report(classes, failures, times, wall)
    print(summary)
    assert sum(classes.values()) == CASES >= 2000
    assert classes["ok"] > CASES // 10 and sum(n for c, n in classes.items() if c.startswith("error:")) > CASES // 10
    if failures:
        shown = "\n\n".join(f"=== case {i} (seed {SEED}): {outcome.cls} ===\n{case.show(1500)}\n--- detail ---\n"
                            f"{outcome.detail[-3000:]}" for i, case, outcome in failures[:5])
        pytest.fail(f"{len(failures)} of {CASES} fuzz cases failed\n{summary}\n\n{shown}", pytrace=False)


def test_fuzz_the_check_command():
    """`cnncost check` on generated nets: PyTorch's failures, too, end as one line."""
    pytest.importorskip("torch")
    classes, failures, times = fuzz_cli.fuzz(0, SEED, soft=2 * SOFT_S, hard=HARD_S, check_cases=CHECK_CASES)
    summary = fuzz_cli.report(classes, failures, times, sum(times))
    print(summary)
    assert classes["ok"] > CHECK_CASES // 10
    if failures:
        shown = "\n\n".join(f"=== check case {i - 0} (seed {SEED}): {outcome.cls} ===\n{case.show(1500)}\n"
                            f"--- detail ---\n{outcome.detail[-3000:]}" for i, case, outcome in failures[:3])
        pytest.fail(f"{len(failures)} of {CHECK_CASES} check cases failed\n{summary}\n\n{shown}", pytrace=False)


def test_fuzz_issue_21_targets(tmp_path):
    """One target per class of issue 21 (benchmarks/fuzz_targets.py): Python specs raising any
    exception type or tampering with the streams, output that cannot be written, special files
    (real processes), broken ONNX files, CSV names, the deprecated --memory (in-process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import fuzz_targets
    in_process = max(30, CASES // 60)
    counts = {name: in_process if name in fuzz_targets.IN_PROCESS else 4 for name in fuzz_targets.TARGETS}
    counts["deprecated"] = 4
    if importlib.util.find_spec("onnx") is None:
        counts.pop("onnx")
    results, failures = fuzz_targets.run_targets(counts, SEED, tmp_path)
    print(results)
    assert not failures, "\n".join(failures[:5])
    assert all(sum(classes.values()) == counts[name] for name, classes in results.items())
