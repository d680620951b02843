"""Text that fits: the width to lay lines out in, and long lines wrapped at their separators.

A line is broken between the clauses of a sentence ('; '), else between the items of a list
(', ', those outside parentheses first), else at a space that follows a word without a digit, so
that a figure and its unit ('26.10 GiB', '2^20 B') always stay on one line.
"""
from __future__ import annotations

import re
import shutil
import sys

from ..errors import format_shape

PIPED_WIDTH = 100  # the width when the output is not a terminal (a pipe, a file, a notebook, a test)
INDENT = "  "  # continuation lines


def terminal_width() -> int:
    """The terminal's columns where standard output is one (`shutil.get_terminal_size`, which
    honours COLUMNS), else PIPED_WIDTH: piped output is the same on every machine."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):  # no stdout, a closed one, an odd replacement
        tty = False
    if not tty:
        return PIPED_WIDTH
    return max(shutil.get_terminal_size((PIPED_WIDTH, 24)).columns, 40)


def _split(text: str, separator: str, top_only: bool) -> list[str]:
    """`text` cut after each `separator` (kept on the left part); `top_only`: only outside parentheses."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(text):
        char = text[i]
        depth += (char in "([") - (char in ")]")
        if text.startswith(separator, i) and (depth == 0 or not top_only):
            parts.append(text[start:i + len(separator)])
            start = i + len(separator)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p for p in parts if p]


_WORD = re.compile(r"\S+\s*")


def _words(text: str) -> list[str]:
    """Cut at spaces, but never after a word ending in a digit (its unit, or its operator, follows)."""
    parts: list[str] = []
    for word in _WORD.findall(text):
        if parts and parts[-1].rstrip()[-1:].isdigit():
            parts[-1] += word
        else:
            parts.append(word)
    return parts


_LEVELS = ((lambda t: _split(t, "; ", True)), (lambda t: _split(t, ", ", True)),
           (lambda t: _split(t, "; ", False)), (lambda t: _split(t, ", ", False)), _words)


def _pieces(text: str, room: int, level: int = 0) -> list[str]:
    """`text` as pieces of at most `room` characters (but an unbreakable one), finest cuts last."""
    if len(text.rstrip()) <= room or level == len(_LEVELS):
        return [text]
    out: list[str] = []
    for part in _LEVELS[level](text):
        out += _pieces(part, room, level + 1) if len(part.rstrip()) > room else [part]
    return out


def wrap(text: str, width: int | None = None, indent: str = INDENT) -> list[str]:
    """`text` as lines of at most `width` characters (default: `terminal_width()`), continuation
    lines indented; a piece longer than the width (a long name) keeps a line of its own."""
    width = terminal_width() if width is None else width
    if len(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for piece in _pieces(text, width - len(indent)):
        limit = width - (len(indent) if lines else 0)
        if line and len((line + piece).rstrip()) > limit:
            lines.append(line.rstrip())
            line = ""
        line += piece
    lines.append(line.rstrip())
    return [lines[0]] + [indent + line for line in lines[1:]]


def wrapped(text: str, width: int | None = None, indent: str = INDENT) -> str:
    """`wrap` joined with newlines."""
    return "\n".join(wrap(text, width, indent))


def compact_shape(shape: tuple[int, ...]) -> str:
    """A shape whose last two dims are equal (a square map) as '64x112²', else '64x112x96'."""
    if len(shape) >= 3 and shape[-1] == shape[-2] and isinstance(shape[-1], int):
        return f"{format_shape(tuple(shape[:-1]))}²"
    return format_shape(tuple(shape))
