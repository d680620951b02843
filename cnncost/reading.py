"""Reading spec files: what is read, how much, in which encoding. The YAML loader that only ever
returns plain data of a bounded size is `cnncost.safe_yaml` (it loads PyYAML, which a built-in
name never needs), and uses the limits defined here.

Every refusal is a `SpecError` with a one-line message naming the file:

- a path is read only if it is a regular file (not a directory, FIFO, device or socket) no larger
  than `max_bytes` (16 MiB; `CNNCOST_MAX_SPEC_BYTES` or `--max-spec-bytes` raise it); `-` is stdin;
- the bytes must be UTF-8 (a UTF-8 byte-order mark is allowed); UTF-16/32, latin-1 and binary
  files are named as such;
- the YAML holds only strings, integers, floats, booleans, null, lists and mappings; a mapping may
  not repeat a key; aliases are allowed, but the document with every alias expanded may not exceed
  `max_nodes` nodes (1,000,000; `CNNCOST_MAX_YAML_NODES` or `--max-yaml-nodes`) nor `max_depth`
  levels of nesting (256), and may not contain itself; an integer may not exceed Python's
  4,300-digit limit; a tag must fit its value (`!!int x` is an error, not a traceback).

Alias-shared subtrees stay shared in the result (nothing is copied while loading), so a small file
cannot expand into a large object graph that later code walks: the expanded size is counted on
the node graph, each node once.
"""
from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import SpecError, escape

MAX_SPEC_BYTES = 16 * 2**20
MAX_YAML_NODES = 1_000_000
MAX_YAML_DEPTH = 256
ENV_MAX_SPEC_BYTES = "CNNCOST_MAX_SPEC_BYTES"
ENV_MAX_YAML_NODES = "CNNCOST_MAX_YAML_NODES"
ENV_MAX_YAML_DEPTH = "CNNCOST_MAX_YAML_DEPTH"
SPEC_SUFFIXES = (".yaml", ".yml")
STDIN = "-"


# --- limits ---

def parse_size(text: str | int) -> int:
    """'64MiB' (2^20), '64MB' (10^6), '65536' -> bytes: the units of `cnncost.units` (SI and IEC)."""
    from .units import SizeError, parse_size as parse
    try:
        value = parse(text)
    except SizeError as error:
        raise SpecError(error.problem) from None
    if value < 1:
        raise SpecError(f"a size limit must be positive, got {value}")
    return value


def parse_count(text: str | int) -> int:
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d{1,18})\s*", str(text).replace(",", "").replace("_", ""))
        if match is None:
            raise SpecError(f"expected a positive integer, got '{escape(str(text), 60)}'")
        value = int(match.group(1))
    if value < 1:
        raise SpecError(f"a limit must be positive, got {value}")
    return value


@dataclass(frozen=True)
class Limits:
    """How much a spec may be: file bytes, YAML nodes with aliases expanded, YAML nesting."""

    max_bytes: int = MAX_SPEC_BYTES
    max_nodes: int = MAX_YAML_NODES
    max_depth: int = MAX_YAML_DEPTH

    @classmethod
    def from_env(cls, max_bytes: int | str | None = None, max_nodes: int | str | None = None,
                 max_depth: int | str | None = None) -> Limits:
        """Explicit values first, then the environment, then the defaults."""
        def pick(value: Any, env: str, default: int, parse: Any) -> int:
            if value is None:
                value = os.environ.get(env) or None
                if value is not None:
                    try:
                        return parse(value)
                    except SpecError as error:
                        raise SpecError(f"{env}: {error.problem}") from None
                return default
            return parse(value)
        return cls(pick(max_bytes, ENV_MAX_SPEC_BYTES, MAX_SPEC_BYTES, parse_size),
                   pick(max_nodes, ENV_MAX_YAML_NODES, MAX_YAML_NODES, parse_count),
                   pick(max_depth, ENV_MAX_YAML_DEPTH, MAX_YAML_DEPTH, parse_count))


# --- which argument is a file ---

def is_spec_path(text: str | os.PathLike[str]) -> bool:
    """Whether an architecture argument names a spec (a file, or `-` for stdin) rather than a
    built-in architecture. Never raises, whatever the text (300 characters, NUL bytes, ...).

    A name is a path when it is `-`, ends in .yaml/.yml, contains a path separator, or names an
    existing entry that is not a directory (a directory named like a built-in does not hide it)."""
    if isinstance(text, os.PathLike):
        return True
    if not isinstance(text, str):
        return False
    if text == STDIN or text.lower().endswith(SPEC_SUFFIXES) or os.sep in text or (os.altsep or os.sep) in text:
        return True
    try:
        return not stat.S_ISDIR(os.stat(text).st_mode)
    except (OSError, ValueError):  # ENAMETOOLONG, ENOENT, EACCES, embedded NUL...
        return False


# --- reading bytes ---

def read_spec_text(path: str | os.PathLike[str], source: str | None = None, *,
                   max_bytes: int | None = None) -> str:
    """The text of a spec file (or of stdin for `-`), checked as described in the module."""
    limit = Limits.from_env(max_bytes=max_bytes).max_bytes
    name = os.fspath(path) if isinstance(path, os.PathLike) else path
    source = source or ("<stdin>" if name == STDIN else str(name))
    if name == STDIN and not isinstance(path, os.PathLike):
        data = _read_stdin(limit, source)
    else:
        data = _read_file(name, limit, source)
    return decode_spec(data, source)


def _too_large(size: int | None, limit: int, source: str) -> SpecError:
    what = f"is {_mib(size)}" if size is not None else "is larger than that"
    return SpecError(f"the spec {what}, above the {_mib(limit)} limit for spec files; raise it with "
                     f"--max-spec-bytes or {ENV_MAX_SPEC_BYTES}", source=source)


def _mib(size: int) -> str:
    if size < 2**20:
        return f"{size:,} bytes"
    tenths = (size * 10 + 2**19) // 2**20
    return f"{tenths // 10:,}.{tenths % 10} MiB"


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int, source: str) -> SpecError:
    kind = next((label for test, label in _KINDS if test(mode)), "not a regular file")
    return SpecError(f"cannot read spec: it is {kind}, not a regular file", source=source)


def _read_file(name: str | bytes, limit: int, source: str) -> bytes:
    try:
        info = os.stat(name)  # before opening: opening a device or a FIFO can block or have effects
    except (OSError, ValueError) as error:
        raise SpecError(f"cannot read spec: {_os_problem(error)}", source=source) from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(info.st_mode, source)
    if info.st_size > limit:
        raise _too_large(info.st_size, limit, source)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags)
    except (OSError, ValueError) as error:
        raise SpecError(f"cannot read spec: {_os_problem(error)}", source=source) from None
    try:
        info = os.fstat(fd)  # the file opened may not be the file stat-ed (a swapped link)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(info.st_mode, source)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return _read_capped(handle, limit, source)
    except OSError as error:
        raise SpecError(f"cannot read spec: {_os_problem(error)}", source=source) from None
    finally:
        os.close(fd)


def _read_stdin(limit: int, source: str) -> bytes:
    stream = sys.stdin
    if stream is None:
        raise SpecError("cannot read spec: there is no standard input", source=source)
    buffer = getattr(stream, "buffer", None)
    try:
        if buffer is None:  # a text stream (tests, embedding): read characters, count them as bytes
            text = stream.read(limit + 1)
            data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
            if len(data) > limit:
                raise _too_large(None, limit, source)
            return data
        return _read_capped(buffer, limit, source)
    except OSError as error:
        raise SpecError(f"cannot read spec: {_os_problem(error)}", source=source) from None


def _read_capped(handle: BinaryIO, limit: int, source: str) -> bytes:
    """At most `limit` bytes; one more means the file is too large (it may have grown, or be a
    /proc file whose size says 0)."""
    chunks, total = [], 0
    while total <= limit:
        chunk = handle.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise _too_large(None, limit, source)
    return b"".join(chunks)


def _os_problem(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    return escape(str(error), 200)


# --- decoding ---

_MAGIC = ((b"\x1f\x8b", "gzip-compressed data"), (b"PK\x03\x04", "a zip archive"), (b"\x7fELF", "an executable"),
          (b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"), (b"BZh", "bzip2-compressed data"),
          (b"\xfd7zXZ\x00", "xz-compressed data"), (b"\x28\xb5\x2f\xfd", "zstd-compressed data"))
_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))


def decode_spec(data: bytes, source: str = "<spec>") -> str:
    """UTF-8 text, or a one-line SpecError saying what the bytes are instead."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    else:
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                raise SpecError(f"the spec is {encoding} text, not UTF-8; convert it, e.g. "
                                f"iconv -f {encoding} -t UTF-8", source=source)
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise SpecError(f"the spec is {kind}, not YAML text", source=source)
    head = data[:4096]
    if b"\x00" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if len(head) >= 4 and max(even, odd) >= 0.4 * (len(head) / 2) and min(even, odd) <= 0.05 * len(head):
            raise SpecError("the spec looks like UTF-16 text without a byte-order mark, not UTF-8; convert it, "
                            "e.g. iconv -f UTF-16LE -t UTF-8", source=source)
        raise SpecError(f"the spec is binary data (a NUL byte at offset {data.index(0)}), not YAML text",
                        source=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        controls = sum(1 for b in head if b < 9 or 13 < b < 32 or b == 127)
        if controls > 0.05 * len(head):
            raise SpecError("the spec is binary data, not YAML text", source=source) from None
        guess = " (latin-1 or cp1252 text?)" if _looks_latin1(data) else ""
        raise SpecError(f"the spec is not UTF-8: byte 0x{data[error.start]:02x} at line {line}, column {column}"
                        f"{guess}; save it as UTF-8", source=source) from None


def _looks_latin1(data: bytes) -> bool:
    text = data[:65536].decode("latin-1")
    return sum(1 for c in text if c.isprintable() or c in "\t\n\r") >= 0.95 * len(text)
