"""A progress line on stderr while a command works: `cnncost check densenet201: measuring on cpu
12 s`, one line rewritten with a carriage return and cleared when the command ends, so that its
output and its error line are never mixed with it.

Shown only where stderr is a terminal and CNNCOST_PROGRESS is not 0, and only once a command has
run for DELAY seconds (a quick command prints nothing). A thread redraws the elapsed time, so the
line moves even while one long call into C (a forward pass) holds the main thread; it is started
and joined within the command, and nothing is started when stderr is not a terminal.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .boundary import write

PROGRESS_ENV = "CNNCOST_PROGRESS"
DELAY = 0.5  # seconds before the line appears
TICK = 0.25  # seconds between redraws
CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end


class _Line:
    """The line of one command on the terminal `fd`; `lock` keeps a note and a redraw apart."""

    def __init__(self, label: str, stream: object, fd: int) -> None:
        self.label, self.stream, self.fd, self.stage = label, stream, fd, ""
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.drawn, self.shown = False, ""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cnncost-progress", daemon=True)

    def _run(self) -> None:
        if self.done.wait(DELAY):
            return
        while True:
            self.draw()
            if self.done.wait(TICK):
                return

    def draw(self) -> None:
        seconds = int(time.monotonic() - self.started)
        text = f"{self.label}: {self.stage or 'working'} {seconds} s"
        try:
            width = os.get_terminal_size(self.fd).columns or 80  # a new pty says 0
        except OSError:
            width = 80
        text = text[:max(width - 1, 10)]
        with self.lock:
            if self.drawn and text == self.shown:  # nothing new: no write
                return
            self._write(CLEAR + text)
            self.drawn, self.shown = True, text

    def clear(self) -> None:
        """Erase the line (the caller holds `lock`)."""
        if self.drawn:
            self._write(CLEAR)
            self.drawn = False

    def _write(self, text: str) -> None:
        try:
            os.write(self.fd, text.encode("utf-8", "replace"))
        except OSError:  # the terminal went away: the command's own writes will say so
            self.done.set()

    def stop(self) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2 * TICK + 1)
        with self.lock:
            self.clear()


_current: _Line | None = None


def enabled(stream: object) -> int | None:
    """The descriptor of `stream` where a progress line may be drawn on it, else None."""
    if os.environ.get(PROGRESS_ENV, "").strip() == "0":
        return None
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        return fd if os.isatty(fd) else None
    except (AttributeError, OSError, ValueError):  # a StringIO, a closed stream
        return None


@contextmanager
def progress_line(label: str, stream: object = None) -> Iterator[None]:
    """A progress line labelled `label` on `stream` (default stderr) for the block's duration."""
    global _current
    stream = sys.stderr if stream is None else stream
    fd = enabled(stream)
    if fd is None or _current is not None:
        yield
        return
    line = _current = _Line(label, stream, fd)
    line.thread.start()
    try:
        yield
    finally:
        _current = None
        line.stop()


def stage(text: str) -> None:
    """What the command does now ('measuring on cpu'); shown at the next redraw."""
    if _current is not None:
        _current.stage = text


def note(text: str) -> None:
    """A line for stderr (a warning, a deprecation note) that the progress line does not overwrite:
    the line is erased first and redrawn at the next tick."""
    line = _current
    if line is None:
        write(sys.stderr, text)
        sys.stderr.flush()
        return
    with line.lock:
        line.clear()
        write(line.stream, text)
        line.stream.flush()  # type: ignore[attr-defined]
