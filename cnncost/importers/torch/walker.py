"""The walk over a traced torch graph that both tracers share: each node's arguments are looked
up, its handler (found by the tracer's vocabulary: `handler`, `module_handler`) maps it onto
cnncost layers through `emit`, and an op no handler maps becomes an error or an opaque node.

Rows are named by the module they ran in (`naming`); the builder keeps one block per module call
(see `graphbuild`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar, cast

from ...errors import CnnCostError
from ...layers import Arith, Chunk, Layer, Permute, Split
from ...layers.imported import Reshape
from ...net import Net
from ...shapes import Shape
from ..graphbuild import TV, GraphBuilder, Unsupported, channels_first, plain
from ...layers.imported import Opaque
from .meta_run import first_paths
from .naming import RowNames, base_name, op_name
from .argscan import ArgumentScan
from .values import BATCH, PV, Pieces, fold_safe, holds, per_sample
from .values import on_maps
from . import constants
from .constants import CV

MadeLayer = TypeVar("MadeLayer", bound=Layer)


class GraphWalker:
    """One import: walks `gm` (its nodes' traced values in `results`) and builds the Net."""

    tracer = ""  # the tracer that made `gm`, for the notes

    def __init__(self, root: Any, gm: Any, results: dict, shape: Shape, name: str, allow_unknown: bool,
                 train: bool, *, untraceable: dict[str, str] | None = None, tracer_note: str = "",
                 more_inputs: tuple[tuple[str, Shape], ...] = (), input_name: str = "input") -> None:
        import torch
        from torch.fx.node import map_arg
        self.torch = torch
        self.map_arg = map_arg
        self.root, self.gm, self.results = root, gm, results
        self.input_shape = shape
        # several inputs (`from_torch(m, input=[...])`): the forward's first tensors, in order
        self.input_tvs = [TV(0, tuple(shape))] + [TV(-k, tuple(s)) for k, (_, s) in enumerate(more_inputs, 1)]
        self.allow_unknown, self.train = allow_unknown, train
        self.builder = GraphBuilder(name, shape, more_inputs, input_name)
        self.env: dict[Any, Any] = {}
        self.owner: dict[int, int] = {}  # id(parameter) -> leaf index that counts it
        self.scaled: dict[tuple, TV] = {}  # (leaf, scale, form) -> its x * scale row: one tensor, however many read it
        self.opaque: list[str] = []
        self.node: Any = None
        paths = getattr(gm, "paths", None) if getattr(gm, "root", None) is root else None  # a torch.fx Trace's table
        self.names = RowNames(root, first_paths(paths()) if paths is not None else None)
        self.untraceable = untraceable or {}  # modules fx kept as leaves, with why it could not trace them
        self.tracer_note = tracer_note  # why this tracer (torch.export: why torch.fx could not)
        self.untraceable_unknown: list[str] = []  # modules fx could not trace into that no handler maps
        self.placeholders = 0  # seen so far: the first ones are the network's inputs
        self.folding = False  # the node being imported reads a tensor whose batch is folded (TV.folded)
        self.nhwc_rows: set[int] = set()  # rows emitted on a channels-last view (their output is NHWC-dense)
        self.made_layers: dict[Any, Layer] = {}  # `layer`: one object per distinct layer of the import

    # --- driving ---

    def run(self) -> Net:
        outputs: list[int] = []
        for node in self.gm.graph.nodes:
            self.node = node
            if node.op == "placeholder":
                self.env[node] = self._placeholder(node)
            elif node.op == "get_attr":
                tensor = self._attr(node.target)
                self.env[node] = PV(node.target, tensor, tuple(tensor.shape)) \
                    if isinstance(tensor, self.torch.Tensor) else tensor
            elif node.op == "output":
                try:
                    outputs = self._outputs(node.args[0])
                except Unsupported as why:  # an output whose batch moved: one line, not a traceback
                    raise CnnCostError(str(why)) from None
            else:
                self.env[node] = self._call(node)
        notes = self._notes()
        net = self.builder.finish(outputs, notes)
        self._verify(net)
        return net

    def _placeholder(self, node: Any) -> Any:
        """The first placeholders are the network's inputs; later ones (default arguments) are values."""
        self.placeholders += 1
        if self.placeholders > len(self.input_tvs):
            return self._python(self.results.get(node))
        return self.input_tvs[self.placeholders - 1]

    def _attr(self, target: str) -> Any:
        obj = self.root
        for part in target.split("."):
            obj = getattr(obj, part)
        return obj

    def _python(self, value: Any) -> Any:
        torch = self.torch
        if isinstance(value, torch.Size):
            return tuple(int(v) for v in value)
        if type(value) in (list, tuple):
            return type(value)(self._python(v) for v in value)
        return value

    def _outputs(self, value: Any) -> list[int]:
        found: list[int] = []

        def walk(v: Any) -> None:
            node = v if isinstance(v, self.torch.fx.Node) else None
            v = self.env.get(v, v) if node is not None else v
            if isinstance(v, TV) and v.scale is not None:  # an output (a + b) / 2: its own x * 0.5 row
                v = self.tensor(v, (v.form,))
            if isinstance(v, TV):
                v = self._plain(v, "the network's output")
                found.append(v.leaf)
            elif isinstance(v, Pieces):
                for i in range(v.chunks):
                    walk(self.piece(v, i))
            elif isinstance(v, dict):
                for item in v.values():
                    walk(item)
            elif isinstance(v, (list, tuple)):
                for item in v:
                    walk(item)
        walk(value)
        return found

    def _call(self, node: Any) -> Any:
        torch = self.torch
        lookup = self.env.__getitem__
        args = self.map_arg(node.args, lookup)
        kwargs = self.map_arg(node.kwargs, lookup) if node.kwargs else {}
        result = self.results.get(node)
        read = ArgumentScan((args, kwargs))  # one pass over the arguments for every question below
        makes = isinstance(result, torch.Tensor) or self._has_tensor(result)
        if not read.any:
            if makes:
                return self._constant(node, args, kwargs, result, "makes a tensor from no input tensor")
            return constants.item(self, node, args, self._python(result))
        if not makes:  # x.size(), x.shape, x.dim(): plain values
            return constants.batch_marked(self, node, args, self._python(result))
        self.folding = read.folded
        if read.computed:  # a tensor computed from parameters only (constants.py)
            return self._constant(node, args, kwargs, result, "")
        try:
            if read.refused:
                raise Unsupported(read.refused)
            handler = self.handler(node) if node.op in ("call_function", "call_method") else None
            if read.tensors and isinstance(result, torch.Tensor) and not self.folding \
                    and tuple(result.shape[:1]) != (BATCH,) and not getattr(handler, "batch_anywhere", False):
                raise Unsupported(f"a result of shape {tuple(result.shape)}: its first dimension is not the batch "
                                  "(it merges the batch dimension, or is made without it)")
            target = node.target
            if node.op == "call_function" and isinstance(target, type) and issubclass(target, (tuple, list, dict)):
                return target(*args, **kwargs)  # a namedtuple or dict of outputs: structure only
            return self.dispatch(node, args, kwargs, result, handler)
        except Unsupported as why:
            if read.params:  # parameters or buffers no handler takes: computed once per forward
                return self._constant(node, args, kwargs, result, str(why))
            return self._unknown(node, args, kwargs, result, str(why))

    def dispatch(self, node: Any, args: Any, kwargs: Any, result: Any, handler: Callable | None = None) -> Any:
        """The node's handler (of its module, or of its function or method) on these arguments;
        Unsupported where none maps it."""
        if node.op == "call_module":
            m = self.gm.get_submodule(node.target)
            module_handler = self.module_handler(m)
            if module_handler is None:
                raise Unsupported("")
            return module_handler(self, node, m, args, kwargs, result)
        handler = handler or self.handler(node)
        if handler is None:
            raise Unsupported("")
        return handler(self, node, args, kwargs, result)

    def _constant(self, node: Any, args: Any, kwargs: Any, result: Any, why: str) -> Any:
        """A computation that does not read the input, or where one meets the input (`constants`)."""
        try:
            return constants.handle(self, node, args, kwargs, result)
        except Unsupported as more:
            return self._unknown(node, args, kwargs, result, "; ".join(w for w in (why, str(more)) if w))

    def handler(self, node: Any) -> Callable | None:
        """The handler of a call_function / call_method node, from the tracer's table."""
        raise NotImplementedError

    def module_handler(self, m: Any) -> Callable | None:
        """The handler of a call of module `m` (a leaf of the trace), from the tracer's table."""
        raise NotImplementedError

    def _has_tensor(self, value: Any) -> bool:
        return holds(value, (self.torch.Tensor,))

    def _op_name(self, node: Any) -> str:
        return op_name(node, self.gm)

    # --- emitting ---

    def emit(self, layer: Layer, inputs: list[TV], out_shape: Shape, *, base: str | None = None,
             params: Sequence[Any] = (), form: str = "std") -> TV:
        """Add `layer` reading `inputs` (their leaves) at the current node's scope. `out_shape`:
        the torch shape per sample of the result (in `form`). Where the node reads a tensor whose
        batch is folded, so is the result, and only layers that map onto one exactly may read it."""
        if self.folding and inputs:
            layer = on_maps(layer, inputs[0])
        if self.folding and not fold_safe(layer, tuple(v.shape for v in inputs)):
            raise Unsupported(f"{type(layer).__name__.lower()} of a tensor whose batch is folded into its first dim")
        node = self.node
        scopes, leaf_name = self.names.scopes(node)
        functional = node.op != "call_module" or base is not None
        name = base if base is not None else leaf_name
        if name is None:
            name = base_name(node)
        shared_of = None
        ids = [id(p) for p in params]
        owned = [self.owner[i] for i in ids if i in self.owner]
        if owned:
            if len(owned) != len(ids):
                raise Unsupported("uses some parameters of an earlier op and some of its own")
            shared_of = owned[0]
        index = self.builder.emit(scopes, name, layer, [v.leaf for v in inputs], channels_first(out_shape, form),
                                  functional=functional, shared_of=shared_of)
        if shared_of is None:
            for i in ids:
                self.owner[i] = index
        if form == "nhwc":
            self.nhwc_rows.add(index)
        return TV(index, tuple(out_shape), form, folded=self.folding)

    def _unknown(self, node: Any, args: Any, kwargs: Any, result: Any, why: str) -> Any:
        folded = self.folding  # an opaque row on windows gives windows: (N*k, ...) as (k, ...), folded
        self.folding = False
        op = self._op_name(node)
        where = self.names.where(node)
        if node.op == "call_module" and node.target in self.untraceable:
            self.untraceable_unknown.append(node.target)
        if not why and node.op == "call_module" and node.target in self.untraceable:
            why = f"torch.fx cannot trace into it: {self.untraceable[node.target]}"
        detail = f" ({why})" if why else ""
        if not self.allow_unknown:
            raise CnnCostError(f"unsupported operation {op} at module '{where}'{detail}; "
                               "import with --allow-unknown (allow_unknown=True) to keep it as an opaque node "
                               "with unknown counts")
        inputs: list[TV] = []

        def collect(v: Any) -> None:
            if isinstance(v, TV):
                inputs.append(v)
            elif isinstance(v, Pieces):
                collect(v.src)
            elif isinstance(v, (list, tuple)):
                for item in v:
                    collect(item)
            elif isinstance(v, dict):
                for item in v.values():
                    collect(item)
        collect((args, kwargs))
        params: list[Any] = []
        if node.op == "call_module":
            params = list(self.gm.get_submodule(node.target).parameters())
        else:
            def params_of(v: Any) -> None:  # passed by position or by keyword, maybe in a list
                if isinstance(v, PV) and isinstance(v.tensor, self.torch.nn.Parameter):
                    params.append(v.tensor)
                elif isinstance(v, CV):  # a tensor computed from parameters: theirs
                    params.extend(v.params.values())
                elif isinstance(v, (list, tuple, dict)):
                    for item in (v.values() if isinstance(v, dict) else v):
                        params_of(item)
            params_of((args, kwargs))
        new_params = [p for p in params if id(p) not in self.owner]
        unique = {id(p): p for p in new_params}
        weights = sum(p.numel() for p in unique.values())
        if not inputs:
            inputs = [TV(0, self.input_shape)]
        inputs = [TV(v.leaf, v.shape) for v in inputs]
        tensors = self._tensors(result)
        made: list[TV] = []
        for k, tensor in enumerate(tensors):
            shape = per_sample(tensor.shape)
            layer = Opaque(op=op, shape=shape, weights=weights if k == 0 else 0)
            if node.op == "call_module":
                base = None if k == 0 else f"{str(node.target).rpartition('.')[2]}_out{k}"
            else:
                base = base_name(node) if k == 0 else f"{base_name(node)}_out{k}"
            v = self.emit(layer, inputs, shape, base=base, params=list(unique.values()) if k == 0 else [])
            v.folded = folded and int(tensor.shape[0]) != BATCH
            made.append(v)
        self.opaque.append(f"{self.builder.leaf(made[0].leaf).path if made else where}: {op}")
        return _rebuild(result, iter(made), self.torch)

    def _tensors(self, value: Any) -> list[Any]:
        torch = self.torch
        if isinstance(value, torch.Tensor):
            return [value]
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            return [t for v in value for t in self._tensors(v)]
        return []

    # --- helpers for handlers ---

    def layer(self, key: Any, make: Callable[[], MadeLayer]) -> MadeLayer:
        """`make()`, once per `key` (hashable: everything the layer is made from) in one import: a
        layer is immutable and each row places its own copy (`Node.placed`), so the repeated
        blocks of a net share one object, made and validated once."""
        try:
            found = self.made_layers.get(key)
        except TypeError:  # an unhashable field value
            return make()
        if found is None:
            found = self.made_layers[key] = make()
        return cast(MadeLayer, found)

    def _plain(self, v: Any, what: str) -> TV:
        """A tensor in the standard layout with no pending scale, else Unsupported."""
        if isinstance(v, Pieces):
            raise Unsupported(f"{what} reads a chunk tuple")
        return plain(v, what=what)

    def tensor(self, v: Any, forms: tuple[str, ...] = ("std",)) -> TV:
        """v as a tensor in one of `forms`, else Unsupported; a pending constant factor that no
        add folded in becomes its own row (x * 0.5)."""
        if isinstance(v, TV) and v.form not in forms and "std" in forms and v.scale is None and not v.batch:
            v = self.materialize(v)
        if isinstance(v, TV) and v.scale is not None and v.form in forms:
            key = (v.leaf, v.scale, v.form, v.shape)
            if key not in self.scaled:
                self.scaled[key] = self.emit(Arith(op="mul", value=v.scale), [TV(v.leaf, v.shape, v.form)], v.shape,
                                             base="mul", form=v.form)
            v = self.scaled[key]
        return plain(v, forms)

    def materialize(self, v: TV) -> TV:
        """A tensor in a layer-free layout (channels-last, a shuffle's steps) as the view rows that
        make it from its channels-first leaf: a permute, a reshape, or both."""
        first = TV(v.leaf, self.builder.cnncost_shape(v))
        if v.form == "nhwc":
            return self.emit(Permute(dims=(1, 2, 0)), [first], v.shape, base="permute")
        if v.form in ("grouped", "regrouped"):
            return self.emit(Reshape(shape=v.shape), [first], v.shape, base="view")
        a, b, h, w = v.shape  # grouped_t: (C/g, g, H, W) of the (g, C/g, H, W) view
        grouped = self.emit(Reshape(shape=(b, a, h, w)), [first], (b, a, h, w), base="view")
        return self.emit(Permute(dims=(1, 0, 2, 3)), [grouped], v.shape, base="permute")

    def out(self, result: Any) -> Shape:
        """A traced result's per-sample shape (a folded one keeps its rank: see `TV.folded`)."""
        return per_sample(result.shape) if self.folding else tuple(int(d) for d in result.shape[1:])

    def rebind(self, node: Any, value: TV) -> TV:
        """An in-place op: later readers of its argument read the result."""
        arg = node.args[0] if node.args else None
        if isinstance(arg, self.torch.fx.Node):
            self.env[arg] = value
        return value

    def piece(self, pieces: Pieces, i: int) -> TV:
        """Piece i of a chunk, made into a Chunk layer the first time something reads it."""
        if i < 0:
            i += pieces.chunks
        if i in pieces.made:
            return pieces.made[i]
        if pieces.refused:
            raise Unsupported(pieces.refused)
        src, d = pieces.src, pieces.dim
        shape = (*src.shape[:d], pieces.sizes[i], *src.shape[d + 1:])
        layer: Layer
        if pieces.split:
            sizes = tuple(pieces.sizes)
            layer = self.layer((Split, sizes, i, d), lambda: Split(sizes=sizes, index=i, dim=d))
        else:
            layer = self.layer((Chunk, pieces.chunks, i, d), lambda: Chunk(chunks=pieces.chunks, index=i, dim=d))
        v = self.emit(layer, [src], shape, base="split" if pieces.split else "chunk")
        pieces.made[i] = v
        return v

    # --- the end ---

    def _notes(self) -> str:
        root = self.root
        parts = [f"imported from torch: {type(root).__module__}.{type(root).__qualname__}, "
                 f"traced with {self.tracer} in "
                 f"{'train' if self.train else 'eval'} mode at "
                 + ", ".join('x'.join(map(str, n.shape)) for n in self.input_tvs)
                 + (f" ({self.tracer_note})" if self.tracer_note else "")]
        all_params = {id(p): p for m in self.names.modules.values() for p in m._parameters.values() if p is not None}
        unused = sum(p.numel() for i, p in all_params.items() if i not in self.owner)
        if unused:
            parts.append(f"{unused:,} parameters are never used by the traced forward and are not counted")
        if self.opaque:
            parts.append(f"{len(self.opaque)} opaque node(s) with unknown MACs and saved bytes: "
                         + "; ".join(self.opaque[:20]) + ("; ..." if len(self.opaque) > 20 else ""))
        return "; ".join(parts)

    def _verify(self, net: Net) -> None:
        """Compile the net and check every leaf's shape against the traced one."""
        from ...graph import compile
        graph = compile(net)
        paths = {leaf.path: leaf for leaf in self.builder.leaves[1:] if leaf is not None}
        for gnode in graph.nodes[1:]:
            leaf = paths.get(gnode.path)
            if leaf is not None and tuple(gnode.output_shape) != tuple(leaf.shape):
                raise CnnCostError(f"internal: imported {gnode.type} gives {'x'.join(map(str, gnode.output_shape))}, "
                                   f"the traced module {'x'.join(map(str, leaf.shape))}", path=gnode.path)


def _rebuild(result: Any, made: Any, torch: Any) -> Any:
    if isinstance(result, torch.Tensor):
        return next(made)
    if isinstance(result, dict):
        return {k: _rebuild(v, made, torch) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        items = [_rebuild(v, made, torch) for v in result]
        return type(result)(*items) if hasattr(result, "_fields") else type(result)(items)
    return result
