"""YAML <-> Net. The only module that knows the spec format; always a safe loader.

    name: tiny
    input: [3, 32, 32]
    blocks:                       # optional: a block defined once, instantiated by `type:`
      conv_relu:
        params: [width]
        type: sequential
        layers: [{name: conv, type: conv, out: $width, kernel: 3, padding: 1}, {name: relu, type: relu}]
    layers:
      - {name: stem, type: conv_relu, width: 16}
      - {name: pool, type: maxpool, kernel: 2}
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import yaml

from .errors import CnnCostError, SpecError
from .layers import LAYER_TYPES, Block, Concat, Node
from .layers.base import suggest
from .net import Net
from .shapes import parse_shape

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOP_LEVEL = ("name", "input", "layers", "notes", "blocks", "outputs")
_NODE_LIST_FIELDS = ("layers", "shortcut")
_MAX_TEMPLATE_NESTING = 32
_MAX_DEPTH = 200  # blocks inside blocks; real networks nest fewer than 10 deep
YAML_KEYS = {"inputs": "from"}  # Python field -> YAML key, where `from` is a Python keyword


def load_spec(path: str | os.PathLike[str], source: str | None = None, *, max_bytes: int | None = None,
              max_nodes: int | None = None, input: Any = None) -> Net:
    """Read a YAML spec file (`-`: stdin) into a Net; every error names the file (or `source`) and
    the layer. Only a regular UTF-8 file below `max_bytes` is read (see `cnncost.reading`).
    `input` (a shape, e.g. from --input) supplies the input size of a spec that has no `input:`;
    a spec's own `input:` stays its default (the commands then apply --input to it)."""
    from .reading import read_spec_text
    name = os.fspath(path) if isinstance(path, os.PathLike) else path
    source = source or ("<stdin>" if name == "-" and not isinstance(path, os.PathLike) else str(name))
    text = read_spec_text(path, source, max_bytes=max_bytes)
    return parse_spec(text, source, max_nodes=max_nodes, input=input)


def parse_spec(text: str, source: str = "<spec>", *, max_nodes: int | None = None, input: Any = None) -> Net:
    """A Net from YAML text, through the plain-data loader of `cnncost.safe_yaml` (no duplicate
    keys, aliases expanded to at most `max_nodes` nodes, no tags but the plain ones). `input`:
    the input size when the text has no `input:` key."""
    from .safe_yaml import load_yaml
    document = load_yaml(text, source, max_nodes=max_nodes)
    try:
        return _net_from_dict(document, source, input)
    except CnnCostError as error:
        raise error.at(source=source) from None


MISSING_INPUT = ("missing top-level key 'input': give the input size in the spec (input: [3, 224, 224]) "
                 "or with --input CxHxW (input= in Python)")


def _net_from_dict(document: Any, source: str, input: Any = None) -> Net:
    if not isinstance(document, dict):
        raise SpecError("a spec must be a mapping with keys name, input, layers")
    unknown = [k for k in document if k not in _TOP_LEVEL]
    if unknown:
        raise SpecError(f"unknown top-level key '{unknown[0]}'" + suggest(str(unknown[0]), _TOP_LEVEL))
    _move_input_layer(document)
    for key in ("name", "layers"):
        if key not in document:
            raise SpecError(f"missing top-level key '{key}'")
    if "input" not in document:
        if input is None:
            raise SpecError(MISSING_INPUT)
        document = {**document, "input": _given_input(input)}
    templates = document.get("blocks") or {}
    if not isinstance(templates, dict):
        raise SpecError("'blocks' must map block names to definitions")
    clash = [name for name in templates if name in LAYER_TYPES]
    if clash:
        raise SpecError(f"block '{clash[0]}' has the name of a built-in layer type; rename it")
    converter = _Converter(templates)
    converter.check_size(document["layers"])
    layers = converter.node_list(document["layers"], "")
    outputs = document.get("outputs") or ()
    if isinstance(outputs, str):
        outputs = (outputs,)
    if not isinstance(outputs, (list, tuple)) or not all(isinstance(o, str) for o in outputs):
        raise SpecError(f"outputs must be a list of layer names, got {_short(outputs)}")
    return Net(str(document["name"]), _parse_input(document["input"]), layers,
               notes=str(document.get("notes") or ""), source=source, outputs=tuple(outputs))


def _move_input_layer(document: dict[str, Any]) -> None:
    """Accept the input as a first layer, `{type: input, shape: [3, 224, 224]}`, as well as a key."""
    layers = document.get("layers")
    if not isinstance(layers, list):
        return
    positions = [i for i, item in enumerate(layers) if isinstance(item, dict) and item.get("type") == "input"]
    if not positions:
        return
    if positions != [0] or "input" in document:
        raise SpecError("an input layer must be the first layer, and replaces the top-level 'input' key",
                        path=str(layers[positions[-1]].get("name", "input")), type_name="input")
    item = layers[0]
    unknown = [k for k in item if k not in ("name", "type", "shape")]
    if unknown or "shape" not in item:
        raise SpecError("an input layer takes only 'shape' (and 'name'), e.g. {type: input, shape: [3, 224, 224]}",
                        path=str(item.get("name", "input")), type_name="input")
    document["input"], document["layers"] = item["shape"], layers[1:]


def _given_input(value: Any) -> Any:
    """--input's shape (a tuple or '3x224x224') as the spec's `input:` value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)):
        return list(value)
    raise SpecError(f"input must be a shape like (3, 224, 224) or '3x224x224', got {_short(value)}")


def _parse_input(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            return parse_shape(value)
        except ValueError as error:
            raise SpecError(f"input: {error}") from None
    if not isinstance(value, list):
        raise SpecError(f"input must be a list like [3, 224, 224], got {_short(value)}")
    return tuple(value)


class _Converter:
    def __init__(self, templates: dict[str, Any], max_nodes: int | None = None) -> None:
        from .graph import DEFAULT_MAX_NODES
        self.templates = templates
        self.nesting = 0       # template instantiations open
        self.depth = 0         # blocks open
        self.created = 0
        self.max_nodes = max_nodes or DEFAULT_MAX_NODES
        self.shared: dict[int, tuple[Any, Node]] = {}  # a YAML alias converts once and stays shared

    def check_size(self, layers: Any) -> None:
        """Refuse, before building anything, a file whose templates expand into too many layers
        (each template's size is counted once, so a 1 KB file cannot take minutes to refuse)."""
        sizes: dict[str, int] = {}

        def size_of(value: Any, open_templates: tuple[str, ...]) -> int:
            if isinstance(value, list):
                return sum(size_of(v, open_templates) for v in value)
            if not isinstance(value, dict):
                return 0
            kind = value.get("type")
            if isinstance(kind, str) and kind in self.templates:
                if kind in open_templates:
                    raise SpecError(f"block '{kind}' expands into itself")
                if kind not in sizes:
                    body = self.templates[kind]
                    sizes[kind] = size_of({k: v for k, v in body.items() if k not in ("params", "type")}
                                          if isinstance(body, dict) else None, open_templates + (kind,))
                total = sizes[kind]
            else:
                total = 1
            for key in ("layers", "shortcut", "branches"):
                if key in value and not (isinstance(kind, str) and kind in self.templates):
                    total += size_of(value[key], open_templates)
            return min(total, 10 * self.max_nodes)  # no need to count further

        if size_of(layers, ()) > self.max_nodes:
            raise SpecError(f"the spec expands to more than {self.max_nodes:,} layers (templates count every "
                            "copy); raise the cap with --max-nodes if it is real")

    def node(self, item: Any, parent: str, index: int) -> Node:
        """One layer or block; nesting is capped (far beyond any real network) and so is the number
        of layers a file may expand into."""
        if self.nesting == 0 and id(item) in self.shared:
            return self.shared[id(item)][1]
        self.depth += 1
        self.created += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise SpecError(f"blocks are nested more than {_MAX_DEPTH} deep", path=parent or None)
            if self.created > self.max_nodes:
                raise SpecError(f"the spec expands to more than {self.max_nodes:,} layers (templates count "
                                "every copy); raise the cap with --max-nodes if it is real", path=parent or None)
            node = self._node(item, parent, index)
        finally:
            self.depth -= 1
        if self.nesting == 0 and isinstance(item, dict):
            self.shared[id(item)] = (item, node)  # keeps `item` alive, so its id stays unique
        return node

    def node_list(self, items: Any, parent: str) -> tuple[Node, ...]:
        if not isinstance(items, list):
            raise SpecError(f"expected a list of layers, got {_short(items)}", path=parent or None)
        return tuple(self.node(item, parent, i) for i, item in enumerate(items))

    def _node(self, item: Any, parent: str, index: int) -> Node:
        if not isinstance(item, dict):
            raise SpecError(f"layer {index} must be a mapping like {{type: conv, ...}}, got {_short(item)}",
                            path=parent or None)
        type_name = item.get("type")
        label = item.get("name") if isinstance(item.get("name"), str) else f"{type_name}{index}"
        path = f"{parent}.{label}" if parent else str(label)
        if type_name is None:
            raise SpecError("missing field 'type'", path=path)
        if not isinstance(type_name, str):
            raise SpecError(f"field 'type' must be a string, got {_short(type_name)}", path=path)
        if type_name in self.templates:
            return self._instantiate(item, path, parent, index)
        cls = LAYER_TYPES.get(type_name)
        if cls is None:
            raise SpecError(f"unknown layer type '{type_name}'"
                            + suggest(str(type_name), list(LAYER_TYPES) + list(self.templates)), path=path)
        fields = dict(item)
        fields.pop("type")
        allowed = [YAML_KEYS.get(f, f) for f in cls.field_names()]
        for key in fields:
            if key not in allowed:
                raise SpecError(f"unknown field '{key}' for {type_name}" + suggest(str(key), allowed),
                                path=path, type_name=type_name)
        if "from" in fields:
            fields["inputs"] = fields.pop("from")
        missing = [key for key in cls.required_fields() if key not in fields]
        if missing:
            raise SpecError(f"missing field '{missing[0]}'", path=path, type_name=type_name)
        if issubclass(cls, Block):
            for key in _NODE_LIST_FIELDS:
                if fields.get(key) is not None:
                    fields[key] = self.node_list(fields[key], path)
            if cls is Concat and "branches" in fields:
                fields["branches"] = self._branches(fields["branches"], path)
        try:
            return cls(**fields)
        except CnnCostError as error:
            error.path = path
            raise error.at(type_name=type_name) from None

    def _branches(self, branches: Any, path: str) -> tuple[Node, ...]:
        if not isinstance(branches, list):
            raise SpecError("branches must be a list of branches (each a list of layers)", path=path)
        out: list[Any] = []
        for i, branch in enumerate(branches):
            if isinstance(branch, list):
                out.append(self.node_list(branch, f"{path}.branch{i + 1}"))
            else:
                out.append(self.node(branch, path, i))
        return tuple(out)

    def _instantiate(self, item: dict[str, Any], path: str, parent: str, index: int) -> Node:
        template = self.templates[item["type"]]
        if not isinstance(template, dict) or "type" not in template:
            raise SpecError(f"block '{item['type']}' must be a mapping with a 'type'")
        params = template.get("params") or []
        if not isinstance(params, (list, dict)) or not all(isinstance(p, str) for p in params):
            raise SpecError(f"block '{item['type']}': params must be a list of names or a mapping of "
                            f"names to defaults, got {_short(params)}", path=path)
        defaults = params if isinstance(params, dict) else {p: None for p in params}
        given = {k: v for k, v in item.items() if k not in ("name", "type", "from")}  # any block takes from:
        for key in given:
            if key not in defaults:
                raise SpecError(f"unknown parameter '{key}' for block {item['type']}"
                                + suggest(str(key), defaults), path=path)
        values = {**{k: v for k, v in defaults.items() if v is not None}, **given}
        missing = [k for k in defaults if k not in values]
        if missing:
            raise SpecError(f"missing parameter '{missing[0]}' of block {item['type']}", path=path)
        self.nesting += 1
        if self.nesting > _MAX_TEMPLATE_NESTING:
            raise SpecError(f"block '{item['type']}' expands into itself", path=path)
        try:
            body = {k: v for k, v in template.items() if k != "params"}
            body = _substitute(body, values, path)
            for key in ("name", "from"):
                if key in item:
                    body[key] = item[key]
            return self.node(body, parent, index)
        finally:
            self.nesting -= 1


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _substitute(value: Any, values: dict[str, Any], path: str) -> Any:
    """Replace every string '$p' by parameter p's value: whole values only, never an expression."""
    if isinstance(value, str) and value.startswith("$"):
        if value[1:] not in values:
            raise SpecError(f"'{value}' names no parameter" + suggest(value[1:], values), path=path)
        return values[value[1:]]
    if isinstance(value, list):
        return [_substitute(v, values, path) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, values, path) for k, v in value.items()}
    return value


# --- dumping ---

class _Flow(dict):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # a shared tuple is written out again, never as &id001
        return True


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))
_Dumper.add_representer(tuple, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True))


def dump_spec(net: Net) -> str:
    """YAML text that `parse_spec` reads back into an equal Net."""
    document: dict[str, Any] = {"name": net.name, "input": tuple(net.input)}
    if net.notes:
        document["notes"] = net.notes
    document["layers"] = [node_to_dict(node) for node in net.layers]
    if net.outputs:
        document["outputs"] = tuple(net.outputs)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1 << 16, allow_unicode=True)


def node_to_dict(node: Node) -> dict[str, Any]:
    """Fields that differ from their defaults, with the name and type first."""
    out: dict[str, Any] = {}
    if node.name is not None:
        out["name"] = node.name
    out["type"] = node.type_name
    nested = False
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if field.name == "name" or (field.default is not dataclasses.MISSING and value == field.default):
            continue
        if field.name in _NODE_LIST_FIELDS and value is not None:
            value, nested = [node_to_dict(child) for child in value], True
        elif field.name == "branches":
            value, nested = [_branch_to_yaml(branch, i) for i, branch in enumerate(value)], True
        out[YAML_KEYS.get(field.name, field.name)] = value
    return out if nested else _Flow(out)


def _branch_to_yaml(branch: Node, index: int) -> Any:
    from .layers import Sequential
    if isinstance(branch, Sequential) and branch.name == f"branch{index + 1}":
        return [node_to_dict(child) for child in branch.layers]
    return node_to_dict(branch)

