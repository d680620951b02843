"""Issue 22, item 8: one CLI. -o FILE and the short flags on every command, sweep's
--depth-multiplier, the wording of argument errors, the advanced group, the exit statuses in every
--help, --help/--version to a full disk, and the progress line (only on a terminal)."""
from __future__ import annotations

import argparse
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnncost.cli import build_parser, main
from cnncost.cli.options import ADVANCED_TITLE

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
ADVANCED_OPTIONS = ("--timeout", "--max-spec-bytes", "--max-yaml-nodes", "--max-nodes", "--csv-safe", "--allow-large")
SHORT = {"-f": "--format", "-b": "--batch", "-i": "--input", "-o": "--out"}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def cnncost(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnncost", *argv], capture_output=True, env=kwargs.pop("env", ENV),
                          timeout=120, check=False, **kwargs)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- -o FILE ---

def test_every_command_takes_o_and_out_for_the_same_option():
    for name, parser in subparsers().items():
        actions = parser._option_string_actions
        assert "-o" in actions and "--out" in actions, name
        assert actions["-o"] is actions["--out"], name


# (command line, whether it runs in a second or two without torch)
RESULTS = [
    ("table", "alexnet", "--batch", "2", "--format", "json"),
    ("compare", "alexnet", "vgg11", "--format", "csv"),
    ("fit", "alexnet", "--budget", "80GiB"),
    ("sweep", "alexnet", "--batch", "1,8", "--format", "csv"),
    ("spec", "docs/examples/tiny.yaml"),
    ("list", "vgg1*"),
    ("hardware", "h100*"),
    ("completion", "fish"),
]


@pytest.mark.parametrize("argv", RESULTS, ids=[a[0] for a in RESULTS])
def test_o_writes_what_stdout_would_have_shown(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, shown, _ = run(capsys, *argv)
    assert code == 0 and shown
    target = tmp_path / "result.out"
    target.write_text("old\n")
    code, printed, err = run(capsys, *argv, "-o", str(target))
    assert (code, printed, err) == (0, "", "")
    assert target.read_text() == shown  # the whole result, replacing the old file
    assert [p.name for p in tmp_path.iterdir()] == ["result.out"]  # no temporary file left
    assert run(capsys, *argv, "-o", "-")[1] == shown  # '-' is stdout


def test_o_keeps_check_and_fit_statuses(tmp_path, capsys):
    target = tmp_path / "fit.txt"
    code, printed, _ = run(capsys, "fit", "alexnet", "--budget", "1MB", "-o", str(target))
    assert code == 1 and printed == ""  # not even batch 1 fits: still status 1
    assert target.read_text().startswith("alexnet: not even batch 1 fits")


def test_o_on_check_keeps_its_status_and_writes_the_comparison(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    target = tmp_path / "check.json"
    argv = ("check", "docs/examples/tiny.yaml", "-b", "1", "-f", "json")
    code, printed, _ = run(capsys, *argv, "-o", str(target))
    assert (code, printed) == (0, "")
    assert '"schema_version"' in target.read_text() and target.read_text().endswith("}\n")
    code, printed, _ = run(capsys, "check", "docs/examples/tiny.yaml", "--against",
                           "docs/examples/my_models.py:build_net", "-o", str(target))
    assert (code, printed) == (1, "")  # the spec differs from the model: status 1, the comparison in the file
    assert target.read_text().strip()


def test_o_into_a_missing_folder_is_one_line_before_any_work(tmp_path, capsys):
    code, printed, err = run(capsys, "table", "alexnet", "-o", str(tmp_path / "no" / "x.txt"))
    assert (code, printed) == (2, "")
    assert err == f"cnncost: error: cannot write {tmp_path / 'no' / 'x.txt'}: no folder {tmp_path / 'no'}\n"
    code, printed, err = run(capsys, "table", "alexnet", "-o", str(tmp_path))
    assert (code, printed) == (2, "") and err == f"cnncost: error: cannot write {tmp_path}: Is a directory\n"


def test_import_keeps_its_summary_and_its_first_spelling(tmp_path, capsys):
    for option in ("-o", "--out", "--output"):
        target = tmp_path / f"net{option}.yaml"
        code, printed, _ = run(capsys, "import", "alexnet", option, str(target))
        assert code == 0 and printed.startswith(f"wrote {target}: alexnet")
        assert target.read_text().startswith("name: alexnet")


def test_calibrate_takes_o_for_its_profile():
    args = build_parser().parse_args(["calibrate", "-o", "profile.yaml"])
    assert args.out == "profile.yaml" and args.writes_own_out


def test_calibrate_refuses_stdout_for_its_profile(capsys):
    code, printed, err = run(capsys, "calibrate", "-o", "-")
    assert (code, printed) == (2, "")
    assert err == "cnncost: error: calibrate writes its profile to a file (-o FILE.yaml) and prints its figures on stdout\n"


# --- short flags ---

def test_short_flags_mean_the_long_option_on_every_command():
    seen = set()
    for name, parser in subparsers().items():
        actions = parser._option_string_actions
        for short, long in SHORT.items():
            if long in actions:
                assert actions.get(short) is actions[long], f"{name}: {short} is not {long}"
                seen.add(short)
            else:
                assert short not in actions, f"{name}: {short} without {long}"
    assert seen == set(SHORT)


def test_short_and_long_spellings_give_the_same_output(capsys):
    long = run(capsys, "table", "alexnet", "--batch", "2", "--input", "3x227x227", "--format", "csv")
    short = run(capsys, "table", "alexnet", "-b", "2", "-i", "3x227x227", "-f", "csv")
    assert long[0] == 0 and short == long
    assert "227" in long[1].splitlines()[1]  # the input option was read


# --- sweep's depth multiplier ---

def test_sweep_depth_multiplier_and_its_old_spelling(capsys):
    new = run(capsys, "sweep", "resnet18", "-b", "1", "-i", "64", "--depth-multiplier", "1,2", "-f", "csv")
    assert new[0] == 0 and new[2] == ""
    depths = [line.split(",")[0] for line in new[1].splitlines()[1:]]
    assert depths == ["1.0", "2.0"]
    old = run(capsys, "sweep", "resnet18", "-b", "1", "-i", "64", "--depth", "1,2", "-f", "csv")
    assert old[:2] == new[:2]  # the same figures
    assert old[2] == ("cnncost: note: --depth in sweep is deprecated: use --depth-multiplier, the same depth "
                      "multipliers (--depth is table's collapse level)\n")
    both = run(capsys, "sweep", "resnet18", "--depth", "1", "--depth-multiplier", "2")
    assert both[0] == 2 and "give --depth-multiplier only" in both[2]


def test_depth_is_only_the_collapse_level_in_help():
    sweep = subparsers()["sweep"].format_help()
    assert "--depth-multiplier LIST" in sweep and "--depth LIST" not in sweep
    assert "collapse blocks below depth N" in subparsers()["table"].format_help()


# --- wording ---

def test_depth_error_says_non_negative(capsys):
    code, _, err = run(capsys, "table", "alexnet", "--depth", "-1")
    assert code == 2
    assert err.startswith("cnncost: error: argument --depth: expected a non-negative integer (0, 1, 2, ...), got '-1'")
    assert run(capsys, "table", "alexnet", "--depth", "0")[0] == 0  # 0 is valid


@pytest.mark.parametrize("argv, message", [
    (("sweep", "alexnet", "-b", "0"), "argument -b/--batch: expected positive batch sizes (1 or more), got 0"),
    (("sweep", "alexnet", "-b", "5:1"), "argument -b/--batch: range '5:1' is empty (STOP is below START)"),
    (("sweep", "alexnet", "-i", "0"), "argument -i/--input: expected positive input sizes (1 or more), got 0"),
    (("sweep", "alexnet", "--width", "1,,2"), ("argument --width: expected multipliers separated by commas, got an "
                                               "empty item in '1,,2'")),
    (("table", "alexnet", "-b", "0"), "argument -b/--batch: expected a positive integer, got '0'"),
    (("calibrate", "-o", "x", "--budget-seconds", "0"), ("argument --budget-seconds: expected seconds above 0 and "
                                                         "at most 3600, got '0'")),
])
def test_argument_errors_name_the_option_once_and_the_valid_range(capsys, argv, message):
    code, printed, err = run(capsys, *argv)
    assert (code, printed) == (2, "")
    assert err.startswith(f"cnncost: error: {message} (see 'cnncost {argv[0]} --help')")


# --- --help: the advanced group and the exit statuses ---

def test_the_limits_are_in_the_advanced_group_listed_last():
    for name, parser in subparsers().items():
        groups = {action.dest: group.title for group in parser._action_groups for action in group._group_actions}
        for option in ADVANCED_OPTIONS:
            action = parser._option_string_actions.get(option)
            if action is not None:
                assert groups[action.dest] == ADVANCED_TITLE, f"{name} {option}"
        assert "--timeout" in parser._option_string_actions
        text = parser.format_help()
        advanced, statuses = text.index(ADVANCED_TITLE), text.index("\nexit status:\n")
        assert advanced < statuses
        assert "--timeout SECONDS" in text[advanced:] and "--timeout" not in text[text.index("\noptions:"):advanced]


def test_every_help_ends_with_the_exit_statuses():
    texts = {"cnncost": build_parser().format_help()} | {n: p.format_help() for n, p in subparsers().items()}
    for name, text in texts.items():
        statuses = text[text.index("\nexit status:\n"):]
        for line in ("  0    the result was written", "  2    an error: one line on stderr",
                     "  130  interrupted (Ctrl-C)", "  143  terminated (SIGTERM)"):
            assert line in statuses, f"{name}: {line}"
        ones = [line for line in statuses.splitlines() if line.startswith("  1 ")]
        expected = {"cnncost": 2, "check": 1, "fit": 1}.get(name, 0)
        assert len(ones) == expected, name
    assert "not even batch 1 fits the budget" in texts["fit"]
    assert "an exact figure differs from PyTorch's" in texts["check"]


def test_readme_and_cli_page_list_the_exit_statuses():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Exit status"):]
    for status in ("| 0 |", "| 1 |", "| 2 |", "| 130 |", "| 143 |"):
        assert status in section and status in (ROOT / "docs" / "cli.md").read_text()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["table", "--help"], ["sweep", "-h"]])
def test_help_and_version_to_a_full_disk_are_one_line_and_status_2(argv):
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "cnncost", *argv], stdout=full, stderr=subprocess.PIPE,
                              env=ENV, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == b"cnncost: error: cannot write the output: No space left on device\n"


def test_help_to_a_closed_pipe_ends_quietly():
    done = subprocess.run(f"'{sys.executable}' -m cnncost table --help | head -c 10 >/dev/null; "
                          "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                          env=ENV, timeout=60, check=False)
    assert done.stdout.strip() == b"0" and done.stderr == b""


# --- the progress line ---

def read_all(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed (EIO on Linux)
            return data
        if not chunk:
            return data
        data += chunk


def test_progress_draws_on_a_terminal_and_clears_the_line():
    from cnncost.cli import progress
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        with progress.progress_line("cnncost check densenet201", stream=terminal):
            progress.stage("measuring on cpu")
            time.sleep(progress.DELAY + 3 * progress.TICK)
            progress.note("cnncost: note: a line of its own\n")
            time.sleep(3 * progress.TICK)  # drawn again below the note
        assert progress._current is None
    shown = read_all(master).decode()
    os.close(master)
    assert "cnncost check densenet201: measuring on cpu 0 s" in shown
    assert shown.endswith(progress.CLEAR)  # cleared at the end: the next output starts on a clean line
    assert progress.CLEAR + "cnncost: note: a line of its own\r\n" + progress.CLEAR + "cnncost check" in shown


def test_no_progress_when_quick_or_not_a_terminal_or_turned_off(monkeypatch, tmp_path):
    from cnncost.cli import progress
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as terminal:
        with progress.progress_line("quick", stream=terminal):
            pass  # under DELAY: nothing drawn
        monkeypatch.setenv(progress.PROGRESS_ENV, "0")
        with progress.progress_line("off", stream=terminal):
            time.sleep(progress.DELAY + progress.TICK)
    assert read_all(master) == b""  # the terminal closed with nothing written
    os.close(master)
    with open(tmp_path / "stderr", "w") as plain:
        assert progress.enabled(plain) is None


def cnncost_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "cnncost", *argv], stdout=subprocess.PIPE, stderr=slave,
                               env=env)
    os.close(slave)
    out = process.stdout.read()
    process.wait(timeout=120)
    err = read_all(master)
    os.close(master)
    return process.returncode, out, err


SLOW_SPEC = """
import time
from cnncost import Net
from cnncost.layers import Conv

def build():
    time.sleep(1.5)  # a spec whose code takes a while, as tracing a large model does
    return Net("slow", (3, 8, 8), [Conv(out=4, kernel=3, name="conv")])
"""


def test_a_long_command_shows_progress_on_a_terminal_only(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_SPEC)
    argv = ["table", f"{tmp_path / 'slow.py'}:build", "-f", "csv"]
    code, out, err = cnncost_on_a_terminal(argv, ENV)
    assert code == 0 and out.splitlines()[-1].startswith(b"total,")
    assert b"cnncost table slow.py:build: running the Python spec 0 s" in err
    assert err.endswith(b"\r\x1b[K")  # erased at the end
    piped = cnncost(*argv)
    assert piped.returncode == 0 and piped.stdout == out
    assert piped.stderr == b""  # not a terminal: nothing on stderr
    assert cnncost_on_a_terminal(argv, {**ENV, "CNNCOST_PROGRESS": "0"}) == (0, out, b"")
