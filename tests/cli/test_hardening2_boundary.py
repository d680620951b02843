"""Hardening, round two (issue 21, items 1 and 2): the error boundary covers user code of any
exception type, stdout/stderr tampering, output that cannot be written, signals and the time
limit. Real processes (`python -m cnncost.cli`), since exit statuses, signals, closed
descriptors and Python's own flush at exit are what is tested."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPECS = '''
import sys, time
import cnncost
from cnncost.layers import Conv, ReLU

def tiny():
    return cnncost.Net("tiny", (3, 8, 8), [Conv(out=4, kernel=3, name="c"), ReLU(name="r")])

class Boom(BaseException):
    pass

def base():
    raise Boom("custom base")

def generator_exit():
    raise GeneratorExit("gone")

def exits():
    sys.exit(3)

def interrupt():
    raise KeyboardInterrupt

def closes_stdout():
    sys.stdout.close()
    return tiny()

def closes_both():
    sys.stdout.close()
    sys.stderr.close()
    return tiny()

def replaces_streams():
    sys.stdout = None
    sys.stderr = open("/dev/null", "w")
    return tiny()

def sleeps():
    time.sleep(60)
    return tiny()

def swallows_everything():
    while True:
        try:
            time.sleep(0.05)
        except BaseException:
            pass
'''

MODULE_LEVEL = "class Boom(BaseException):\n    pass\nraise Boom('at import')\n"


def cli(*argv, stdout=subprocess.PIPE, env=None, timeout=60, **kwargs):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    environment.pop("CNNCOST_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "cnncost.cli", *map(str, argv)], stdout=stdout,
                          stderr=subprocess.PIPE, env=environment, timeout=timeout, **kwargs)


def one_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    lines = text.split("\n")
    assert len(lines) == 2 and lines[1] == "" and lines[0].startswith("cnncost: error: "), text
    return lines[0]


@pytest.fixture
def specs(tmp_path):
    (tmp_path / "specs.py").write_text(SPECS)
    (tmp_path / "raises_at_import.py").write_text(MODULE_LEVEL)
    return tmp_path


# --- user code raising anything ---

@pytest.mark.parametrize("name,expected", [
    ("base", "'base' raised Boom: custom base"),
    ("generator_exit", "'generator_exit' raised GeneratorExit: gone"),
    ("exits", "'exits' raised SystemExit: 3"),
])
def test_user_code_raising_any_exception_type_is_one_line(specs, name, expected):
    done = cli("table", specs / f"specs.py:{name}")
    assert done.returncode == 2 and done.stdout == b""
    assert one_line(done.stderr).endswith(f"specs.py:{name}: {expected}")


def test_a_base_exception_while_the_file_runs_is_one_line(specs):
    done = cli("table", specs / "raises_at_import.py:build")
    assert done.returncode == 2
    assert one_line(done.stderr).endswith("running the Python spec raised Boom: at import")


def test_keyboard_interrupt_from_user_code_is_an_interrupt(specs):
    done = cli("table", specs / "specs.py:interrupt")
    assert done.returncode == 130 and done.stderr == b"cnncost: error: interrupted\n"


@pytest.mark.parametrize("name", ["closes_stdout", "closes_both", "replaces_streams"])
def test_user_code_closing_or_replacing_the_streams_does_not_lose_the_output(specs, name):
    done = cli("table", specs / f"specs.py:{name}", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout.decode().splitlines()[0].startswith("name,type,")
    assert done.stdout.decode().splitlines()[-1].startswith("total,")


# --- output that cannot be written ---

def test_a_full_disk_is_one_line_and_status_2():
    with open("/dev/full", "wb") as full:
        done = cli("table", "alexnet", stdout=full)
    assert done.returncode == 2
    assert one_line(done.stderr) == "cnncost: error: cannot write the output: No space left on device"


def test_a_closed_pipe_ends_quietly():
    done = subprocess.run(f"'{sys.executable}' -m cnncost.cli table vgg16 --format csv | head -c 10 >/dev/null; "
                          "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.stdout.strip() == b"0"  # the convention for SIGPIPE/EPIPE: quiet (docs/cli.md)
    assert done.stderr == b""


def test_a_closed_stdout_descriptor_is_one_line():
    done = subprocess.run(f"'{sys.executable}' -m cnncost.cli table alexnet >&-", shell=True,
                          capture_output=False, stderr=subprocess.PIPE,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert line.startswith("cnncost: error: cannot write the output: "), line


def test_output_file_is_written_whole_or_not_at_all(tmp_path, monkeypatch, capsys):
    from cnncost.cli import main
    target = tmp_path / "net.yaml"
    target.write_text("old contents\n")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    assert main(["import", "alexnet", "-o", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert target.read_text() == "old contents\n"  # not half a new file
    assert [p.name for p in tmp_path.iterdir()] == ["net.yaml"]  # no temporary file left
    monkeypatch.undo()
    assert main(["import", "alexnet", "-o", str(target)]) == 0
    assert target.read_text().startswith("name: alexnet")


# --- signals and the time limit ---

def test_sigterm_is_one_line_and_status_143(specs):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "cnncost.cli", "table", specs / "specs.py:sleeps"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment)
    time.sleep(3)  # importing cnncost and starting the spec
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143 and out == b""
    assert one_line(err).endswith("terminated (SIGTERM)")


def test_timeout_stops_a_sleeping_spec(specs):
    start = time.perf_counter()
    done = cli("table", specs / "specs.py:sleeps", "--timeout", "1")
    assert time.perf_counter() - start < 20
    assert done.returncode == 2
    assert one_line(done.stderr).endswith("stopped after 1 s, the time limit (--timeout SECONDS or "
                                          "CNNCOST_TIMEOUT raise it; 0 removes it)")


def test_cnncost_timeout_sets_the_limit_and_a_bad_value_is_refused(specs):
    done = cli("table", specs / "specs.py:sleeps", env={"CNNCOST_TIMEOUT": "1"})
    assert done.returncode == 2 and "stopped after 1 s" in one_line(done.stderr)
    done = cli("table", "alexnet", env={"CNNCOST_TIMEOUT": "soon"})
    assert done.returncode == 2
    assert one_line(done.stderr) == ("cnncost: error: CNNCOST_TIMEOUT: expected a number of seconds >= 0, "
                                     "got 'soon'")


def test_timeout_ends_code_that_swallows_the_stop(specs):
    start = time.perf_counter()
    done = cli("table", specs / "specs.py:swallows_everything", "--timeout", "1")
    assert time.perf_counter() - start < 30
    assert done.returncode == 2
    assert one_line(done.stderr).endswith("the code ignored the stop")


def test_the_time_limit_leaves_no_timer_or_handler_behind(capsys):
    from cnncost.cli import main
    before = signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGTERM)
    assert main(["table", "alexnet", "--timeout", "30"]) == 0
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert (signal.getsignal(signal.SIGALRM), signal.getsignal(signal.SIGTERM)) == before
