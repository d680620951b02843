"""What guards a cnncost process against the code it runs and the world it writes to.

- `Stopped` (a BaseException, so that a spec's `except Exception:` cannot swallow it) ends a
  command from outside: `TimeLimitExceeded` (the `--timeout` / CNNCOST_TIMEOUT limit) and
  `Terminated` (SIGTERM). User code that catches BaseException is caught again: the alarm
  re-fires every second until the command's boundary disarms it, and after GRACE_FIRINGS more
  seconds the process writes its one line and ends (os._exit, status 2).
- `time_limit(seconds)` arms SIGALRM (main thread only; no thread or process is left behind;
  left alone where the caller has an interval timer of its own running).
  It interrupts Python code, sleeps and most waits; it cannot interrupt one long call into C
  (a single huge tensor operation) until that call returns to Python.
- `own_streams()` gives back the real sys.stdout and sys.stderr after user code ran, whether
  that code replaced them or closed them.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

TIMEOUT_ENV = "CNNCOST_TIMEOUT"
DEFAULT_TIMEOUT = 300.0  # seconds: generous for the largest zoo model's trace on a slow CI machine
GRACE_FIRINGS = 5  # seconds of re-raising before a process whose code swallows the stop is ended
MAX_TIMEOUT = 1e7  # what setitimer takes everywhere; more is "no limit" in practice


class Stopped(BaseException):
    """The command was stopped from outside its own work; `status` is the process's exit status."""

    status = 2


class TimeLimitExceeded(Stopped):
    status = 2

    def __init__(self, seconds: float) -> None:
        super().__init__(f"stopped after {seconds:g} s, the time limit (--timeout SECONDS or {TIMEOUT_ENV} "
                         "raise it; 0 removes it)")


class Terminated(Stopped):
    status = 143  # 128 + SIGTERM, as a shell reports a process the signal ended

    def __init__(self) -> None:
        super().__init__("terminated (SIGTERM)")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TimeLimitExceeded in the main thread once `seconds` have passed (None or 0: no limit)."""
    if not seconds or seconds <= 0 or not _in_main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:  # the caller (a test harness, a fuzzer) bounds time already
        yield
        return

    fired = [0]

    def expire(signum: int, frame: Any) -> None:
        fired[0] += 1
        if fired[0] > GRACE_FIRINGS:  # user code swallowed every TimeLimitExceeded: end the process
            message = f"cnncost: error: {TimeLimitExceeded(seconds)}; the code ignored the stop\n"
            try:
                os.write(2, message.encode("utf-8", "backslashreplace"))
            finally:
                os._exit(TimeLimitExceeded.status)
        raise TimeLimitExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again each second, if user code swallows it
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def terminate_as_exception() -> Iterator[None]:
    """SIGTERM raises Terminated in the main thread while the block runs (old handler restored)."""
    if not _in_main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except (ValueError, OSError):  # not settable here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def own_streams() -> Iterator[None]:
    """Run user code, then put the real sys.stdout / sys.stderr back (reopened on their file
    descriptors where the code closed them)."""
    saved = (sys.stdout, sys.stderr)
    fds = tuple(_fileno(stream) for stream in saved)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = (_usable(stream, fd) for stream, fd in zip(saved, fds))


def _fileno(stream: Any) -> int | None:
    try:
        return stream.fileno()
    except Exception:  # noqa: BLE001 - a StringIO, a closed or odd stream
        return None


def _usable(stream: Any, fd: int | None) -> Any:
    if not getattr(stream, "closed", False) or fd is None:
        return stream
    try:
        return open(fd, "w", encoding=getattr(stream, "encoding", None) or "utf-8",
                    errors=getattr(stream, "errors", None) or "backslashreplace", closefd=False)
    except (OSError, ValueError):
        return stream


def timeout_from_env(default: float = DEFAULT_TIMEOUT) -> float:
    """CNNCOST_TIMEOUT in seconds (0: none); the default where it is unset. Raises ValueError."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    return parse_seconds(text) if text else default


def parse_seconds(text: str) -> float:
    """A non-negative number of seconds ('300', '2.5', '0' for no limit); ValueError otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"expected a number of seconds >= 0, got '{text}'")
    return min(value, MAX_TIMEOUT)
