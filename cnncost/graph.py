"""The compiled graph: a Net lowered once into a flat, topologically ordered list of nodes, each
with its inputs, shapes and exact per-sample counts. Every consumer (the cost table, the autograd
memory model, the torch builder) walks this list; nothing walks the spec's tree again.

Compiling is iterative: blocks lower through generators (`Block.lower`) on an explicit stack,
so nesting depth is bounded by memory, not by Python's recursion limit. The total number of
nodes is capped (`max_nodes`), so a small file cannot expand into billions of nodes.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Generator

from .errors import CnnCostError, SpecError
from .layers.base import Block, Layer, Merge, Node, Ref, Visit
from .layers.strides import Layout, contiguous
from .net import Net, child_name, note_warnings
from .shapes import Shape, numel

DEFAULT_MAX_NODES = 250_000  # real networks have up to ~10^4 nodes (regnet-y-128gf: about 1,000)


@dataclass(slots=True)  # not frozen: a frozen __init__ costs more than the rest of compiling; read-only by convention
class GraphNode:
    """One node, per sample. `activations` counts elements of the tensor it allocates (0 for
    views and in-place ops); `inputs` are the indices of the nodes it reads (node 0: the input)."""

    path: str
    type: str
    attrs: str
    input_shape: Shape
    output_shape: Shape
    activations: int
    params: int
    macs: int
    tabulated: bool = True  # False: the lecture's tables fold this layer into the row before it
    inputs: tuple[int, ...] = ()
    input_shapes: tuple[Shape, ...] = ()
    layer: Layer | None = field(default=None, compare=False, repr=False)

    @property
    def depth(self) -> int:
        return self.path.count(".")

    def macs_at(self, batch: int) -> int:
        """MACs of a forward at `batch`: per sample x batch, plus what the layer does once per
        forward whatever the batch (`Layer.macs_per_forward`)."""
        return self.macs * batch + (self.layer.macs_per_forward() if self.layer is not None else 0)


@dataclass(slots=True)
class BlockSpan:
    """A block and the nodes `first:stop` it lowered into."""

    path: str
    type: str
    input_shape: Shape
    output_shape: Shape
    first: int
    stop: int
    grouping: bool = True  # False for multi-branch modules (concat, residual, gate)
    checkpoint: bool = False  # the spec marks it `checkpoint: true` (activation checkpointing)

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass(frozen=True)
class Graph:
    """A compiled net. `nodes[0]` is the (first) input; `inputs` are the input nodes' indices:
    (0,), or with several inputs 0 and the `Input` nodes right after it (0, 1, ...). `outputs` are
    node indices, the main output first, then every other node that no node reads (auxiliary
    heads), in order."""

    name: str
    nodes: tuple[GraphNode, ...]
    blocks: tuple[BlockSpan, ...]
    outputs: tuple[int, ...]
    source: str = ""
    inputs: tuple[int, ...] = (0,)
    notes: str = field(default="", compare=False)  # the net's (`Net.warnings` reads the importers' warnings)
    # What the passes computed from this graph, by kind, each a pure function of the graph and its
    # arguments: "memory traces" (per precision), "backward per mac" (per frozen-layer mask).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def output_shape(self) -> Shape:
        return self.nodes[self.outputs[0]].output_shape

    @property
    def input_shapes(self) -> tuple[Shape, ...]:
        """Every input's per-sample shape, the first first."""
        return tuple(self.nodes[i].output_shape for i in self.inputs)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What an importer warned about in the net's notes (`Net.warnings`)."""
        return note_warnings(self.notes)


def compile(net: Net, input: Shape | None = None, *, max_nodes: int = DEFAULT_MAX_NODES) -> Graph:
    """The graph of `net` (at another input size if given); cached on the Net, so each (net, input)
    compiles once.

    >>> from cnncost import Net, Conv, ReLU
    >>> g = compile(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU()]))
    >>> [(n.path, n.output_shape, n.inputs) for n in g.nodes]
    [('input', (3, 8, 8), ()), ('conv0', (4, 6, 6), (0,)), ('relu1', (4, 6, 6), (1,))]
    """
    named = net.named_inputs if input is None else net.with_input(input).named_inputs  # validates
    key = (named, max_nodes)
    cache = net.memo.setdefault("graphs", {})
    graph = cache.get(key)
    if graph is None:
        if _expanded_size(net.layers, max_nodes) > max_nodes:  # refuse in microseconds, not after minutes
            raise SpecError(f"the network expands to more than {max_nodes:,} nodes (repeats and templates "
                            "count every copy); raise the cap with --max-nodes if it is real",
                            source=net.source or None)
        graph = _Compiler(net, max_nodes).run(named)
        if len(cache) > 64:
            cache.clear()
        cache[key] = graph
    return graph


@dataclass(slots=True)
class _Frame:
    """A block being lowered: its generator, where its nodes start, and its child counter."""

    path: str
    block: Block | None  # None: the net's top-level list
    lowering: Any
    first: int
    x: Ref
    children: int = 0


class _Compiler:
    def __init__(self, net: Net, max_nodes: int) -> None:
        self.net, self.max_nodes = net, max_nodes
        self.source = net.source or None
        self.nodes: list[GraphNode] = []
        self.blocks: list[BlockSpan] = []
        self.produced: dict[str, Ref] = {}  # path -> the tensor it names (a block: its output)
        self.open_blocks: set[str] = set()  # blocks being lowered: their output is not known yet
        self.layouts: dict[int, Layout] = {}  # node -> its output's strides, where not those of a new tensor
        self.dense: dict[Shape, Layout] = {}  # shape -> the layout of a new tensor of it

    def run(self, inputs: tuple[tuple[str, Shape], ...]) -> Graph:
        (name, shape), *more = inputs
        x = self._add(GraphNode(name, "input", "", shape, shape, numel(shape), 0, 0))
        self.produced[name] = self.produced["input"] = x  # `from: input` is the first input, whatever its name
        if more:
            from .layers.inputs import Input  # its module loads where a net has several inputs
        for name, shape in more:  # each further input: an Input node, so every pass has a rule for it
            if name in self.produced:
                raise SpecError(f"an input is named '{name}', which names the first input too", source=self.source)
            layer = Input(shape=shape)
            self.produced[name] = self._add(GraphNode(name, "input", "", shape, shape, numel(shape), 0, 0,
                                                      layer=layer))
        top = _Frame("", None, _top_level(self.net.layers, x), 1, x)
        stack = [top]
        sent: Ref | None = None
        main: Ref | None = None
        while stack:
            frame = stack[-1]
            try:
                request = frame.lowering.send(sent)
            except StopIteration as done:
                stack.pop()
                sent = done.value
                if frame.block is None:
                    main = sent
                else:
                    self._close_block(frame, sent)
                continue
            except CnnCostError as error:
                raise self._locate(error, frame.path, frame.block) from None
            sent = None
            if isinstance(request, Merge):
                sent = self._merge(frame, request)
            else:
                sent = self._visit(frame, request, stack)
        assert main is not None
        outputs = self._outputs(main, len(inputs))
        _refuse_inplace_on_split_views(self.nodes, outputs, self.source)
        return Graph(self.net.name, tuple(self.nodes), tuple(self.blocks), outputs, self.net.source,
                     tuple(range(len(inputs))), self.net.notes)

    # --- nodes ---

    def _add(self, node: GraphNode) -> Ref:
        if len(self.nodes) >= self.max_nodes:
            raise SpecError(f"the network expands to more than {self.max_nodes:,} nodes (repeats and "
                            "templates count every copy); raise the cap with --max-nodes if it is real",
                            path=node.path, source=self.source)
        self.nodes.append(node)
        return Ref(len(self.nodes) - 1, node.output_shape)

    def _name(self, frame: _Frame, node: Node, name: str | None) -> str:
        if name is None:
            name = child_name(node, frame.children)
        frame.children += 1
        path = f"{frame.path}.{name}" if frame.path else name
        if path in self.produced:
            raise CnnCostError("two layers have this name; names must be unique within a block",
                               path=path, type_name=node.type_name, source=self.source)
        return path

    def _visit(self, frame: _Frame, request: Visit, stack: list[_Frame]) -> Ref | None:
        node, name = request.node, request.name
        if name is None:
            name = node.name if node.name is not None else f"{node.type_name}{frame.children}"
        frame.children += 1
        path = f"{frame.path}.{name}" if frame.path else name
        if path in self.produced:
            raise CnnCostError("two layers have this name; names must be unique within a block",
                               path=path, type_name=node.type_name, source=self.source)
        xs: tuple[Ref, ...] = ()
        try:
            xs = (request.x,) if node.inputs is None else self._inputs(node, request.x, frame.path)
            if isinstance(node, Block):
                leaf = node.leaf_form()
                if leaf is None:
                    self.require_single(node, xs)
                    stack.append(_Frame(path, node, node.lower(xs[0]), len(self.nodes), xs[0]))
                    self.produced[path] = xs[0]  # reserved until the block's output is known
                    self.open_blocks.add(path)
                    return None
                node = leaf
            if not isinstance(node, Layer):
                raise CnnCostError(f"{type(node).__name__} is neither a layer nor a block")
            if node.type_name == "input":
                raise CnnCostError("an input is declared in the net's input (input: a list or a mapping of "
                                   "shapes, or leading input layers), not among its layers")
            ref = self._leaf(node, path, xs)
        except CnnCostError as error:
            if node.inputs is not None and len(xs) > 1:  # say which tensors met
                error.problem += "; from: " + ", ".join(
                    f"{self.nodes[x.index].path} ({'x'.join(map(str, x.shape))})" for x in xs)
                error.shape = None
            raise self._locate(error, path, node) from None
        self.produced[path] = ref
        return ref

    def _leaf(self, layer: Layer, path: str, xs: tuple[Ref, ...], shown_input: Shape | None = None) -> Ref:
        if len(xs) == 1 and layer.arity == 1:  # the common case, kept lean
            x = xs[0].shape
            shapes: tuple[Shape, ...] = (x,)
            y = layer.out_shape(x)
        else:
            shapes = tuple(r.shape for r in xs)
            x = shapes[0]
            if layer.arity is None:
                if len(xs) < layer.min_inputs:
                    layer.fail(f"joins at least {layer.min_inputs} tensors; name them in 'from' (got {len(xs)})", x)
                y = layer.merge_shape(shapes)
            else:
                layer.fail(f"reads {layer.arity} tensor{'s' if layer.arity != 1 else ''}, but 'from' names "
                           f"{len(xs)}", x)
        made = numel(y) if layer.creates_tensor() else self._view(layer, xs[0], y)
        if made and self.layouts and any(r.index in self.layouts for r in xs):
            self._new_layout(layer, xs, y)
        if layer.arity is None:
            params, macs = layer.merge_params(shapes), layer.merge_macs(shapes, y)
        else:
            params, macs = layer.params(x), layer.macs(x, y)
        return self._add(GraphNode(path, layer.type_name, layer.describe_at(x), shown_input or x, y, made,
                                   params, macs, layer.tabulated,
                                   tuple(r.index for r in xs), shapes, layer))

    def _view(self, layer: Layer, x: Ref, y: Shape) -> int:
        """What a layer that makes no tensor of its own allocates: 0 for a view of x (its layout,
        where not contiguous, kept in `layouts` for the views after it), all of y where PyTorch
        must copy (a reshape of a view whose strides allow none: `layers/strides.py`)."""
        layout = self.layouts.get(x.index) or self._contiguous(x.shape)
        out = layer.out_layout(x.shape, y, layout)
        if out is None:
            return numel(y)
        if out is layout and y == x.shape:  # the input's own (an in-place op): kept where it was kept
            if x.index in self.layouts:
                self.layouts[len(self.nodes)] = out
        elif out != self._contiguous(y):
            self.layouts[len(self.nodes)] = out
        return 0

    def _contiguous(self, shape: Shape) -> Layout:
        """The layout of a new tensor of `shape`, made once per shape (in-place ops ask for it often)."""
        layout = self.dense.get(shape)
        if layout is None:
            layout = self.dense[shape] = contiguous(shape)
        return layout

    def _new_layout(self, layer: Layer, xs: tuple[Ref, ...], y: Shape) -> None:
        """A new tensor made from a strided view is not always contiguous (an element-wise op
        follows its input's order, cat the memory format its inputs suggest): kept for the views
        after it."""
        layout = layer.new_layout(tuple(r.shape for r in xs),
                                  [self.layouts.get(r.index) or self._contiguous(r.shape) for r in xs], y)
        if layout is not None and layout != self._contiguous(y):
            self.layouts[len(self.nodes)] = layout

    def _merge(self, frame: _Frame, request: Merge) -> Ref:
        layer = request.layer
        path = f"{frame.path}.{layer.name}"
        if path in self.produced:
            raise CnnCostError(f"a layer inside is named '{layer.name}', the name of this block's "
                               f"{layer.type_name} row; rename it", path=frame.path,
                               type_name=frame.block.type_name if frame.block else None, source=self.source)
        try:
            ref = self._leaf(layer, path, request.xs, shown_input=frame.x.shape)  # a block's row shows its input
        except CnnCostError as error:  # a merge's problem is its block's
            error.path, error.type_name = frame.path or None, None
            raise self._locate(error, frame.path, frame.block) from None
        self.produced[path] = ref
        return ref

    def _close_block(self, frame: _Frame, out: Ref) -> None:
        assert frame.block is not None
        self.produced[frame.path] = out
        self.open_blocks.discard(frame.path)
        self.blocks.append(BlockSpan(frame.path, frame.block.type_name, frame.x.shape, out.shape,
                                     frame.first, len(self.nodes), frame.block.grouping, frame.block.checkpoint))

    @staticmethod
    def require_single(node: Node, xs: tuple[Ref, ...]) -> None:
        if len(xs) != 1:
            raise CnnCostError(f"a {node.type_name} block reads one tensor, but 'from' names {len(xs)}")

    # --- references ---

    def _inputs(self, node: Node, default: Ref, scope: str) -> tuple[Ref, ...]:
        names = node.inputs
        if names is None:
            return (default,)
        return tuple(self._resolve(name, scope) for name in names)

    def _resolve(self, name: str, scope: str) -> Ref:
        """A name seen from inside block `scope`: a sibling first, then outward; `input` is the net input."""
        while True:
            path = f"{scope}.{name}" if scope else name
            ref = self.produced.get(path)
            if ref is not None:
                if path in self.open_blocks:
                    raise CnnCostError(f"'from: {name}' names an enclosing block, whose output is not known "
                                       "yet; name a layer inside it")
                return ref
            if not scope:
                break
            scope = scope.rpartition(".")[0]
        if name in _names_in(self.net):
            raise CnnCostError(f"'from: {name}' names a node that comes later; a node can only read "
                               "earlier nodes")
        close = difflib.get_close_matches(name, [p.rpartition(".")[2] for p in self.produced][-2000:]
                                          + list(self.produced)[-2000:], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise CnnCostError(f"'from: {name}' names no earlier node{hint}")

    def _outputs(self, main: Ref, n_inputs: int) -> tuple[int, ...]:
        declared = [self._resolve(name, "").index for name in self.net.outputs]
        first = declared or [main.index]
        read = bytearray(len(self.nodes))
        for node in self.nodes:
            for i in node.inputs:
                read[i] = 1
        sinks = [i for i in range(n_inputs, len(self.nodes)) if not read[i] and i not in first]
        return tuple(dict.fromkeys(first + sinks))

    def _locate(self, error: CnnCostError, path: str, node: Node | None) -> CnnCostError:
        if error.path is None or (node is not None and error.path == node.name):
            error.path = path or None
        return error.at(type_name=node.type_name if node is not None else None, source=self.source)


def _refuse_inplace_on_split_views(nodes: list[GraphNode], outputs: tuple[int, ...], source: str | None) -> None:
    """PyTorch's rule for the views `chunk` returns (outputs of one split): none of them, nor a view
    of one, may be modified in place, nor may their base be while one is still to be read."""
    if not any(node.type in ("chunk", "split") for node in nodes):
        return
    storage: list[int] = []  # the node whose tensor each node's output lies in
    split_of: list[int | None] = []  # the chunk node whose output this is, or a view of
    last_read = list(range(len(nodes)))
    for i, node in enumerate(nodes):
        for j in node.inputs:
            last_read[j] = i
    for j in outputs:  # the loss reads every output after the whole forward pass
        last_read[j] = len(nodes)
    inplace = [bool(getattr(node.layer, "inplace", False)) for node in nodes]
    for i, node in enumerate(nodes):
        keeps = node.layer is not None and not node.layer.creates_tensor() and bool(node.inputs)
        first = node.inputs[0] if node.inputs else i
        storage.append(storage[first] if keeps else i)
        split_of.append(i if node.type in ("chunk", "split") else split_of[first] if keeps and not inplace[i] else None)
    pending: dict[int, int] = {}  # chunk node -> the last node reading it or a view of it
    for i, node in enumerate(nodes):
        c = split_of[i]
        if c is not None:
            pending[c] = max(pending.get(c, c), last_read[i])
    for i, node in enumerate(nodes):
        if not inplace[i] or not node.inputs:
            continue
        x = node.inputs[0]
        chunk = split_of[x]
        if chunk is not None:
            problem = (f"modifies in place the output of chunk '{nodes[chunk].path}', one of several views "
                       "of one tensor, which PyTorch refuses; use inplace: false")
        else:
            later = [c for c, last in pending.items() if c < i < last and storage[nodes[c].inputs[0]] == storage[x]]
            if not later:
                continue
            problem = (f"modifies in place a tensor that chunk '{nodes[later[0]].path}' splits while that "
                       "chunk is still to be read, which PyTorch refuses; use inplace: false")
        raise SpecError(problem, path=node.path, type_name=node.type, source=source)


def _top_level(layers: tuple[Node, ...], x: Ref) -> Generator[Visit, Ref, Ref]:
    for node in layers:
        x = yield Visit(node, x)
    return x


def _expanded_size(layers: tuple[Node, ...], limit: int) -> int:
    """About how many nodes `layers` lower into (a repeat counts `times` copies; a subtree shared by
    several parents is sized once), without building them; iterative, capped at 2 x limit. Leaves
    count 1 where they are met: only tuples and blocks are visited (the check costs a fraction of
    the compile it guards)."""
    cap = 2 * limit
    sizes: dict[int, int] = {}
    root = tuple(layers)
    stack: list[tuple[Any, tuple[int, list[Any]] | None]] = [(root, None)]
    while stack:
        item, parts = stack.pop()
        if id(item) in sizes:
            continue
        if parts is None:
            parts = _parts(item)
            todo = [c for c in parts[1] if id(c) not in sizes]
            if todo:
                stack.append((item, parts))
                stack.extend((c, None) for c in todo)
                continue
        leaves, inner = parts
        total = leaves + sum(sizes[id(c)] for c in inner)
        if isinstance(item, Block):
            total = total * getattr(item, "times", 1) + 1
        sizes[id(item)] = min(total, cap)
    return sizes[id(root)]


def _parts(item: Any) -> tuple[int, list[Any]]:
    """The leaves directly in a tuple or a block's fields, and its tuples and blocks."""
    values = item if isinstance(item, tuple) else vars(item).values()
    leaves, inner = 0, []
    for value in values:
        if isinstance(value, Layer):
            leaves += 1
        elif isinstance(value, (tuple, Block)):
            inner.append(value)
    return leaves, inner


def _names_in(net: Net) -> set[str]:
    """Every `name` written anywhere in the spec (to tell a later reference from a typo)."""
    found: set[str] = set()
    todo: list[Any] = list(net.layers)
    while todo:
        item = todo.pop()
        if isinstance(item, tuple):
            todo.extend(item)
        elif isinstance(item, Node):
            if item.name:
                found.add(item.name)
            for value in vars(item).values():
                if isinstance(value, (tuple, Node)):
                    todo.append(value)
    return found
