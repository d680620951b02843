"""How a command ends: its output on stdout, or ONE line on stderr naming what went wrong.

A `CnnCostError` (a bad spec or option) reads `cnncost: error: FILE: layer 'path' (type): problem`;
anything else (RecursionError, MemoryError, OverflowError, UnicodeError, OSError, an exception from
PyTorch...) gets the same shape and is named as unexpected. Names are shown escaped (no newline or
terminal escape gets through)."""
from __future__ import annotations

from typing import Any

from ..errors import CnnCostError

DEBUG_ENV = "CNNCOST_DEBUG"


def describe_unexpected(error: BaseException) -> str:
    """One line for an exception that is not a CnnCostError."""
    kind = type(error).__name__
    text = str(error)
    if isinstance(error, RecursionError):
        return "the spec nests too deeply to process (Python's recursion limit)"
    if isinstance(error, MemoryError):
        return "out of memory while processing the spec"
    if isinstance(error, OverflowError):
        return f"a number is too large to compute with ({text})"
    if isinstance(error, ValueError) and ("int_max_str_digits" in text or "Exceeds the limit" in text):
        return "an integer has more digits than Python converts (4,300)"
    if isinstance(error, UnicodeError):
        return f"text that cannot be encoded or decoded ({kind}: {text})"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or text}{where}".strip()
    module = type(error).__module__ or ""
    origin = "PyTorch" if module.startswith("torch") else "cnncost"
    return (f"unexpected {kind} in {origin}: {text or 'no message'} (a bug: please report it; "
            f"{DEBUG_ENV}=1 shows the traceback)")


def error_message(error: BaseException, source: str | None, is_file: bool = False) -> str:
    """The message of any exception, naming `source` (the architecture argument) where it matters."""
    try:
        if isinstance(error, CnnCostError):
            if source and not error.source and (is_file or getattr(error, "path", None)):
                error.at(source=source)  # an error about a spec file, or about a layer: name the file
            return str(error)
        text = describe_unexpected(error)
        return f"{source}: {text}" if source else text
    except Exception:  # describing must not fail in turn
        return f"{source + ': ' if source else ''}{type(error).__name__}"


def write(stream: Any, text: str) -> None:
    """Write text whatever the stream's encoding (a name may hold characters it lacks)."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))
