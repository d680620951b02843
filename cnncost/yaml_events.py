"""Plain data from a YAML event stream, with every limit of `cnncost.safe_yaml` checked as the
events arrive (issue 21: loading at engine speed).

PyYAML's composer builds a node graph (calling the Python resolver for every scalar), which
`check_node_graph` then walks and the constructor walks again: three passes over every node,
three quarters of a big spec's time. Here libyaml's parser (or PyYAML's own, without libyaml)
gives the events and one loop builds the data directly, in the same terms: sizes and depths with
aliases expanded (an alias counts its anchor's size; each node is built once), a recursive alias,
a duplicate explicit key, an unknown or non-data tag, an integer past Python's digit limit, each
refused with the same message, and the raw node count bounded while parsing. Implicit scalars are
resolved and constructed once per distinct text (a spec repeats `conv`, `3`, `true`...).
"""
from __future__ import annotations

from typing import Any, Callable

from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (AliasEvent, DocumentEndEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent,
                         ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent, StreamStartEvent)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_TAG = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP, _MERGE = _TAG + "str", _TAG + "seq", _TAG + "map", _TAG + "merge"
_CACHED_TEXT = 64  # scalars up to this length are resolved and constructed once per distinct text


class _Frame:
    """A sequence or mapping being built."""

    __slots__ = ("value", "is_map", "size", "depth", "anchor", "mark", "key", "key_tag", "key_mark", "has_key", "key_value",
                 "seen", "merges")

    def __init__(self, value: Any, is_map: bool, anchor: str | None, mark: Any) -> None:
        self.value, self.is_map, self.anchor, self.mark = value, is_map, anchor, mark
        self.size, self.depth = 1, 1
        self.key: Any = None
        self.key_tag: str | None = None
        self.key_mark: Any = None
        self.has_key = False
        self.key_value: Any = None
        self.seen: dict[tuple[str, Any], Any] | None = {} if is_map else None
        self.merges: list[Any] | None = None


def load_events(parser: Any, loader: Any, max_nodes: int, max_depth: int, limit_error: type,
                where: Callable[[Any], str], too_many: Callable[[Any], str]) -> Any:
    """The one document's data from `parser` (a CParser or a PyYAML Loader, whose check_event /
    get_event give the events); `loader` is the SpecLoader whose resolver and scalar constructors
    decide tags and values."""
    get = parser.get_event
    event = get()
    if not isinstance(event, StreamStartEvent):
        raise ComposerError(None, None, "expected a stream", event.start_mark)
    event = get()
    if isinstance(event, StreamEndEvent):
        return None
    if not isinstance(event, DocumentStartEvent):
        raise ComposerError(None, None, "expected a document", event.start_mark)
    result = _document(get, loader, max_nodes, max_depth, limit_error, where, too_many)
    event = get()
    if not isinstance(event, DocumentEndEvent):
        raise ComposerError(None, None, "expected the end of the document", event.start_mark)
    event = get()
    if not isinstance(event, StreamEndEvent):
        raise ComposerError("expected a single document in the stream", None, "but found another document",
                            event.start_mark)
    return result


def _document(get: Callable[[], Any], loader: Any, max_nodes: int, max_depth: int, limit_error: type,
              where: Callable[[Any], str], too_many: Callable[[Any], str]) -> Any:
    anchors: dict[str, tuple[Any, ...]] = {}  # (mark,): open, the node is being built
    scalars: dict[tuple[Any, ...], tuple[str, Any]] = {}
    resolve = loader.resolve
    stack: list[_Frame] = []
    count = 0
    result: Any = None

    implicit_first = loader.yaml_implicit_resolvers  # first character -> the resolvers to try

    def scalar(event: Any) -> tuple[str, Any]:
        tag, text, implicit = event.tag, event.value, event.implicit
        if tag is None and implicit[0] and text and text[0] not in implicit_first:
            return _STR, text  # a plain scalar no implicit resolver starts with: a string (`conv`, `c123`)
        cacheable = len(text) <= _CACHED_TEXT
        if cacheable:
            known = scalars.get((tag, text, implicit))
            if known is not None:
                return known
        if tag is None or tag == "!":
            tag = resolve(ScalarNode, text, implicit)
        if tag == _STR or tag == _MERGE:  # `<<` as a key: the mapping merges what it maps to
            value: Any = text
        elif tag == _SEQ or tag == _MAP:
            raise ConstructorError(None, None, f"expected a {'sequence' if tag == _SEQ else 'mapping'} node, but "
                                   "found scalar", event.start_mark)
        else:
            constructor = loader.yaml_constructors.get(tag, loader.yaml_constructors[None])
            value = constructor(loader, ScalarNode(tag, text, event.start_mark, event.end_mark, event.style))
        if cacheable:
            scalars[(event.tag, text, event.implicit)] = (tag, value)
        return tag, value

    def collection_tag(event: Any, kind: type, default: str) -> None:
        tag = event.tag
        if tag is None or tag == "!" or tag == default:
            return
        constructor = loader.yaml_constructors.get(tag, loader.yaml_constructors[None])
        constructor(loader, kind(tag, [], event.start_mark, event.end_mark))  # refuses: not plain data
        raise ConstructorError(None, None, f"tag {tag} is not allowed here", event.start_mark)

    def finish(frame: _Frame) -> tuple[Any, int, int]:
        if frame.size > max_nodes:
            raise limit_error(None, None, f"the YAML expands to more than {max_nodes:,} nodes with its aliases "
                              f"expanded (from {where(frame.mark)}); if this is a real network, raise the limit "
                              f"with --max-yaml-nodes or CNNCOST_MAX_YAML_NODES", frame.mark)
        if frame.merges:
            merged: dict[Any, Any] = {}
            for source in frame.merges:
                for key, item in source.items():
                    merged.setdefault(key, item)
            for key, item in frame.value.items():
                merged[key] = item
            frame.value.clear()
            frame.value.update(merged)
        return frame.value, frame.size, frame.depth

    def add(value: Any, size: int, depth: int, tag: str | None, text: Any, mark: Any, anchor: str | None) -> None:
        nonlocal result
        if anchor is not None:
            anchors[anchor] = (value, size, depth, tag, text)
        if not stack:
            result = value
            return
        parent = stack[-1]
        parent.size += size
        if depth + 1 > parent.depth:
            parent.depth = depth + 1
        if not parent.is_map:
            parent.value.append(value)
            return
        if not parent.has_key:
            if isinstance(value, (list, dict)):
                raise ConstructorError("while constructing a mapping", parent.mark, "found unhashable key", mark)
            parent.key, parent.key_tag, parent.key_mark, parent.has_key = text, tag, mark, True
            parent.key_value = value
            return
        parent.has_key = False
        key = parent.key_value
        if parent.key_tag == _MERGE:
            _merge(parent, value, mark)
            return
        if parent.key_tag is not None:  # an explicit scalar key: once per mapping
            seen = (parent.key_tag, parent.key)
            first = parent.seen.get(seen)  # type: ignore[union-attr]
            if first is not None:
                raise limit_error(None, None, f"duplicate key '{_escaped(parent.key)}' at {where(parent.key_mark)} "
                                  f"(first at {where(first)}); a key may appear once in a mapping", parent.key_mark)
            parent.seen[seen] = parent.key_mark  # type: ignore[index]
        parent.value[key] = value

    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            count += 1
            if count > max_nodes:
                raise limit_error(None, None, too_many(event.start_mark), event.start_mark)
            if len(stack) + 1 > max_depth:
                raise limit_error(None, None, f"the YAML nests deeper than {max_depth} levels (at "
                                  f"{where(event.start_mark)})", event.start_mark)
            tag, value = scalar(event)
            anchor = event.anchor
            if anchor is not None:
                _define(anchors, anchor, event)
            add(value, 1, 1, tag, event.value, event.start_mark, anchor)
            if not stack:
                return result
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            count += 1
            if count > max_nodes:
                raise limit_error(None, None, too_many(event.start_mark), event.start_mark)
            is_map = kind is MappingStartEvent
            collection_tag(event, MappingNode if is_map else SequenceNode, _MAP if is_map else _SEQ)
            if stack and stack[-1].is_map and not stack[-1].has_key:
                raise ConstructorError("while constructing a mapping", stack[-1].mark, "found unhashable key",
                                       event.start_mark)
            if len(stack) + 1 > max_depth:
                raise limit_error(None, None, f"the YAML nests deeper than {max_depth} levels (at "
                                  f"{where(event.start_mark)})", event.start_mark)
            if event.anchor is not None:
                _define(anchors, event.anchor, event)
            stack.append(_Frame({} if is_map else [], is_map, event.anchor, event.start_mark))
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            frame = stack.pop()
            value, size, depth = finish(frame)
            add(value, size, depth, None, None, frame.mark, frame.anchor)
            if not stack:
                return result
        elif kind is AliasEvent:
            count += 1
            if count > max_nodes:
                raise limit_error(None, None, too_many(event.start_mark), event.start_mark)
            if event.anchor not in anchors:
                raise ComposerError(None, None, f"found undefined alias '{_escaped(event.anchor)}'", event.start_mark)
            known = anchors[event.anchor]
            if len(known) == 1:
                raise limit_error(None, None, f"a recursive alias: the node at {where(known[0])} contains "
                                  "itself", known[0])
            value, size, depth, tag, text = known
            if len(stack) + depth > max_depth:
                raise limit_error(None, None, f"the YAML nests deeper than {max_depth} levels (at "
                                  f"{where(event.start_mark)})", event.start_mark)
            add(value, size, depth, tag, text, event.start_mark, None)
        else:
            raise ComposerError(None, None, f"unexpected {kind.__name__}", event.start_mark)


def _merge(parent: _Frame, value: Any, mark: Any) -> None:
    """`<<: *base` or `<<: [*a, *b]`: keys the mapping does not set itself (the first source wins)."""
    sources = value if isinstance(value, list) else [value]
    if not all(isinstance(source, dict) for source in sources):
        raise ConstructorError("while constructing a mapping", parent.mark,
                               "expected a mapping or list of mappings for merging", mark)
    if parent.merges is None:
        parent.merges = []
    parent.merges.extend(sources)


def _define(anchors: dict[str, Any], anchor: str, event: Any) -> None:
    if anchor in anchors:
        raise ComposerError("found duplicate anchor %r; first occurrence" % anchor, None,
                            "second occurrence", event.start_mark)
    anchors[anchor] = (event.start_mark,)


def _escaped(text: Any) -> str:
    from .errors import escape
    return escape(str(text), 60)
