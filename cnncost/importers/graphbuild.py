"""Builds a Net from a stream of leaves whose names are module paths (shared by the torch and ONNX
importers).

Each leaf is emitted with the chain of module scopes it ran in; the builder keeps one nested
`Sequential` block per module call, so a row's path is its module's path (`layer1.0.conv1`). A
module called again opens a second block (`b@1`), a leaf module called again in one scope is
`relu@1`, a functional op is named after the op (`add`, `concat`, `add_1`...). Strip every `@k` to
get the torch module path (`module_path`). A block that computes one functional op and nothing
else (torchvision's LayerNorm2d, a custom conv) becomes that leaf, at the block's path.

Edges: at the end every leaf gets `inputs` spelled so that the compiler's lexical lookup finds the
intended node (the shortest such name), or none where it reads the previous node of its chain.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Hashable, cast

from ..errors import CnnCostError
from ..layers import Concat, ConcatMerge, Layer, Sequential
from ..net import Net
from ..shapes import Shape

_CALL = re.compile(r"@\d+")


def module_path(path: str) -> str:
    """The torch module path of a row: call suffixes (`@1`) removed."""
    return _CALL.sub("", path)


@dataclass(eq=False)
class Leaf:
    index: int
    name: str
    block: "Block"
    layer: Layer
    inputs: list[int]
    shape: Shape            # cnncost output shape, as tracing measured it
    functional: bool = False
    shared_of: int | None = None  # leaf index whose parameters this call reuses

    @property
    def path(self) -> str:
        return f"{self.block.path}.{self.name}" if self.block.path else self.name


@dataclass(eq=False)
class Block:
    name: str
    parent: "Block | None"
    key: Hashable
    reserved: frozenset[str] = frozenset()
    is_call: bool = True
    children: list[Any] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    @functools.cached_property
    def path(self) -> str:  # a block keeps its name and parent: computed once (leaves ask it thousands of times)
        if self.parent is None:
            return ""
        return f"{self.parent.path}.{self.name}" if self.parent.path else self.name


@dataclass
class TV:
    """A tensor of the graph being built: the leaf that made it (0: the input), its torch shape per
    sample, and how the torch tensor relates to the cnncost one: `std` (the same), `nhwc` (a
    permute to channels-last), `grouped` / `grouped_t` (a channel shuffle in progress: viewed as
    (g, C/g, H, W), then transposed), `regrouped` (a shuffle's output still seen as (C/g, g, H, W)).
    `scale`: a pending multiplication by a constant (folded into the add that reads it).
    `batch`: where the batch dim sits in the torch tensor (a permute moved it: timm's qkv
    `.permute(2, 0, 3, 1, 4)`); `shape` is still per sample, the batch left out.
    `folded`: the batch is folded into torch dim `batch` as its outermost factor (Swin's windows,
    (N*nW, ws*ws, C)): `shape` then has the torch tensor's rank, that dim's size over N (nW), and
    torch dim t is per-sample dim t."""

    leaf: int
    shape: Shape
    form: str = "std"
    groups: int = 1
    scale: float | None = None
    batch: int = 0
    folded: bool = False


def channels_first(shape: Shape, form: str) -> Shape:
    """A torch shape per sample in layout `form` as cnncost's (C, H, W)."""
    if form == "nhwc":
        h, w, c = shape
        return (c, h, w)
    if form in ("grouped", "grouped_t", "regrouped"):
        a, b, h, w = shape
        return (a * b, h, w)
    return tuple(shape)


class Unsupported(Exception):
    """A mapping that does not apply; the importer turns it into an error or an opaque node."""


def plain(v: Any, forms: tuple[str, ...] = ("std",), what: str = "") -> TV:
    """v as a tensor in one of `forms` with no pending scale, else Unsupported (`what`: the reader)."""
    reader = f"{what} " if what else ""
    if not isinstance(v, TV):
        raise Unsupported(f"{reader}reads a {type(v).__name__}")
    if v.scale is not None:
        raise Unsupported("a multiplication by a constant that no add reads")
    if v.batch:
        raise Unsupported(f"{reader}reads a tensor whose batch is dim {v.batch}, not the first")
    if v.form not in forms:
        raise Unsupported(f"{reader}reads a tensor in {v.form} layout")
    return v


@dataclass(frozen=True)
class Scope:
    """One enclosing module: `key` identifies the call (a new key: a new block), `name` the path
    component, `reserved` the names of that module's children (functional ops avoid them)."""

    key: Hashable
    name: str
    reserved: frozenset[str] = frozenset()
    is_call: bool = True


class GraphBuilder:
    def __init__(self, name: str, input_shape: Shape, more_inputs: tuple[tuple[str, Shape], ...] = (),
                 input_name: str = "input") -> None:
        self.name, self.input_shape = name, tuple(input_shape)
        # several inputs: the first is leaf 0, further input k (1, 2...) is leaf -k (`input_leaf`)
        self.input_name, self.more_inputs = input_name, tuple((n, tuple(s)) for n, s in more_inputs)
        self.input_names = {"input": 0, input_name: 0, **{n: -k for k, (n, _) in enumerate(self.more_inputs, 1)}}
        self.root = Block("", None, ("root",))
        self.open: list[Block] = [self.root]
        self.leaves: list[Leaf | None] = [None]  # index 0: the net input
        self.shapes: list[Shape] = [self.input_shape]

    def cnncost_shape(self, v: TV) -> Shape:
        """v's shape in cnncost's channels-first terms: a tensor in another layout (channels-last, a
        shuffle in progress) is a view of its leaf, whose shape the builder keeps."""
        return self.shapes[v.leaf] if v.form != "std" else v.shape

    def leaf(self, index: int) -> Leaf:
        """The leaf an emitted value names (index > 0; 0 is the net input, which has none)."""
        return cast(Leaf, self.leaves[index])

    # --- emission ---

    def emit(self, scopes: list[Scope], name: str, layer: Layer, inputs: list[int], shape: Shape, *,
             functional: bool, shared_of: int | None = None) -> int:
        block = self._enter(scopes)
        if functional:
            final, k = name, 0
            while final in block.used or final in block.reserved or final in self.input_names:
                k += 1
                final = f"{name}_{k}"
        else:
            final, k = name, 0
            while final in block.used or final in self.input_names:
                k += 1
                final = f"{name}@{k}"
        block.used.add(final)
        leaf = Leaf(len(self.leaves), final, block, layer, list(inputs), tuple(shape), functional, shared_of)
        block.children.append(leaf)
        self.leaves.append(leaf)
        self.shapes.append(tuple(shape))
        return leaf.index

    def _enter(self, scopes: list[Scope]) -> Block:
        depth = 0
        while depth < len(scopes) and depth + 1 < len(self.open) and self.open[depth + 1].key == scopes[depth].key:
            depth += 1
        while len(self.open) > depth + 1:
            self._close()
        for scope in scopes[depth:]:
            parent = self.open[-1]
            final, k = scope.name, 0
            while final in parent.used or final in self.input_names:
                k += 1
                final = f"{scope.name}@{k}"
            parent.used.add(final)
            block = Block(final, parent, scope.key, scope.reserved, scope.is_call)
            parent.children.append(block)
            self.open.append(block)
        return self.open[-1]

    def _close(self) -> None:
        block = self.open.pop()
        parent = block.parent
        assert parent is not None
        if not block.children:
            parent.children.remove(block)
            return
        only = block.children[0]
        if block.is_call and len(block.children) == 1 and isinstance(only, Leaf) and only.functional:
            only.name, only.block = block.name, parent  # the module is this one op: its path
            parent.children[parent.children.index(block)] = only

    # --- the Net ---

    def finish(self, outputs: list[int], notes: str = "") -> Net:
        while len(self.open) > 1:
            self._close()
        names = self._names()
        self._unshadow(names)
        names = self._names()
        layers = self._build(self.root, 0, names)[0]
        out_paths = []
        for i in outputs:  # in the module's order: an input it returns is an output too (issue 19)
            path = self._spell(i, "", names) if i <= 0 else self.leaves[i].path  # type: ignore[union-attr]
            if path not in out_paths:
                out_paths.append(path)
        inputs: Any = self.input_shape
        if self.more_inputs:
            inputs = {self.input_name: self.input_shape, **dict(self.more_inputs)}
        return Net(self.name, inputs, tuple(layers), notes=notes, outputs=tuple(out_paths))

    def _names(self) -> dict[str, Any]:
        names: dict[str, Any] = dict(self.input_names)
        for leaf in self.leaves[1:]:
            assert leaf is not None
            names[leaf.path] = leaf.index
        self._block_paths(self.root, names)
        return names

    def _unshadow(self, names: dict[str, Any]) -> None:
        """A node that no name reaches from where it is read (an inner block holds a node of the
        same relative path, as timm's blocks.0.0.bn1.act hides bn1.act) gets an identity alias
        right after it, under a name nothing hides; its readers read the alias."""
        from ..layers import Identity
        aliases: dict[int, int] = {}
        for leaf in list(self.leaves[1:]):
            assert leaf is not None
            for k, i in enumerate(leaf.inputs):
                if i <= 0 or self._spellable(i, leaf.block.path, names):
                    continue
                if i not in aliases:
                    target = self.leaves[i]
                    assert target is not None
                    name, n = f"{target.name}_ref", 0
                    while name in target.block.used:
                        n += 1
                        name = f"{target.name}_ref{n}"
                    target.block.used.add(name)
                    alias = Leaf(len(self.leaves), name, target.block, Identity(), [i], target.shape)
                    self.leaves.append(alias)
                    self.shapes.append(target.shape)
                    siblings = target.block.children
                    siblings.insert(siblings.index(target) + 1, alias)
                    names[alias.path] = alias.index
                    aliases[i] = alias.index
                leaf.inputs[k] = aliases[i]

    def _spellable(self, index: int, scope: str, names: dict[str, Any]) -> bool:
        try:
            self._spell(index, scope, names)
            return True
        except CnnCostError:
            return False

    def _block_paths(self, block: Block, names: dict[str, Any]) -> None:
        for child in block.children:
            if isinstance(child, Block):
                names[child.path] = child
                self._block_paths(child, names)

    def _build(self, block: Block, chain: int, names: dict[str, Any]) -> tuple[list[Any], int]:
        """The nodes of `block` whose first child reads `chain`; and the block's output leaf."""
        nodes: list[Any] = []
        for child in block.children:
            if isinstance(child, Block):
                inner, chain = self._build(child, chain, names)
                nodes.append(Sequential(name=child.name, layers=tuple(inner)))
                continue
            layer = child.layer
            if child.shared_of is not None:
                from ..layers.imported import Shared, layer_fields
                layer = Shared(name=child.name, of=self.leaves[child.shared_of].path,
                               layer=layer_fields(layer))
            multi = getattr(layer, "arity", 1) is None or isinstance(layer, (ConcatMerge, Concat))
            if not multi and child.inputs == [chain]:
                spelled = None
            else:
                spelled = tuple(self._spell(i, block.path, names) for i in child.inputs)
            if isinstance(layer, ConcatMerge):
                layer = Concat(name=child.name, inputs=spelled, dim=layer.dim)
            else:
                layer = layer.placed(child.name, spelled)  # validated when the handler made it
            nodes.append(layer)
            chain = child.index
        return nodes, chain

    def _spell(self, index: int, scope: str, names: dict[str, Any]) -> str:
        if index <= 0:
            return "input" if index == 0 else self.more_inputs[-index - 1][0]
        target = self.leaves[index].path  # type: ignore[union-attr]
        parts = target.split(".")
        for k in range(len(parts) - 1, -1, -1):
            candidate = ".".join(parts[k:])
            if self._resolve(candidate, scope, names) == target:
                return candidate
        raise CnnCostError(f"internal: cannot name '{target}' from inside '{scope}' (shadowed)")

    @staticmethod
    def _resolve(name: str, scope: str, names: dict[str, Any]) -> str | None:
        while True:
            path = f"{scope}.{name}" if scope else name
            if path in names:
                return path
            if not scope:
                return None
            scope = scope.rpartition(".")[0]
