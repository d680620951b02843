"""The YAML loader for specs: plain data only, of a bounded size (the limits are described in
`cnncost.reading`, which reads the bytes)."""
from __future__ import annotations

import sys
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import SpecError, escape
from .reading import ENV_MAX_YAML_NODES, MAX_YAML_DEPTH, MAX_YAML_NODES, Limits, decode_spec

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

    def construct_yaml_int(self, node: ScalarNode) -> int:
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

    def construct_yaml_float(self, node: ScalarNode) -> float:
        text = self.construct_scalar(node)
        if len(text) > 10_000:
            raise ConstructorError(None, None, f"a number of {len(text):,} characters is too long", node.start_mark)
        try:
            return SafeConstructor.construct_yaml_float(self, node)
        except (ValueError, IndexError, OverflowError):
            raise ConstructorError(None, None, f"{_short_tag(node.tag)} {_quote(text)} is not a number",
                                   node.start_mark) from None

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
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
        return _load_events(text, limits.max_nodes, limits.max_depth)
    except yaml.YAMLError as error:
        raise SpecError(describe_yaml_error(error, text), source=source) from None
    except RecursionError:  # the pure-Python parser, without libyaml's nesting limit
        raise SpecError(f"invalid YAML: nested too deeply (more than {limits.max_depth} levels)",
                        source=source) from None


def _load_events(text: str, max_nodes: int, max_depth: int) -> Any:
    """The data, built from libyaml's events (PyYAML's parser without libyaml) in one pass with
    every limit checked as it goes (`cnncost.yaml_events`): no node graph."""
    from .yaml_events import load_events
    c_parser = getattr(getattr(yaml, "_yaml", None), "CParser", None) if yaml.__with_libyaml__ else None
    parser = c_parser(text) if c_parser is not None else yaml.SafeLoader(text)
    def too_many(mark: Any) -> str:
        return (f"the YAML has more than {max_nodes:,} nodes (at line {mark.line + 1}); if this is a real "
                f"network, raise the limit with --max-yaml-nodes or {ENV_MAX_YAML_NODES}")
    try:
        return load_events(parser, SpecLoader(""), max_nodes, max_depth, YamlLimitError, _where_mark, too_many)
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose is not None:
            dispose()


def _where_mark(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown place"


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
