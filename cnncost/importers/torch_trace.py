"""A PyTorch module as a cnncost Net, by tracing it.

`from_torch(module, input=(3, 224, 224))` traces the module with torch.fx (leaf modules: those of
torch.nn, torchvision's StochasticDepth, timm's DropPath), runs the trace once on fake tensors (no
memory, no data; the module's buffers are not touched) to learn every tensor's shape, and maps each
module call and each functional call onto cnncost layers:

- modules: Conv2d, ConvTranspose2d, Linear, BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d,
  LocalResponseNorm, the activations (ReLU, ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid,
  Hardtanh, Mish, Sigmoid, Tanh, GELU, Softmax), Dropout, pools (max, avg, adaptive avg/max),
  Flatten, Upsample, PixelShuffle/Unshuffle, ZeroPad2d/ConstantPad2d(0)/ReflectionPad2d,
  ChannelShuffle, Identity, StochasticDepth, DropPath;
- functions and methods: their functional twins (F.relu, F.conv2d, F.layer_norm, F.batch_norm,
  F.interpolate, F.adaptive_avg_pool2d, F.pad, F.dropout, torch.sigmoid...), `+`, `*` (a gate, a
  per-channel parameter: layer scale; a constant folded into the add that follows: a scaled
  residual), torch.cat, chunk/split, x.mean((2, 3)), flatten/view/reshape, permute to channels-last
  and back around LayerNorm/Linear (ConvNeXt: the Linear is the equal 1x1 conv), the
  view-transpose-view channel shuffle, in-place methods (relu_, add_...).

Row paths are the module paths (nested blocks, one per module call; see `graphbuild`). A module
called twice gives two nodes; the second call of a module with parameters is a `shared` node
(params 0, MACs of its own call). An unknown op is a one-line CnnCostError naming it and its module
path, or with `allow_unknown=True` an `opaque` node (`cnncost.importers.opaque`).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CnnCostError
from ..layers import (GELU, LRN, AdaptiveAvgPool, AdaptiveMaxPool, Add, AvgPool, BatchNorm, ChannelShuffle, Chunk,
                      ConcatMerge, Conv, ConvTranspose, Dropout, Flatten, GlobalAvgPool, GroupNorm, Hardsigmoid,
                      Hardswish, Hardtanh, InstanceNorm, Layer, LayerNorm, LayerScale, LeakyReLU, Linear, MaxPool,
                      Mish, Mul, Pad, PixelShuffle, PixelUnshuffle, ReLU, ReLU6, Sigmoid, SiLU, Softmax,
                      StochasticDepth, Tanh, Upsample)
from ..layers.reshape import chunk_sizes
from ..net import Net
from ..shapes import Shape, numel
from .graphbuild import TV, GraphBuilder, Scope, Unsupported, plain
from ..layers.imported import Opaque, Reshape

__all__ = ["from_torch", "trace_module"]

BATCH = 2  # traced batch: 2, so the batch dimension never looks like a size-1 dimension


# ----------------------------------------------------------------------------- values

@dataclass
class PV:
    """A parameter or buffer (or a view of one): its attribute path and the real tensor."""

    path: str
    tensor: Any
    shape: Shape


@dataclass
class Pieces:
    """The result of chunk/split along the channels: `chunks` pieces of `src`."""

    src: TV
    chunks: int
    sizes: list[int]
    made: dict[int, TV]


def _is_tensor_value(value: Any) -> bool:
    if isinstance(value, (TV, PV, Pieces)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_is_tensor_value(v) for v in value)
    if isinstance(value, dict):
        return any(_is_tensor_value(v) for v in value.values())
    return False


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    if index < len(args):
        return args[index]
    return default


def _pair_or_int(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        value = tuple(int(v) for v in value)
        if len(value) == 1:
            return value[0]
        return value[0] if value[0] == value[1] else value
    return int(value)


def _dims(dims: Any, rank: int) -> tuple[int, ...]:
    if isinstance(dims, int):
        dims = (dims,)
    return tuple(d % rank for d in dims)


# ----------------------------------------------------------------------------- tracing

def _leaf_classes() -> tuple[type, ...]:
    found: list[type] = []
    try:
        from torchvision.ops import StochasticDepth as TvStochasticDepth
        found.append(TvStochasticDepth)
    except Exception:  # noqa: BLE001 - torchvision absent or broken: nothing to add
        pass
    try:
        import sys
        if "timm" in sys.modules or _importable("timm"):
            from timm.layers import DropPath
            found.append(DropPath)
    except Exception:  # noqa: BLE001
        pass
    return tuple(found)


def _importable(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def trace_module(module: Any, *, attempts: int = 50) -> tuple[Any, dict[str, str]]:
    """The torch.fx GraphModule of `module` (torch.nn modules and stochastic depth are leaves), and
    the modules fx could not trace through, each kept as a leaf with the reason: when tracing fails
    inside a module, that module becomes a leaf and tracing starts again."""
    import torch
    import torch.fx
    from ..torch_backend.own_modules import CenterCrop as CropModule, StochasticDepth as DropPathModule

    extra = _leaf_classes() + (DropPathModule, CropModule)
    untraceable: dict[str, str] = {}

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
            if qualname in untraceable or isinstance(m, extra):
                return True
            return super().is_leaf_module(m, qualname)

    for _ in range(attempts):
        tracer = Tracer()
        try:
            graph = tracer.trace(module)
        except Exception as error:  # noqa: BLE001 - retried with the failing module as a leaf
            stack = [value[0] for value in getattr(tracer, "module_stack", {}).values()
                     if isinstance(value, tuple)]
            inner = next((q for q in reversed(stack) if q and q not in untraceable), None)
            if inner is None:
                raise
            untraceable[inner] = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"
            continue
        return torch.fx.GraphModule(tracer.root, graph, type(module).__name__), untraceable
    raise CnnCostError(f"torch.fx cannot trace {type(module).__name__} (gave up after {attempts} modules)")


def _record(gm: Any, x_shape: tuple[int, ...]) -> dict[Any, Any]:
    """Run the traced graph once and keep every node's result: on fake tensors (no data, no
    memory, the module's buffers untouched), else on a copy of the module with real tensors."""
    import torch
    import torch.fx

    results: dict[Any, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            value = super().run_node(n)
            results[n] = value
            return value

    import logging
    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)  # a failing meta kernel logs a traceback before raising
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode
        with FakeTensorMode(allow_non_fake_inputs=True):
            x = torch.empty(BATCH, *x_shape)
            Recorder(gm).run(x)
        return results
    except Exception:  # noqa: BLE001 - fake tensors cannot run every op: real ones can
        results.clear()
    finally:
        log.setLevel(level)
    import copy
    clone = copy.deepcopy(gm)
    with torch.no_grad():
        Recorder(clone).run(torch.randn(BATCH, *x_shape))
    return results


# ----------------------------------------------------------------------------- the importer

def from_torch(module: Any, input: Shape | str = (3, 224, 224), *, name: str | None = None,
               allow_unknown: bool = False, train: bool = True, tracer: str = "auto") -> Net:
    """The cnncost Net of a PyTorch module at per-sample input shape `input`.

    `train=True` (the default) traces the module in training mode, as a training step runs it
    (dropout, stochastic depth and auxiliary heads included); `train=False` traces eval mode.

    `tracer="auto"` traces with torch.fx (module-level structure: torch.nn and torchvision layers
    stay leaves) and falls back to torch.export (`cnncost.importers.torch_export`) when fx cannot
    trace the module (Python control flow on shapes, loops over tensors), or when a module fx could
    not trace into maps to nothing; `"fx"` or `"export"` forces one. The Net's notes say which ran.

    >>> import torch.nn as nn, cnncost
    >>> net = cnncost.from_torch(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), input=(3, 32, 32))
    >>> [(r.name, r.params) for r in cnncost.table(net, batch=1).rows]
    [('input', 0), ('0', 224), ('1', 0)]
    """
    import torch

    if isinstance(input, str):
        from ..shapes import parse_shape
        input = parse_shape(input)
    shape = tuple(int(d) for d in input)
    if not isinstance(module, torch.nn.Module):
        raise CnnCostError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    if tracer not in ("auto", "fx", "export"):
        raise CnnCostError(f"tracer must be 'auto', 'fx' or 'export', got {tracer!r}")
    if tracer == "export":
        from .torch_export import from_exported
        return from_exported(module, shape, name=name, allow_unknown=allow_unknown, train=train)
    was_training = [m.training for m in module.modules()]
    module.train(train)
    label = name or type(module).__name__
    try:
        try:
            gm, untraceable = trace_module(module)
        except Exception as error:  # noqa: BLE001 - fx cannot trace the module itself: torch.export can
            why = f"torch.fx cannot trace {type(module).__name__}: {type(error).__name__}: {_first_line(error)}"
            if tracer == "fx":
                raise CnnCostError(why) from None
            return _exported(module, shape, label, allow_unknown, train, why, fail=why)
        buffers = _save_buffers(module)
        try:
            results = _record(gm, shape)
        except Exception as error:  # noqa: BLE001
            raise CnnCostError(f"{type(module).__name__} does not run on a {'x'.join(map(str, shape))} "
                               f"input: {type(error).__name__}: {_first_line(error)}") from None
        finally:  # a train-mode pass moves BatchNorm's running statistics and counters: put them back
            _restore_buffers(buffers)
        importer = _Importer(module, gm, results, shape, label, allow_unknown, train)
        importer.untraceable = untraceable
        try:
            net = importer.run()
        except CnnCostError as error:
            if not importer.untraceable_unknown or tracer == "fx":
                raise
            # a module fx could not trace into and no handler maps: torch.export traces through it
            inner = importer.untraceable_unknown[0]
            why = f"torch.fx cannot trace into '{inner}': {untraceable[inner]}"
            try:
                return _exported(module, shape, label, allow_unknown, train, why, fail=None)
            except CnnCostError:
                raise error from None
        if importer.untraceable_unknown and tracer == "auto":  # opaque for fx: export may map them
            inner = importer.untraceable_unknown[0]
            why = f"torch.fx cannot trace into '{inner}': {untraceable[inner]}"
            from .torch_export import import_exported
            try:
                other, opaque = import_exported(module, shape, name=label, allow_unknown=allow_unknown, train=train,
                                                why=why)
            except CnnCostError:
                return net
            if opaque < len(importer.opaque):
                return other
        return net
    finally:
        for m, mode in zip(module.modules(), was_training):
            m.training = mode


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _save_buffers(module: Any) -> list[tuple[Any, Any]]:
    return [(b, b.detach().clone()) for b in module.buffers()]


def _restore_buffers(buffers: list[tuple[Any, Any]]) -> None:
    import torch
    with torch.no_grad():
        for b, copy in buffers:
            b.copy_(copy)


def _exported(module: Any, shape: Shape, name: str, allow_unknown: bool, train: bool, why: str,
              fail: str | None) -> Net:
    """The net through torch.export (`torch_export`); `fail`: what to say first if export fails too."""
    from .torch_export import from_exported
    try:
        return from_exported(module, shape, name=name, allow_unknown=allow_unknown, train=train, why=why)
    except CnnCostError as error:
        if fail is None or str(error).startswith("unsupported operation"):
            raise
        raise CnnCostError(f"{fail}; {error}") from None


class _Importer:
    def __init__(self, root: Any, gm: Any, results: dict, shape: Shape, name: str, allow_unknown: bool,
                 train: bool) -> None:
        import torch
        _init_functions()
        self.torch = torch
        self.root, self.gm, self.results = root, gm, results
        self.input_shape = shape
        self.allow_unknown, self.train = allow_unknown, train
        self.builder = GraphBuilder(name, shape)
        self.env: dict[Any, Any] = {}
        self.owner: dict[int, int] = {}  # id(parameter) -> leaf index that counts it
        self.opaque: list[str] = []
        self.node: Any = None
        self.modules = dict(root.named_modules())
        self.children_names: dict[str, frozenset[str]] = {}
        self.untraceable: dict[str, str] = {}
        self.untraceable_unknown: list[str] = []  # modules fx could not trace into that no handler maps

    # --- driving ---

    def run(self) -> Net:
        outputs: list[int] = []
        self.placeholders = 0
        for node in self.gm.graph.nodes:
            self.node = node
            if node.op == "placeholder":
                self.env[node] = self._placeholder(node)
            elif node.op == "get_attr":
                tensor = self._attr(node.target)
                self.env[node] = PV(node.target, tensor, tuple(tensor.shape)) \
                    if isinstance(tensor, self.torch.Tensor) else tensor
            elif node.op == "output":
                outputs = self._outputs(node.args[0])
            else:
                self.env[node] = self._call(node)
        notes = self._notes()
        net = self.builder.finish(outputs, notes)
        self._verify(net)
        return net

    def _placeholder(self, node: Any) -> Any:
        """The first placeholder is the network's input; later ones (default arguments) are values."""
        self.placeholders += 1
        if self.placeholders > 1:
            return self._python(self.results.get(node))
        return TV(0, self.input_shape)

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
            v = self.env.get(v, v) if isinstance(v, self.torch.fx.Node) else v
            if isinstance(v, TV):
                v = self._plain(v, "the network's output")
                found.append(v.leaf)
            elif isinstance(v, Pieces):
                for i in range(v.chunks):
                    walk(self._piece(v, i))
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
        args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        result = self.results.get(node)
        reads, makes = _is_tensor_value((args, kwargs)), self._has_tensor(result)
        if not reads:
            if makes:
                return self._unknown(node, args, kwargs, result, "makes a tensor from no input tensor")
            return self._python(result)
        if not makes:  # x.size(), x.shape, x.dim(): plain values
            return self._python(result)
        try:
            if node.op == "call_module":
                return self._module(node, self.gm.get_submodule(node.target), args, kwargs, result)
            target = node.target
            if node.op == "call_function" and isinstance(target, type) and issubclass(target, (tuple, list, dict)):
                return target(*args, **kwargs)  # a namedtuple or dict of outputs: structure only
            handler = self._handler(node)
            if handler is None:
                raise Unsupported("")
            return handler(self, node, args, kwargs, result)
        except Unsupported as why:
            return self._unknown(node, args, kwargs, result, str(why))

    def _handler(self, node: Any) -> Callable | None:
        """The handler of a call_function / call_method node (the export importer: by ATen op)."""
        if node.op == "call_method":
            return METHODS.get(node.target)
        return FUNCTIONS.get(node.target) or _by_name(node.target)

    @staticmethod
    def _has_tensor(value: Any) -> bool:
        import torch
        if isinstance(value, torch.Tensor):
            return True
        if isinstance(value, (list, tuple)):
            return any(_Importer._has_tensor(v) for v in value)
        if isinstance(value, dict):
            return any(_Importer._has_tensor(v) for v in value.values())
        return False

    # --- naming ---

    def _op_name(self, node: Any) -> str:
        if node.op == "call_module":
            m = self.gm.get_submodule(node.target)
            return f"{type(m).__module__}.{type(m).__qualname__}"
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        target = node.target
        module = getattr(target, "__module__", None) or ""
        qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or str(target)
        if "_VariableFunctionsClass" in qual or not module:  # torch's builtins: torch.erf
            module, qual = module or "torch", getattr(target, "__name__", qual)
        if module in ("_operator", "operator"):
            return f"operator.{qual}"
        return f"{module}.{qual}" if module else qual

    @staticmethod
    def _module_stack(node: Any) -> list[tuple[Any, Any]]:
        """The (key, (path, type)) of the modules enclosing `node`, outermost first; the root
        (which torch.export lists, as path '') left out."""
        return [(key, value) for key, value in (node.meta.get("nn_module_stack") or {}).items()
                if (value[0] if isinstance(value, tuple) else str(value))]

    def _where(self, node: Any) -> str:
        if node.op == "call_module":
            return node.target
        stack = [value for _, value in self._module_stack(node)]
        return stack[-1][0] if stack else "(top level)"

    def _scopes(self, node: Any) -> tuple[list[Scope], str | None]:
        """The blocks enclosing `node`, and for a module call the leaf's name."""
        stack = self._module_stack(node)
        leaf_rel: list[str] | None = None
        if node.op == "call_module":
            if stack and stack[-1][1][0] == node.target:
                stack = stack[:-1]
        scopes: list[Scope] = []
        prev, parent_key = "", ("root",)
        for key, value in stack:
            qual = value[0] if isinstance(value, tuple) else str(value)
            parts = self._relative(prev, qual)
            for j, part in enumerate(parts):
                is_last = j == len(parts) - 1
                partial = ".".join(parts[:j + 1])
                sub_qual = f"{prev}.{partial}" if prev else partial
                scope_key = key if is_last else (parent_key, partial)
                scopes.append(Scope(scope_key, part, self._reserved(sub_qual), is_call=is_last))
                if is_last:
                    parent_key = key
            prev = qual
        if node.op == "call_module":
            parts = self._relative(prev, node.target)
            for j, part in enumerate(parts[:-1]):
                partial = ".".join(parts[:j + 1])
                sub_qual = f"{prev}.{partial}" if prev else partial
                scopes.append(Scope((parent_key, partial), part, self._reserved(sub_qual), is_call=False))
            leaf_rel = parts
        return scopes, leaf_rel[-1] if leaf_rel else None

    @staticmethod
    def _relative(prev: str, qual: str) -> list[str]:
        if not prev:
            return qual.split(".")
        if qual.startswith(prev + "."):
            return qual[len(prev) + 1:].split(".")
        return [qual.replace(".", "_")]  # a module reached from outside its parent: one name

    def _reserved(self, qual: str) -> frozenset[str]:
        names = self.children_names.get(qual)
        if names is None:
            module = self.modules.get(qual)
            names = frozenset(n for n, _ in module.named_children()) if module is not None else frozenset()
            self.children_names[qual] = names
        return names

    # --- emitting ---

    def emit(self, layer: Layer, inputs: list[TV], out_shape: Shape, *, base: str | None = None,
             params: list[Any] = (), form: str = "std") -> TV:
        """Add `layer` reading `inputs` (their leaves) at the current node's scope. `out_shape`:
        the torch shape per sample of the result (in `form`)."""
        node = self.node
        scopes, leaf_name = self._scopes(node)
        functional = node.op != "call_module" or base is not None
        name = base if base is not None else leaf_name
        if name is None:
            name = _base_name(node)
        shared_of = None
        ids = [id(p) for p in params]
        owned = [self.owner[i] for i in ids if i in self.owner]
        if owned:
            if len(owned) != len(ids):
                raise Unsupported("uses some parameters of an earlier op and some of its own")
            shared_of = owned[0]
        cshape = _cnncost_shape(out_shape, form)
        index = self.builder.emit(scopes, name, layer, [v.leaf for v in inputs], cshape,
                                  functional=functional, shared_of=shared_of)
        if shared_of is None:
            for i in ids:
                self.owner[i] = index
        return TV(index, tuple(out_shape), form)

    def _unknown(self, node: Any, args: Any, kwargs: Any, result: Any, why: str) -> Any:
        op = self._op_name(node)
        where = self._where(node)
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
            def params_of(v: Any) -> None:
                if isinstance(v, PV) and isinstance(v.tensor, self.torch.nn.Parameter):
                    params.append(v.tensor)
                elif isinstance(v, (list, tuple)):
                    for item in v:
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
            shape = tuple(int(d) for d in tensor.shape[1:]) or (1,)
            layer = Opaque(op=op, shape=shape, weights=weights if k == 0 else 0)
            if node.op == "call_module":
                base = None if k == 0 else f"{str(node.target).rpartition('.')[2]}_out{k}"
            else:
                base = _base_name(node) if k == 0 else f"{_base_name(node)}_out{k}"
            v = self.emit(layer, inputs, shape, base=base, params=list(unique.values()) if k == 0 else [])
            made.append(v)
        self.opaque.append(f"{self.builder.leaves[made[0].leaf].path if made else where}: {op}")
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

    def _plain(self, v: Any, what: str) -> TV:
        """A tensor in the standard layout with no pending scale, else Unsupported."""
        if isinstance(v, Pieces):
            raise Unsupported(f"{what} reads a chunk tuple")
        return plain(v, what=what)

    def _tensor(self, v: Any, forms: tuple[str, ...] = ("std",)) -> TV:
        return plain(v, forms)

    def cshape(self, v: TV) -> Shape:
        return self.builder.shapes[v.leaf] if v.form != "std" else v.shape

    def out(self, result: Any) -> Shape:
        return tuple(int(d) for d in result.shape[1:])

    def rebind(self, node: Any, value: TV) -> TV:
        """An in-place op: later readers of its argument read the result."""
        arg = node.args[0] if node.args else None
        if isinstance(arg, self.torch.fx.Node):
            self.env[arg] = value
        return value

    def _piece(self, pieces: Pieces, i: int) -> TV:
        if i < 0:
            i += pieces.chunks
        if i in pieces.made:
            return pieces.made[i]
        src = pieces.src
        shape = (pieces.sizes[i], *src.shape[1:])
        v = self.emit(Chunk(chunks=pieces.chunks, index=i), [src], shape, base="chunk")
        pieces.made[i] = v
        return v

    def _module(self, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> Any:
        handler = None
        for cls in type(m).__mro__:
            handler = MODULES.get(cls.__name__) if cls.__module__.startswith(
                ("torch.nn", "torchvision", "timm", "cnncost.torch_backend.own_modules")) else None
            if handler is not None:
                break
        if handler is None:
            raise Unsupported("")
        return handler(self, node, m, args, kwargs, result)

    # --- the end ---

    tracer = "torch.fx"
    tracer_note = ""  # why this tracer (the export importer: why torch.fx could not)

    def _notes(self) -> str:
        root = self.root
        parts = [f"imported from torch: {type(root).__module__}.{type(root).__qualname__}, traced with {self.tracer} in "
                 f"{'train' if self.train else 'eval'} mode at {'x'.join(map(str, self.input_shape))}"
                 + (f" ({self.tracer_note})" if self.tracer_note else "")]
        all_params = {id(p): p for p in root.parameters()}
        unused = sum(p.numel() for i, p in all_params.items() if i not in self.owner)
        if unused:
            parts.append(f"{unused:,} parameters are never used by the traced forward and are not counted")
        if self.opaque:
            parts.append(f"{len(self.opaque)} opaque node(s) with unknown MACs and saved bytes: "
                         + "; ".join(self.opaque[:20]) + ("; ..." if len(self.opaque) > 20 else ""))
        return "; ".join(parts)

    def _verify(self, net: Net) -> None:
        """Compile the net and check every leaf's shape against the traced one."""
        from ..graph import compile
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


def _cnncost_shape(shape: Shape, form: str) -> Shape:
    if form == "nhwc":
        h, w, c = shape
        return (c, h, w)
    if form in ("grouped", "grouped_t", "regrouped"):
        a, b, h, w = shape
        return (a * b, h, w)
    return tuple(shape)


def _mutating(node: Any) -> bool:
    """An in-place call: x.add_(y), x += y, aten.relu_ (an ATen op overload named `relu_`)."""
    target = node.target
    if target in (operator.iadd, operator.imul):
        return True
    if isinstance(target, str):
        return target.endswith("_")
    packet = getattr(target, "overloadpacket", None)
    return packet is not None and getattr(packet, "__name__", "").endswith("_")


def _base_name(node: Any) -> str:
    target = node.target
    if node.op == "call_method":
        name = str(target)
    elif getattr(target, "overloadpacket", None) is not None:  # an ATen op: aten.conv2d.default
        name = target.overloadpacket.__name__
    else:
        name = getattr(target, "__name__", None) or str(target)
    name = name.rstrip("_") or "op"
    return _RENAME.get(name, name)


_RENAME = {"iadd": "add", "imul": "mul", "cat": "concat", "concatenate": "concat", "truediv": "div",
           "getitem": "chunk", "adaptive_avg_pool2d": "avgpool", "adaptive_max_pool2d": "maxpool",
           "max_pool2d": "maxpool", "avg_pool2d": "avgpool", "interpolate": "upsample", "conv2d": "conv",
           "batch_norm": "bn", "layer_norm": "norm", "group_norm": "norm", "linear": "fc",
           # ATen ops (the torch.export importer)
           "max_pool2d_with_indices": "maxpool", "_adaptive_avg_pool2d": "avgpool", "upsample_nearest2d": "upsample",
           "upsample_bilinear2d": "upsample", "conv_transpose2d": "conv_transpose", "convolution": "conv",
           "_convolution": "conv", "native_batch_norm": "bn", "_native_batch_norm_legit": "bn",
           "_native_batch_norm_legit_functional": "bn", "_native_batch_norm_legit_no_training": "bn",
           "native_layer_norm": "norm", "addmm": "fc", "mm": "fc", "matmul": "fc", "native_dropout": "dropout",
           "_softmax": "softmax", "slice": "chunk", "split_with_sizes": "chunk", "hardtanh": "hardtanh"}


# ----------------------------------------------------------------------------- activations

def _act(cls: type, *, inplace_arg: int | None = 1, fields: Callable[[tuple, dict], dict] | None = None,
         inplace_always: bool = False, forms: tuple[str, ...] = ("std", "nhwc", "grouped", "grouped_t", "regrouped")):
    """A functional activation: F.relu(x, inplace=False), x.relu_(), torch.sigmoid(x)..."""
    def handle(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp._tensor(args[0], forms)
        if inplace_always:
            inplace = True
        elif inplace_arg is not None:
            inplace = bool(_arg(args, kwargs, inplace_arg, "inplace", False))
        else:
            inplace = False
        mutates = inplace or _mutating(node)
        extra = fields(args, kwargs) if fields else {}
        if "inplace" in cls.__dataclass_fields__:
            extra["inplace"] = inplace
        v = imp.emit(cls(**extra), [x], x.shape, form=x.form)
        v.groups = x.groups
        return imp.rebind(node, v) if mutates else v
    return handle


def _module_act(cls: type, fields: Callable[[Any], dict] | None = None):
    def handle(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp._tensor(args[0], ("std", "nhwc", "grouped", "grouped_t", "regrouped"))
        extra = fields(m) if fields else {}
        inplace = bool(getattr(m, "inplace", False))
        if "inplace" in cls.__dataclass_fields__:
            extra["inplace"] = inplace
        v = imp.emit(cls(**extra), [x], x.shape, form=x.form)
        v.groups = x.groups
        return imp.rebind(node, v) if inplace else v
    return handle


def _softmax(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    dim = _arg(args, kwargs, 1, "dim")
    if dim is None or dim % (len(x.shape) + 1) != 1:
        raise Unsupported(f"softmax over dim {dim}: only over the channels")
    return imp.emit(Softmax(), [x], x.shape)


def _m_softmax(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return _softmax(imp, node, (args[0], m.dim), {}, result)


def _clamp(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0], ("std", "nhwc"))
    lo, hi = _arg(args, kwargs, 1, "min"), _arg(args, kwargs, 2, "max")
    if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
        raise Unsupported("clamp needs constant min and max")
    inplace = _mutating(node)
    layer = ReLU6(inplace=inplace) if (lo, hi) == (0, 6) else Hardtanh(min_val=float(lo), max_val=float(hi),
                                                                      inplace=inplace)
    v = imp.emit(layer, [x], x.shape, form=x.form)
    return imp.rebind(node, v) if inplace else v


def _dropout(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0], ("std", "nhwc"))
    p = float(_arg(args, kwargs, 1, "p", 0.5))
    training = bool(_arg(args, kwargs, 2, "training", True))
    inplace = bool(_arg(args, kwargs, 3, "inplace", False))
    if not training or p == 0:
        return x
    v = imp.emit(Dropout(p=p, inplace=inplace), [x], x.shape, form=x.form)
    return imp.rebind(node, v) if inplace else v


def _m_dropout(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "Dropout":
        raise Unsupported(f"{type(m).__name__} (its mask is not an element-wise dropout's)")
    x = imp._tensor(args[0], ("std", "nhwc"))
    if not m.training or m.p == 0:
        return x
    v = imp.emit(Dropout(p=float(m.p), inplace=bool(m.inplace)), [x], x.shape, form=x.form)
    return imp.rebind(node, v) if m.inplace else v


def _stochastic_depth(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0], ("std", "nhwc"))
    p, mode = float(_arg(args, kwargs, 1, "p")), _arg(args, kwargs, 2, "mode", "row")
    training = bool(_arg(args, kwargs, 3, "training", True))
    if not training:
        return x
    return imp.emit(StochasticDepth(p=p, mode=mode), [x], x.shape, form=x.form)


def _m_stochastic_depth(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0], ("std", "nhwc"))
    if type(m).__name__ == "DropPath":  # timm: per sample, scaled by the keep probability
        p = float(m.drop_prob)
        if not getattr(m, "scale_by_keep", True) and p > 0:
            raise Unsupported("DropPath without scale_by_keep")
        mode = "row"
    else:
        p, mode = float(m.p), m.mode
    if not m.training:
        return x
    return imp.emit(StochasticDepth(p=p, mode=mode), [x], x.shape, form=x.form)


# ----------------------------------------------------------------------------- convolution, linear, norms

def _conv_layer(weight_shape: Shape, bias: bool, stride: Any, padding: Any, dilation: Any, groups: int) -> Conv:
    out, _, kh, kw = weight_shape
    if isinstance(padding, str):
        pad: Any = padding
    else:
        pad = _pair_or_int(padding)
    return Conv(out=int(out), kernel=_pair_or_int((kh, kw)), stride=_pair_or_int(stride), padding=pad,
                dilation=_pair_or_int(dilation), groups=int(groups), bias=bias)


def _m_conv(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "Conv2d":
        raise Unsupported("")
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode '{m.padding_mode}'")
    x = imp._tensor(args[0])
    layer = _conv_layer(tuple(m.weight.shape), m.bias is not None, m.stride, m.padding, m.dilation, m.groups)
    return imp.emit(layer, [x], imp.out(result), params=list(m.parameters()))


def _conv2d(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)):
        raise Unsupported("conv2d with computed weights")
    layer = _conv_layer(weight.shape, bias is not None, _arg(args, kwargs, 3, "stride", 1),
                        _arg(args, kwargs, 4, "padding", 0), _arg(args, kwargs, 5, "dilation", 1),
                        _arg(args, kwargs, 6, "groups", 1))
    return imp.emit(layer, [x], imp.out(result), params=_params(weight, bias))


def _params(*values: Any) -> list[Any]:
    import torch
    return [v.tensor for v in values if isinstance(v, PV) and isinstance(v.tensor, torch.nn.Parameter)]


def _m_conv_t(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "ConvTranspose2d" or m.padding_mode != "zeros":
        raise Unsupported("")
    return _conv_t_on(imp, args[0], int(m.out_channels), m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                      m.bias is not None, result, list(m.parameters()))


def _conv_t_on(imp: _Importer, x: Any, out: int, kernel: Any, stride: Any, padding: Any, dilation: Any, groups: int,
               bias: bool, result: Any, params: list) -> TV:
    """A transposed convolution; its output padding: what the traced output size needs."""
    x = imp._tensor(x)
    y = imp.out(result)
    if len(x.shape) != 3:
        raise Unsupported("transposed convolution of a flat tensor")

    def two(v: Any) -> tuple[int, int]:
        v = tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else (int(v),)
        return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = two(kernel), two(stride), two(padding), two(dilation)
    base = [(x.shape[1] - 1) * sh - 2 * ph + dh * (kh - 1) + 1, (x.shape[2] - 1) * sw - 2 * pw + dw * (kw - 1) + 1]
    extra = (y[1] - base[0], y[2] - base[1])
    layer = ConvTranspose(out=int(out), kernel=_pair_or_int((kh, kw)), stride=_pair_or_int((sh, sw)),
                          padding=_pair_or_int((ph, pw)), output_padding=_pair_or_int(extra),
                          dilation=_pair_or_int((dh, dw)), groups=int(groups), bias=bias)
    return imp.emit(layer, [x], y, params=params)


def _m_linear(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("Linear", "LazyLinear", "NonDynamicallyQuantizableLinear"):
        raise Unsupported("")
    return _linear_on(imp, args[0], tuple(m.weight.shape), m.bias is not None, result, list(m.parameters()))


def _linear(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)):
        raise Unsupported("linear with computed weights")
    return _linear_on(imp, args[0], weight.shape, bias is not None, result, _params(weight, bias))


def _linear_on(imp: _Importer, x: Any, weight_shape: Shape, bias: bool, result: Any, params: list) -> TV:
    x = imp._tensor(x, ("std", "nhwc"))
    out = int(weight_shape[0])
    if x.form == "nhwc":  # channels-last: the equal 1x1 convolution on the channels-first map
        return imp.emit(Conv(out=out, kernel=1, bias=bias), [x], imp.out(result), params=params, form="nhwc")
    if len(x.shape) != 1:
        raise Unsupported(f"linear on a {'x'.join(map(str, x.shape))} tensor (only on a flat vector, or on "
                          "the channels of a channels-last map)")
    return imp.emit(Linear(out=out, bias=bias), [x], imp.out(result), params=params)


def _m_batchnorm(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("BatchNorm2d", "BatchNorm1d", "SyncBatchNorm", "BatchNormAct2d"):
        raise Unsupported("")
    x = imp._tensor(args[0])
    if len(x.shape) not in (1, 3):
        raise Unsupported("batch norm on a sequence")
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    return imp.emit(BatchNorm(eps=float(m.eps), momentum=momentum, affine=bool(m.affine)), [x], x.shape,
                    params=list(m.parameters()))


def _batch_norm(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    weight, bias = _arg(args, kwargs, 3, "weight"), _arg(args, kwargs, 4, "bias")
    if (weight is None) != (bias is None):
        raise Unsupported("batch norm with a weight but no bias (or the reverse)")
    momentum = _arg(args, kwargs, 6, "momentum", 0.1)
    eps = _arg(args, kwargs, 7, "eps", 1e-5)
    layer = BatchNorm(eps=float(eps), momentum=0.1 if momentum is None else float(momentum), affine=weight is not None)
    return imp.emit(layer, [x], x.shape, params=_params(weight, bias))


def _layer_norm_on(imp: _Importer, x: Any, normalized: Any, eps: float, affine: bool, bias: bool,
                   params: list) -> TV:
    x = imp._tensor(x, ("std", "nhwc"))
    if affine and not bias:
        raise Unsupported("layer norm without a bias")
    normalized = tuple(int(n) for n in normalized) if isinstance(normalized, (list, tuple)) else (int(normalized),)
    if x.form == "nhwc" and normalized == x.shape[-1:]:
        return imp.emit(LayerNorm(over="channels", eps=float(eps), elementwise_affine=affine), [x], x.shape,
                        params=params, form="nhwc")
    if x.form == "std" and normalized == x.shape:
        return imp.emit(LayerNorm(over="chw", eps=float(eps), elementwise_affine=affine), [x], x.shape,
                        params=params)
    raise Unsupported(f"layer norm over {list(normalized)} of a {'x'.join(map(str, x.shape))} tensor "
                      f"({x.form})")


def _m_layer_norm(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "LayerNorm":
        raise Unsupported("")
    return _layer_norm_on(imp, args[0], m.normalized_shape, m.eps, m.elementwise_affine,
                          getattr(m, "bias", None) is not None, list(m.parameters()))


def _layer_norm(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    weight, bias = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
    return _layer_norm_on(imp, args[0], _arg(args, kwargs, 1, "normalized_shape"), _arg(args, kwargs, 4, "eps", 1e-5),
                          weight is not None, bias is not None or weight is None, _params(weight, bias))


def _m_group_norm(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    return imp.emit(GroupNorm(groups=int(m.num_groups), eps=float(m.eps), affine=bool(m.affine)), [x], x.shape,
                    params=list(m.parameters()))


def _group_norm(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    weight, bias = _arg(args, kwargs, 2, "weight"), _arg(args, kwargs, 3, "bias")
    if (weight is None) != (bias is None):
        raise Unsupported("group norm with a weight but no bias")
    return imp.emit(GroupNorm(groups=int(_arg(args, kwargs, 1, "num_groups")), eps=float(_arg(args, kwargs, 4, "eps", 1e-5)),
                              affine=weight is not None), [x], x.shape, params=_params(weight, bias))


def _m_instance_norm(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "InstanceNorm2d":
        raise Unsupported("")
    x = imp._tensor(args[0])
    return imp.emit(InstanceNorm(eps=float(m.eps), momentum=float(m.momentum or 0.1), affine=bool(m.affine),
                                 track_running_stats=bool(m.track_running_stats)), [x], x.shape,
                    params=list(m.parameters()))


def _m_lrn(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    return imp.emit(LRN(size=int(m.size), alpha=float(m.alpha), beta=float(m.beta), k=float(m.k)), [x], x.shape)


# ----------------------------------------------------------------------------- pools

def _maxpool(imp: _Importer, x: TV, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool,
             indices: bool, result: Any) -> TV:
    if indices:
        raise Unsupported("max pool returning indices")
    if _pair_or_int(dilation) != 1:
        raise Unsupported("dilated max pool")
    stride = kernel if stride in (None, (), []) else stride
    return imp.emit(MaxPool(kernel=_pair_or_int(kernel), stride=_pair_or_int(stride), padding=_pair_or_int(padding),
                            ceil_mode=bool(ceil)), [x], imp.out(result))


def _m_maxpool(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "MaxPool2d":
        raise Unsupported("")
    return _maxpool(imp, imp._tensor(args[0]), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                    m.return_indices, result)


def _max_pool2d(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return _maxpool(imp, imp._tensor(args[0]), _arg(args, kwargs, 1, "kernel_size"), _arg(args, kwargs, 2, "stride"),
                    _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 4, "dilation", 1),
                    _arg(args, kwargs, 5, "ceil_mode", False), _arg(args, kwargs, 6, "return_indices", False), result)


def _avgpool(imp: _Importer, x: TV, kernel: Any, stride: Any, padding: Any, ceil: bool, include: bool,
             divisor: Any, result: Any) -> TV:
    if divisor is not None:
        raise Unsupported("avg pool with divisor_override")
    stride = kernel if stride in (None, (), []) else stride
    return imp.emit(AvgPool(kernel=_pair_or_int(kernel), stride=_pair_or_int(stride), padding=_pair_or_int(padding),
                            ceil_mode=bool(ceil), count_include_pad=bool(include)), [x], imp.out(result))


def _m_avgpool(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "AvgPool2d":
        raise Unsupported("")
    return _avgpool(imp, imp._tensor(args[0]), m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                    m.divisor_override, result)


def _avg_pool2d(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return _avgpool(imp, imp._tensor(args[0]), _arg(args, kwargs, 1, "kernel_size"), _arg(args, kwargs, 2, "stride"),
                    _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 4, "ceil_mode", False),
                    _arg(args, kwargs, 5, "count_include_pad", True), _arg(args, kwargs, 6, "divisor_override"),
                    result)


def _adaptive(imp: _Importer, x: TV, result: Any, kind: type) -> TV:
    if len(x.shape) != 3:
        raise Unsupported("adaptive pool of a flat tensor")
    y = imp.out(result)
    return imp.emit(kind(output=_pair_or_int(y[1:])), [x], y)


def _m_adaptive_avg(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "AdaptiveAvgPool2d":
        raise Unsupported("")
    return _adaptive(imp, imp._tensor(args[0]), result, AdaptiveAvgPool)


def _m_adaptive_max(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "AdaptiveMaxPool2d" or m.return_indices:
        raise Unsupported("")
    return _adaptive(imp, imp._tensor(args[0]), result, AdaptiveMaxPool)


def _adaptive_avg_pool2d(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return _adaptive(imp, imp._tensor(args[0]), result, AdaptiveAvgPool)


def _adaptive_max_pool2d(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if _arg(args, kwargs, 2, "return_indices", False):
        raise Unsupported("adaptive max pool returning indices")
    return _adaptive(imp, imp._tensor(args[0]), result, AdaptiveMaxPool)


def _mean(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0], ("std", "nhwc"))
    dims = _arg(args, kwargs, 1, "dim")
    keep = bool(_arg(args, kwargs, 2, "keepdim", False))
    if dims is None or len(x.shape) != 3:
        raise Unsupported("mean over all dimensions")
    spatial = (2, 3) if x.form == "std" else (1, 2)
    if tuple(sorted(_dims(dims, 4))) != spatial:
        raise Unsupported(f"mean over dims {dims} (only over H and W)")
    c = imp.cshape(x)[0]
    pooled = imp.emit(GlobalAvgPool(), [x], (c, 1, 1), base="mean")
    if keep:
        if x.form == "nhwc":
            pooled = TV(pooled.leaf, (1, 1, c), "nhwc")
        return pooled
    return imp.emit(Flatten(), [pooled], (c,), base="flatten")


# ----------------------------------------------------------------------------- shapes and views

def _view_to(imp: _Importer, x: Any, y: Shape, what: str) -> TV:
    """x seen as torch shape `y` per sample: flatten, a shuffle's view, a reshape, or nothing."""
    if not isinstance(x, TV) or x.scale is not None:
        raise Unsupported(f"{what} of a non-tensor")
    if x.form == "grouped_t":
        c = x.shape[0] * x.shape[1]
        if y == (c, *x.shape[2:]):  # view of a non-contiguous transpose: a copy, the shuffle
            v = imp.emit(ChannelShuffle(groups=x.groups), [TV(x.leaf, imp.cshape(x))], y, base="shuffle")
            return v
        raise Unsupported(f"{what} of a transposed view")
    if x.form == "regrouped":
        if y == imp.cshape(x):
            return TV(x.leaf, y)
        raise Unsupported(f"{what} of a shuffled view")
    if x.form == "grouped":
        if y == imp.cshape(x):
            return TV(x.leaf, y)
        raise Unsupported(f"{what} of a grouped view")
    if x.form != "std":
        raise Unsupported(f"{what} of a {x.form} tensor")
    if y == x.shape:
        return x
    if len(x.shape) == 3 and len(y) == 4 and y[0] * y[1] == x.shape[0] and y[2:] == x.shape[1:]:
        return TV(x.leaf, y, "grouped", groups=y[0])
    if len(y) == 1 and len(x.shape) == 3:
        return imp.emit(Flatten(), [x], y, base="flatten")
    return imp.emit(Reshape(shape=y), [x], y, base="view")


def _flatten(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    start = _arg(args, kwargs, 1, "start_dim", 0)
    if start == 0 and not (isinstance(args[0], TV) and args[0].form == "grouped_t"):
        raise Unsupported("flatten of the batch dimension")
    return _view_to(imp, args[0], imp.out(result), "flatten")


def _m_flatten(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if m.start_dim == 0:
        raise Unsupported("flatten of the batch dimension")
    return _view_to(imp, args[0], imp.out(result), "flatten")


def _view(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    if isinstance(args[0], PV):  # a parameter reshaped to broadcast (timm's gamma.reshape(1, -1, 1, 1))
        return PV(args[0].path, args[0].tensor, tuple(int(d) for d in result.shape))
    if tuple(result.shape[:1]) != (BATCH,):
        raise Unsupported("a view that merges the batch dimension")
    return _view_to(imp, args[0], imp.out(result), "view")


def _permute(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    if not isinstance(x, TV) or x.scale is not None:
        raise Unsupported("permute of a non-tensor")
    dims = tuple(args[1:]) if len(args) > 2 else _arg(args, kwargs, 1, "dims")
    dims = _dims(tuple(dims), len(x.shape) + 1)
    if x.form == "std" and len(x.shape) == 3 and dims == (0, 2, 3, 1):
        return TV(x.leaf, imp.out(result), "nhwc")
    if x.form == "nhwc" and dims == (0, 3, 1, 2):
        return TV(x.leaf, imp.out(result))
    raise Unsupported(f"permute {list(dims)} of a {x.form} tensor (only to channels-last and back)")


def _transpose(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    dims = tuple(sorted(_dims((args[1], args[2]), len(x.shape) + 1))) if isinstance(x, TV) else ()
    if isinstance(x, TV) and x.form == "grouped" and dims == (1, 2):
        return TV(x.leaf, imp.out(result), "grouped_t", groups=x.groups)
    raise Unsupported("transpose (only inside a channel shuffle)")


def _contiguous(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = args[0]
    if isinstance(x, TV) and x.form == "grouped_t":
        v = imp.emit(ChannelShuffle(groups=x.groups), [TV(x.leaf, imp.cshape(x))], imp.cshape(x), base="shuffle")
        return TV(v.leaf, imp.out(result), "regrouped", groups=x.groups)
    if isinstance(x, TV) and x.form in ("std", "grouped", "regrouped"):
        return x
    raise Unsupported("contiguous copy of a permuted tensor")


def _alias(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    x = args[0]
    if isinstance(x, TV):
        return x
    raise Unsupported("")


def _m_identity(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    return args[0]


def _chunk(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    x = imp._tensor(args[0])
    chunks, dim = int(_arg(args, kwargs, 1, "chunks")), _arg(args, kwargs, 2, "dim", 0)
    if len(x.shape) != 3 or dim % 4 != 1:
        raise Unsupported("chunk along a dimension other than the channels")
    return Pieces(x, chunks, chunk_sizes(x.shape[0], chunks), {})


def _split(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    x = imp._tensor(args[0])
    size, dim = _arg(args, kwargs, 1, "split_size_or_sections", None), _arg(args, kwargs, 2, "dim", 0)
    if size is None:
        size = _arg(args, kwargs, 1, "split_size")
    if len(x.shape) != 3 or dim % 4 != 1:
        raise Unsupported("split along a dimension other than the channels")
    sizes = [int(t.shape[1]) for t in result]
    for chunks in range(1, x.shape[0] + 1):
        if chunk_sizes(x.shape[0], chunks) == sizes:
            return Pieces(x, chunks, sizes, {})
    raise Unsupported(f"split into {sizes} channels (only into torch.chunk's sizes)")


def _getitem(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> Any:
    seq, index = args[0], args[1]
    if isinstance(seq, Pieces):
        return imp._piece(seq, int(index))
    if isinstance(seq, (list, tuple)):
        return seq[index]
    if isinstance(seq, dict):
        return seq[index]
    if isinstance(seq, TV):
        x = imp._tensor(seq)
        return _slice(imp, x, index, result)
    raise Unsupported("indexing")


def _slice(imp: _Importer, x: TV, index: Any, result: Any) -> TV:
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) < 2 or index[0] != slice(None) or any(i != slice(None) for i in index[2:]):
        raise Unsupported("indexing other than a channel slice")
    s = index[1]
    if not isinstance(s, slice) or s.step not in (None, 1):
        raise Unsupported("indexing other than a channel slice")
    c = x.shape[0]
    start, stop, _ = s.indices(c)
    for chunks in range(1, c + 1):
        sizes = chunk_sizes(c, chunks)
        edges = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        for i in range(len(sizes)):
            if (edges[i], edges[i + 1]) == (start, stop):
                return imp.emit(Chunk(chunks=chunks, index=i), [x], imp.out(result), base="chunk")
    raise Unsupported(f"channel slice {start}:{stop} of {c}")


def _cat(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    items = _arg(args, kwargs, 0, "tensors")
    dim = _arg(args, kwargs, 1, "dim", None)
    if dim is None:
        dim = kwargs.get("axis", 0)
    flat: list[TV] = []
    for item in (items if isinstance(items, (list, tuple)) else [items]):
        if isinstance(item, Pieces):
            flat.extend(imp._piece(item, i) for i in range(item.chunks))
        else:
            flat.append(imp._tensor(item, ("std", "nhwc")))
    forms = {v.form for v in flat}
    rank = len(flat[0].shape) + 1
    if forms == {"std"} and rank == 4 and dim % 4 == 1:
        return imp.emit(ConcatMerge(), flat, imp.out(result))
    if forms == {"nhwc"} and dim % 4 == 3:
        return imp.emit(ConcatMerge(), flat, imp.out(result), form="nhwc")
    raise Unsupported(f"concatenation along dim {dim} (only along the channels)")


# ----------------------------------------------------------------------------- arithmetic

def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _add(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    a, b = args[0], _arg(args, kwargs, 1, "other")
    alpha = kwargs.get("alpha", 1)
    if not isinstance(a, TV) or not isinstance(b, TV):
        raise Unsupported("addition of a constant or a parameter")
    if alpha != 1:
        if b.scale is not None:
            raise Unsupported("scaled addition")
        b = TV(b.leaf, b.shape, b.form, b.groups, float(alpha))
    if a.form != b.form or a.form not in ("std", "nhwc"):
        raise Unsupported("addition of tensors in different layouts")
    if a.shape != b.shape:
        raise Unsupported(f"broadcast addition of {'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))}")
    scale = 1.0
    if a.scale is not None and b.scale is not None:
        raise Unsupported("addition of two tensors scaled by constants")
    if b.scale is not None:
        a, b = b, a
    if a.scale is not None:
        scale = a.scale
    inputs = [TV(a.leaf, a.shape, a.form), TV(b.leaf, b.shape, b.form)]
    v = imp.emit(Add(scale=scale), inputs, a.shape, form=a.form)
    inplace = _mutating(node)
    return imp.rebind(node, v) if inplace else v


def _mul(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    a, b = args[0], _arg(args, kwargs, 1, "other")
    inplace = _mutating(node)
    if _number(a):
        a, b = b, a
    if isinstance(a, TV) and _number(b):
        if a.scale is not None:
            return TV(a.leaf, a.shape, a.form, a.groups, a.scale * float(b))
        return TV(a.leaf, a.shape, a.form, a.groups, float(b))
    if isinstance(a, PV):
        a, b = b, a
    if isinstance(a, TV) and isinstance(b, PV):
        x = imp._tensor(a, ("std", "nhwc"))
        c = imp.cshape(x)[0] if len(x.shape) == 3 else None
        shape = tuple(d for d in b.shape)
        per_channel = c is not None and (
            (x.form == "std" and shape[-3:] == (c, 1, 1) and numel(shape) == c)
            or (x.form == "nhwc" and shape[-1:] == (c,) and numel(shape) == c))
        if not per_channel:
            raise Unsupported(f"multiplication by a {'x'.join(map(str, shape))} parameter")
        init = float(b.tensor.detach().reshape(-1)[0]) if b.tensor.numel() else 1e-6
        name = b.path.rpartition(".")[2]
        v = imp.emit(LayerScale(init=init), [x], x.shape, base=name, params=_params(b), form=x.form)
        return imp.rebind(node, v) if inplace else v
    if isinstance(a, TV) and isinstance(b, TV):
        a, b = imp._tensor(a, ("std", "nhwc")), imp._tensor(b, ("std", "nhwc"))
        if a.form != b.form:
            raise Unsupported("multiplication of tensors in different layouts")
        if numel(b.shape) > numel(a.shape):
            a, b = b, a
        if a.form == "std" and len(a.shape) == 3 and b.shape in ((a.shape[0], 1, 1), a.shape):
            v = imp.emit(Mul(), [a, b], a.shape)
        elif a.shape == b.shape:
            v = imp.emit(Mul(), [a, b], a.shape, form=a.form)
        else:
            raise Unsupported(f"broadcast multiplication of {'x'.join(map(str, a.shape))} and "
                              f"{'x'.join(map(str, b.shape))}")
        return imp.rebind(node, v) if inplace else v
    raise Unsupported("multiplication")


def _div(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    a, b = args[0], _arg(args, kwargs, 1, "other")
    if isinstance(a, TV) and _number(b) and b != 0:
        return TV(a.leaf, a.shape, a.form, a.groups, (a.scale or 1.0) / float(b))
    raise Unsupported("division")


# ----------------------------------------------------------------------------- resampling, padding

def _interpolate(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    size, factor = _arg(args, kwargs, 1, "size"), _arg(args, kwargs, 2, "scale_factor")
    mode = _arg(args, kwargs, 3, "mode", "nearest")
    align = _arg(args, kwargs, 4, "align_corners")
    recompute = _arg(args, kwargs, 5, "recompute_scale_factor")
    if _arg(args, kwargs, 6, "antialias", False):
        raise Unsupported("antialiased interpolation")
    return _upsample(imp, x, factor if not recompute else None, mode, align, result)


def _upsample(imp: _Importer, x: TV, factor: Any, mode: str, align: Any, result: Any) -> TV:
    if mode not in ("nearest", "bilinear") or len(x.shape) != 3:
        raise Unsupported(f"interpolation mode '{mode}'")
    y = imp.out(result)
    layer = None
    if factor is not None:
        fh, fw = (factor, factor) if _number(factor) else tuple(factor)
        if (int(x.shape[1] * float(fh)), int(x.shape[2] * float(fw))) == y[1:]:
            layer = Upsample(scale_factor=float(fh) if fh == fw else (float(fh), float(fw)), mode=mode,
                             align_corners=bool(align) if mode == "bilinear" else False)
    if layer is None:
        layer = Upsample(size=_pair_or_int(y[1:]), mode=mode, align_corners=bool(align) if mode == "bilinear" else False)
    return imp.emit(layer, [x], y)


def _m_upsample(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    align = m.align_corners
    if type(m).__name__ == "UpsamplingBilinear2d":
        align = True
    return _upsample(imp, imp._tensor(args[0]), m.scale_factor, m.mode, align, result)


def _pad(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    pad = tuple(int(p) for p in _arg(args, kwargs, 1, "pad"))
    mode = _arg(args, kwargs, 2, "mode", "constant")
    value = _arg(args, kwargs, 3, "value", None)
    return _pad_on(imp, x, pad, mode, value, result)


def _pad_on(imp: _Importer, x: TV, pad: tuple, mode: str, value: Any, result: Any) -> TV:
    if len(x.shape) != 3:
        raise Unsupported("padding of a flat tensor")
    if len(pad) == 2:
        pad = (*pad, 0, 0)
    if len(pad) != 4 or min(pad) < 0:
        raise Unsupported(f"padding {list(pad)} (only 4 non-negative spatial pads)")
    if mode == "constant" and value in (None, 0, 0.0):
        kind = "zeros"
    elif mode == "reflect":
        kind = "reflect"
    else:
        raise Unsupported(f"padding mode '{mode}'" + (f" with value {value}" if mode == "constant" else ""))
    padding: Any = pad[0] if len(set(pad)) == 1 else pad
    return imp.emit(Pad(padding=padding, mode=kind), [x], imp.out(result))


def _m_pad(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    name = type(m).__name__
    mode = "reflect" if name == "ReflectionPad2d" else "constant" if name in ("ZeroPad2d", "ConstantPad2d") else None
    if mode is None:
        raise Unsupported("")
    return _pad_on(imp, imp._tensor(args[0]), tuple(m.padding), mode, getattr(m, "value", 0), result)


def _m_pixel_shuffle(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    if type(m).__name__ == "PixelShuffle":
        return imp.emit(PixelShuffle(factor=int(m.upscale_factor)), [x], imp.out(result))
    return imp.emit(PixelUnshuffle(factor=int(m.downscale_factor)), [x], imp.out(result))


def _pixel_shuffle(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return imp.emit(PixelShuffle(factor=int(args[1])), [imp._tensor(args[0])], imp.out(result))


def _channel_shuffle(imp: _Importer, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    return imp.emit(ChannelShuffle(groups=int(_arg(args, kwargs, 1, "groups"))), [x], x.shape, base="shuffle")


def _m_center_crop(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    from ..layers import CenterCrop
    tensors = [imp._tensor(a) for a in args if isinstance(a, TV)]
    if len(tensors) == 2:
        return imp.emit(CenterCrop(inputs=("x", "like")), tensors, imp.out(result))  # inputs: set by the builder
    return imp.emit(CenterCrop(size=_pair_or_int(m.size)), tensors[:1], imp.out(result))


def _m_channel_shuffle(imp: _Importer, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp._tensor(args[0])
    return imp.emit(ChannelShuffle(groups=int(m.groups)), [x], x.shape)


# ----------------------------------------------------------------------------- tables

def _f(name: str) -> Any:
    import torch
    import torch.nn.functional as F
    obj: Any = F if name.startswith("F.") else torch
    for part in name.removeprefix("F.").removeprefix("torch.").split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _leaky_fields(args: tuple, kwargs: dict) -> dict:
    return {"negative_slope": float(_arg(args, kwargs, 1, "negative_slope", 0.01))}


def _hardtanh_fields(args: tuple, kwargs: dict) -> dict:
    return {"min_val": float(_arg(args, kwargs, 1, "min_val", -1.0)), "max_val": float(_arg(args, kwargs, 2, "max_val", 1.0))}


_FUNCTION_NAMES: dict[str, Callable] = {
    "F.relu": _act(ReLU), "torch.relu": _act(ReLU, inplace_arg=None), "torch.relu_": _act(ReLU, inplace_always=True),
    "F.relu_": _act(ReLU, inplace_always=True), "F.relu6": _act(ReLU6),
    "F.leaky_relu": _act(LeakyReLU, inplace_arg=2, fields=_leaky_fields),
    "F.leaky_relu_": _act(LeakyReLU, inplace_always=True, fields=_leaky_fields),
    "F.silu": _act(SiLU), "F.hardswish": _act(Hardswish), "F.hardsigmoid": _act(Hardsigmoid),
    "F.hardtanh": _act(Hardtanh, inplace_arg=3, fields=_hardtanh_fields),
    "F.hardtanh_": _act(Hardtanh, inplace_always=True, fields=_hardtanh_fields),
    "F.mish": _act(Mish), "torch.sigmoid": _act(Sigmoid, inplace_arg=None), "F.sigmoid": _act(Sigmoid, inplace_arg=None),
    "torch.tanh": _act(Tanh, inplace_arg=None), "F.tanh": _act(Tanh, inplace_arg=None),
    "F.gelu": _act(GELU, inplace_arg=None), "F.softmax": _softmax, "torch.softmax": _softmax,
    "torch.clamp": _clamp, "torch.clip": _clamp,
    "F.dropout": _dropout, "F.max_pool2d": _max_pool2d, "F.avg_pool2d": _avg_pool2d,
    "F.adaptive_avg_pool2d": _adaptive_avg_pool2d, "F.adaptive_max_pool2d": _adaptive_max_pool2d,
    "F.interpolate": _interpolate, "F.upsample": _interpolate, "F.pad": _pad, "F.layer_norm": _layer_norm,
    "F.batch_norm": _batch_norm, "F.group_norm": _group_norm, "F.conv2d": _conv2d, "F.linear": _linear,
    "F.pixel_shuffle": _pixel_shuffle, "torch.pixel_shuffle": _pixel_shuffle,
    "torch.channel_shuffle": _channel_shuffle, "F.channel_shuffle": _channel_shuffle,
    "torch.flatten": _flatten, "torch.reshape": _view, "torch.permute": _permute, "torch.transpose": _transpose,
    "torch.cat": _cat, "torch.concat": _cat, "torch.concatenate": _cat, "torch.chunk": _chunk,
    "torch.split": _split, "torch.mean": _mean, "torch.add": _add, "torch.mul": _mul, "torch.multiply": _mul,
    "torch.div": _div,
}

FUNCTIONS: dict[Any, Callable] = {operator.add: _add, operator.iadd: _add, operator.mul: _mul, operator.imul: _mul,
                                  operator.truediv: _div, operator.getitem: _getitem}


def _by_name(target: Any) -> Callable | None:
    """Functions reached through a module (torchvision.ops.stochastic_depth, fx-wrapped)."""
    name = getattr(target, "__name__", "")
    module = getattr(target, "__module__", "") or ""
    if name == "stochastic_depth" and module.startswith("torchvision"):
        return _stochastic_depth
    if name == "channel_shuffle" and module.startswith("torchvision"):
        return _channel_shuffle
    return None


_INITIALISED: list[bool] = []


def _init_functions() -> None:
    """Key the handlers by torch's function objects (imports torch: called by the first import run)."""
    if _INITIALISED:
        return
    _INITIALISED.append(True)
    for key, handler in _FUNCTION_NAMES.items():
        obj = _f(key)
        if obj is not None:
            FUNCTIONS.setdefault(obj, handler)


METHODS: dict[str, Callable] = {
    "relu": _act(ReLU, inplace_arg=None), "relu_": _act(ReLU, inplace_always=True),
    "sigmoid": _act(Sigmoid, inplace_arg=None), "sigmoid_": _act(Sigmoid, inplace_arg=None),
    "tanh": _act(Tanh, inplace_arg=None), "tanh_": _act(Tanh, inplace_arg=None),
    "clamp": _clamp, "clamp_": _clamp, "clip": _clamp, "clip_": _clamp,
    "softmax": _softmax, "flatten": _flatten, "view": _view, "reshape": _view, "permute": _permute,
    "transpose": _transpose, "contiguous": _contiguous, "mean": _mean, "chunk": _chunk, "split": _split,
    "add": _add, "add_": _add, "mul": _mul, "mul_": _mul, "div": _div, "__getitem__": _getitem,
    "expand_as": _alias, "expand": _alias, "float": _alias, "type_as": _alias, "to": _alias, "clone": _alias,
    "squeeze": _view, "unsqueeze": _view, "view_as": _view,
}

MODULES: dict[str, Callable] = {
    "Conv2d": _m_conv, "ConvTranspose2d": _m_conv_t, "Linear": _m_linear, "BatchNorm2d": _m_batchnorm,
    "BatchNorm1d": _m_batchnorm, "SyncBatchNorm": _m_batchnorm, "LayerNorm": _m_layer_norm,
    "GroupNorm": _m_group_norm, "InstanceNorm2d": _m_instance_norm, "LocalResponseNorm": _m_lrn,
    "ReLU": _module_act(ReLU), "ReLU6": _module_act(ReLU6),
    "LeakyReLU": _module_act(LeakyReLU, lambda m: {"negative_slope": float(m.negative_slope)}),
    "SiLU": _module_act(SiLU), "Hardswish": _module_act(Hardswish), "Hardsigmoid": _module_act(Hardsigmoid),
    "Hardtanh": _module_act(Hardtanh, lambda m: {"min_val": float(m.min_val), "max_val": float(m.max_val)}),
    "Mish": _module_act(Mish), "Sigmoid": _module_act(Sigmoid), "Tanh": _module_act(Tanh),
    "GELU": _module_act(GELU), "Softmax": _m_softmax, "Identity": _m_identity, "Dropout": _m_dropout,
    "MaxPool2d": _m_maxpool, "AvgPool2d": _m_avgpool, "AdaptiveAvgPool2d": _m_adaptive_avg,
    "AdaptiveMaxPool2d": _m_adaptive_max, "Flatten": _m_flatten, "Upsample": _m_upsample,
    "PixelShuffle": _m_pixel_shuffle, "PixelUnshuffle": _m_pixel_shuffle, "ZeroPad2d": _m_pad,
    "ConstantPad2d": _m_pad, "ReflectionPad2d": _m_pad, "ChannelShuffle": _m_channel_shuffle,
    "StochasticDepth": _m_stochastic_depth, "DropPath": _m_stochastic_depth, "CenterCrop": _m_center_crop,
}

