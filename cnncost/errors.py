"""The one exception family of cnncost. Messages share one shape, always on one line:

    specs/net.yaml: layer 'stage1.conv2' (conv): in channels 6 not divisible by groups=4; input shape 6x28x28

Names come from specs and may hold anything: `escape` shows control characters, line and paragraph
separators, bidirectional overrides and lone surrogates as repr-like escapes (\\n, \\x1b, \\u202e), so
that a message stays one line and prints in any encoding.
"""
from __future__ import annotations

import re

# C0/C1 controls, DEL, line/paragraph separators, bidi marks/overrides/isolates, lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c\ud800-\udfff]")
MAX_MESSAGE = 2000


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


def escape(text: object, limit: int | None = None) -> str:
    """`text` with unsafe characters escaped; cut in the middle past `limit` characters."""
    text = text if isinstance(text, str) else str(text)
    out = _UNSAFE.sub(_escaped, text)
    if limit is not None and len(out) > limit:
        keep = max(limit - 5, 2)
        out = f"{out[:keep - keep // 3]}[...]{out[len(out) - keep // 3:]}"
    return out


def one_line(text: object) -> str:
    """A message for a terminal or a log: escaped, at most MAX_MESSAGE characters."""
    return escape(text, MAX_MESSAGE)


class CnnCostError(ValueError):
    """Base of every error cnncost raises on bad input; fields are filled in as it travels up."""

    def __init__(self, problem: str, *, path: str | None = None, type_name: str | None = None,
                 shape: tuple[int, ...] | None = None, source: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.path, self.type_name = problem, path, type_name
        self.shape, self.source = shape, source

    def at(self, *, path: str | None = None, type_name: str | None = None,
           source: str | None = None) -> CnnCostError:
        """Fill in context the raiser did not know (layer path, spec file); set fields win."""
        self.path = self.path or path
        self.type_name = self.type_name or type_name
        self.source = self.source or source
        return self

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(f"{escape(self.source, 300)}: ")
        if self.path:
            parts.append(f"layer '{escape(self.path, 300)}'"
                         + (f" ({escape(self.type_name, 100)})" if self.type_name else "") + ": ")
        elif self.type_name:
            parts.append(f"({escape(self.type_name, 100)}): ")
        parts.append(escape(self.problem))
        if self.shape is not None:
            try:
                parts.append(f"; input shape {format_shape(self.shape)}")
            except Exception:  # a message must never fail to print
                pass
        return one_line("".join(parts))


class SpecError(CnnCostError):
    """A spec (YAML or dataclasses) is malformed: unknown type, missing or wrong field."""


class ShapeError(CnnCostError):
    """A layer cannot be applied to the shape that reaches it."""


class UnknownArchitecture(CnnCostError):
    """A name that is neither a built-in architecture nor a spec file."""


def int_text(value: int) -> str:
    """Exact decimal digits of any int, also beyond Python's 4,300-digit str() limit."""
    if value.bit_length() < 14_000:  # < 4,214 digits: always within the default limit
        return str(value)
    import decimal
    return str(decimal.Decimal(value))  # exact: a Decimal made from an int keeps every digit


def format_shape(shape: tuple[int, ...]) -> str:
    return "x".join(int_text(d) if isinstance(d, int) else escape(d, 40) for d in shape)
