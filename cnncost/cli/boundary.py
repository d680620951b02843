"""How a command ends: its output on stdout, or ONE line on stderr naming what went wrong.

A `CnnCostError` (a bad spec or option) reads `cnncost: error: FILE: layer 'path' (type): problem`;
anything else (RecursionError, MemoryError, OverflowError, UnicodeError, OSError, an exception from
PyTorch...) gets the same shape and is named as unexpected. Names are shown escaped (no newline or
terminal escape gets through)."""
from __future__ import annotations

import errno
import os
from typing import Any

from ..errors import CnnCostError, one_line

DEBUG_ENV = "CNNCOST_DEBUG"


def describe_unexpected(error: BaseException) -> str:
    """One line for an exception that is not a CnnCostError."""
    kind = type(error).__name__
    text = str(error)
    if isinstance(error, RecursionError):
        return "the spec nests too deeply to process (Python's recursion limit)"
    if isinstance(error, UserExit):
        return str(error)
    if not isinstance(error, Exception):  # GeneratorExit, a BaseException subclass of user code
        return f"{kind} raised while running the spec's code: {text or 'no message'}"
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


def write_error(stream: Any, message: str) -> None:
    """`cnncost: error: MESSAGE` on stream; a stderr that cannot take it is left silent."""
    try:
        write(stream, f"cnncost: error: {message}\n")
        stream.flush()
    except Exception:  # noqa: BLE001 - nowhere left to say it: the exit status still does
        silence(stream)


def silence(stream: Any) -> None:
    """Point a stream that failed at /dev/null, so that Python's own flush at exit finds nothing to
    fail on (no 'Exception ignored' traceback after our one line)."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except Exception:  # noqa: BLE001 - a StringIO, or a descriptor already gone
        pass


def describe_write_error(error: BaseException) -> str:
    """Why the output could not be written, in a few words (ENOSPC, EBADF, a closed stream...)."""
    if isinstance(error, OSError):
        return (error.strerror or errno.errorcode.get(error.errno or 0, "") or str(error)).strip() or "I/O error"
    if isinstance(error, ValueError) and "closed" in str(error):
        return "the output stream was closed"
    return one_line(f"{type(error).__name__}: {error}")


class UserExit(Exception):
    """SystemExit raised by a spec's or a module's code: an error in that code, named as such."""

    def __init__(self, exit_: SystemExit) -> None:
        super().__init__(f"the spec's code called sys.exit({exit_.code!r}) (SystemExit); cnncost "
                         "reports it as an error in that code")


def write_out(path: str, text: str) -> None:
    """`text` into -o FILE whole or not at all; a failure is one error naming FILE."""
    try:
        write_file_atomically(path, text)
    except OSError as error:
        raise CnnCostError(f"cannot write {path}: {describe_write_error(error)}") from None


def write_file_atomically(path: str, text: str) -> None:
    """`text` into `path` whole or not at all: written to a temporary file in the same folder,
    synced, then renamed over `path` (a full disk or a signal leaves the old file, never half a
    new one). A path that exists and is not a regular file (/dev/stdout, a FIFO) is written in
    place. Raises OSError."""
    import tempfile
    if os.path.exists(path) and not os.path.isfile(path):  # /dev/stdout, a FIFO: written in place, never replaced
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".cnncost-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.chmod(temporary, 0o666 & ~_umask())  # what open() would have given a new file
        except OSError:
            pass
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
