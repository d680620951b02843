"""Reading spec files: what is read, how much, in which encoding, and a YAML loader that only
ever returns plain data of a bounded size.

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

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import SpecError, escape

MAX_SPEC_BYTES = 16 * 2**20
MAX_YAML_NODES = 1_000_000
MAX_YAML_DEPTH = 256
ENV_MAX_SPEC_BYTES = "CNNCOST_MAX_SPEC_BYTES"
ENV_MAX_YAML_NODES = "CNNCOST_MAX_YAML_NODES"
ENV_MAX_YAML_DEPTH = "CNNCOST_MAX_YAML_DEPTH"
SPEC_SUFFIXES = (".yaml", ".yml")
STDIN = "-"

_SIZE_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
               "g": 2**30, "gb": 2**30, "gib": 2**30}


# --- limits ---

def parse_size(text: str | int) -> int:
    """'64MiB', '64MB', '65536' -> bytes (MB = MiB = 2^20, as everywhere in cnncost)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d{1,18})\s*([a-zA-Z]{0,3})\s*", str(text))
        if match is None or match.group(2).lower() not in _SIZE_UNITS:
            raise SpecError(f"expected a size like 64MiB or 1000000, got '{escape(str(text), 60)}'")
        value = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
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


# --- YAML ---

_TAG = "tag:yaml.org,2002:"
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NOT_DATA = ("binary", "timestamp", "set", "omap", "pairs")
_NULLS = ("", "~", "null", "Null", "NULL")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _quote(value: str, limit: int = 60) -> str:
    return "'" + escape(value, limit) + "'"


def _int_digit_limit() -> int:
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    return limit or 4300


class SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader (libyaml's when available) for plain data only.

    Use `load_yaml`; constructing the loader directly skips nothing but the limits' defaults."""

    max_nodes = MAX_YAML_NODES
    max_depth = MAX_YAML_DEPTH

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        check_node_graph(node, self.max_nodes, self.max_depth)
        return self.construct_document(node)

    def construct_yaml_int(self, node: Node) -> int:
        text = self.construct_scalar(node)
        digits = text.replace("_", "").lstrip("+-")
        limit = _int_digit_limit()
        if len(digits) > limit:
            raise ConstructorError(None, None, f"an integer of {len(digits):,} digits is beyond Python's "
                                   f"{limit:,}-digit limit", node.start_mark)
        try:
            return SafeConstructor.construct_yaml_int(self, node)
        except (ValueError, IndexError):
            raise ConstructorError(None, None, f"{_short_tag(node.tag)} {_quote(text)} is not an integer",
                                   node.start_mark) from None

    def construct_yaml_float(self, node: Node) -> float:
        text = self.construct_scalar(node)
        if len(text) > 10_000:
            raise ConstructorError(None, None, f"a number of {len(text):,} characters is too long", node.start_mark)
        try:
            return SafeConstructor.construct_yaml_float(self, node)
        except (ValueError, IndexError, OverflowError):
            raise ConstructorError(None, None, f"{_short_tag(node.tag)} {_quote(text)} is not a number",
                                   node.start_mark) from None

    def construct_yaml_bool(self, node: Node) -> bool:
        text = self.construct_scalar(node)
        try:
            return SafeConstructor.construct_yaml_bool(self, node)
        except (KeyError, AttributeError):
            raise ConstructorError(None, None, f"{_short_tag(node.tag)} {_quote(text)} is not a boolean "
                                   "(true or false)", node.start_mark) from None

    def construct_yaml_null(self, node: Node) -> None:
        text = self.construct_scalar(node)
        if text not in _NULLS:
            raise ConstructorError(None, None, f"!!null {_quote(text)} is not null", node.start_mark)
        return None

    def construct_not_data(self, node: Node) -> Any:
        raise ConstructorError(None, None, f"tag {_short_tag(node.tag)} is not allowed in a spec: only strings, "
                               "numbers, booleans, null, lists and mappings", node.start_mark)

    def construct_unknown(self, node: Node) -> Any:
        raise ConstructorError(None, None, f"unknown tag {_quote(node.tag)}: a spec holds only strings, numbers, "
                               "booleans, null, lists and mappings", node.start_mark)


for _name in ("int", "float", "bool", "null"):
    SpecLoader.add_constructor(_TAG + _name, getattr(SpecLoader, f"construct_yaml_{_name}"))
for _name in _NOT_DATA:
    SpecLoader.add_constructor(_TAG + _name, SpecLoader.construct_not_data)
SpecLoader.add_constructor(None, SpecLoader.construct_unknown)
# Dates stay strings: `name: 2024-01-01` is a name, not a datetime.
SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TAG + "timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()}


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _where(node: Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown place"


class YamlLimitError(ConstructorError):
    """Raised by `check_node_graph`: the document is too large, too deep, or contains itself."""


def check_node_graph(root: Node, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> int:
    """The number of nodes of the document with every alias expanded, computed on the node graph
    without expanding anything (each node once); raises on a cycle (a recursive alias), past
    `max_nodes` or past `max_depth`, and on a mapping that repeats a key."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    path: set[int] = set()  # the nodes between the root and the one being visited
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        kids = _children(node)
        if finished:
            path.discard(key)
            total = 1 + sum(size[id(k)] for k in kids)
            deepest = 1 + max((depth[id(k)] for k in kids), default=0)
            if total > max_nodes:
                raise YamlLimitError(None, None, f"the YAML expands to more than {max_nodes:,} nodes with its "
                                     f"aliases expanded (from {_where(node)}); if this is a real network, raise "
                                     f"the limit with --max-yaml-nodes or {ENV_MAX_YAML_NODES}", node.start_mark)
            if deepest > max_depth:
                raise YamlLimitError(None, None, f"the YAML nests deeper than {max_depth} levels (at {_where(node)})",
                                     node.start_mark)
            size[key], depth[key] = total, deepest
            continue
        if key in size:
            continue
        if key in path:
            raise YamlLimitError(None, None, f"a recursive alias: the node at {_where(node)} contains itself",
                                 node.start_mark)
        if isinstance(node, MappingNode):
            _check_keys(node)
        path.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in path:
                raise YamlLimitError(None, None, f"a recursive alias: the node at {_where(kid)} contains itself",
                                     kid.start_mark)
            if id(kid) not in size:
                stack.append((kid, False))
    return size[id(root)]


def _check_keys(node: MappingNode) -> None:
    """Explicit keys only: a key that a merge (`<<: *base`) brings in may be overridden."""
    seen: dict[tuple[str, str], Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _TAG + "merge":
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise YamlLimitError(None, None, f"duplicate key {_quote(key_node.value)} at {_where(key_node)} "
                                 f"(first at {_where(seen[key])}); a key may appear once in a mapping",
                                 key_node.start_mark)
        seen[key] = key_node


def load_yaml(text: str | bytes, source: str = "<spec>", *, max_nodes: int | None = None,
              max_depth: int | None = None) -> Any:
    """Plain data from one YAML document, or a one-line SpecError naming `source` and the line."""
    limits = Limits.from_env(max_nodes=max_nodes, max_depth=max_depth)
    if isinstance(text, (bytes, bytearray)):
        text = decode_spec(bytes(text), source)
    if not isinstance(text, str):
        raise SpecError(f"a spec must be text, got {type(text).__name__}", source=source)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise SpecError(f"the spec text is not valid Unicode (a lone surrogate at position {error.start})",
                        source=source) from None
    try:
        if len(text) > limits.max_nodes:  # bound the parser's own node objects before building any
            _count_events(text, limits.max_nodes)
        loader = SpecLoader(text)
        loader.max_nodes, loader.max_depth = limits.max_nodes, limits.max_depth
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise SpecError(describe_yaml_error(error, text), source=source) from None
    except RecursionError:  # the pure-Python parser, without libyaml's nesting limit
        raise SpecError(f"invalid YAML: nested too deeply (more than {limits.max_depth} levels)",
                        source=source) from None


def _count_events(text: str, max_nodes: int) -> None:
    loader = _BaseLoader(text)
    try:
        count = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent,
                                  yaml.AliasEvent)):
                count += 1
                if count > max_nodes:
                    mark = event.start_mark
                    raise YamlLimitError(None, None, f"the YAML has more than {max_nodes:,} nodes (at line "
                                         f"{mark.line + 1}); if this is a real network, raise the limit with "
                                         f"--max-yaml-nodes or {ENV_MAX_YAML_NODES}", mark)
    finally:
        loader.dispose()


def describe_yaml_error(error: yaml.YAMLError, text: str = "") -> str:
    """One line: 'invalid YAML at line L, column C: problem (while ... at line L, column C)'."""
    if isinstance(error, yaml.reader.ReaderError):
        where = ""
        if isinstance(error.position, int) and 0 <= error.position <= len(text):
            line = text.count("\n", 0, error.position) + 1
            column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
            where = f" at line {line}, column {column}"
        character = (f"byte 0x{error.character[0]:02x}" if isinstance(error.character, bytes)
                     else f"character U+{error.character:04X}" if isinstance(error.character, int) else "a character")
        return f"invalid YAML{where}: {character} is not allowed ({escape(str(error.reason), 100)})"
    if isinstance(error, YamlLimitError):
        return f"invalid YAML: {error.problem}"
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = error.problem or error.context or "malformed"
        context = ""
        if error.problem and error.context:
            cmark = error.context_mark
            at = f" at line {cmark.line + 1}, column {cmark.column + 1}" if cmark is not None else ""
            context = f" ({error.context}{at})"
        return escape(f"invalid YAML{where}: {problem}{context}", 400)
    lines = str(error).splitlines() or [type(error).__name__]
    return escape(f"invalid YAML: {lines[0]}", 400)
