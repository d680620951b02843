"""Running a module to learn its graph: torch.fx tracing with retries (a module fx cannot trace
through becomes a leaf), one pass over the trace on fake tensors for every tensor's shape, and
keeping the module's buffers as they were."""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

from ...errors import CnnCostError
from .guarded import restore_buffers, save_buffers
from .meta_run import fetch, module_table
from .values import BATCH


def _leaf_classes() -> tuple[type, ...]:
    """Stochastic depth of torchvision and timm: layers, not code to trace into. Only where the
    defining module is loaded: a model holding one has loaded it, and importing timm or torchvision
    for a model that has none would cost seconds."""
    import sys
    found: list[type] = []
    for module, name in (("torchvision.ops.stochastic_depth", "StochasticDepth"), ("timm.layers.drop", "DropPath")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def _leaf_functions() -> tuple[Any, ...]:
    """Library functions traced as one call each, where a handler maps the call (`tables.py`,
    `function_handler`): torchvision's ShuffleNet channel shuffle, whose ten view and size nodes
    cost an import more than torchinfo's whole forward. Only where the defining module is loaded."""
    import sys
    found = getattr(sys.modules.get("torchvision.models.shufflenetv2"), "channel_shuffle", None)
    return (found,) if callable(found) else ()


@dataclass
class Trace:
    """A torch.fx trace: its graph and the module whose submodules and attributes the graph's nodes
    name. What a GraphModule holds, without the Python code a GraphModule generates and compiles
    (a third of the trace's time), which the interpreter and the walk never run."""

    root: Any
    graph: Any
    modules: dict[str, Any] = field(default_factory=dict)  # path -> submodule, filled on first use

    def get_submodule(self, target: str) -> Any:
        """`root.get_submodule(target)` from a table of every path (torch walks the path each time:
        a tenth of the walk on small nets)."""
        found = self.paths().get(target)
        return found if found is not None else self.root.get_submodule(target)

    def paths(self) -> dict[str, Any]:
        """Every submodule by every path that reaches it (`meta_run.module_table`), made once."""
        if not self.modules:
            self.modules.update(module_table(self.root))
        return self.modules


def trace_module(module: Any, *, attempts: int = 50, leaves: tuple[type, ...] = ()) -> tuple[Trace, dict[str, str]]:
    """The torch.fx trace of `module` (torch.nn modules, stochastic depth and the classes in
    `leaves` are leaves), and the modules fx could not trace through, each kept as a leaf with the
    reason: when tracing fails inside a module, that module becomes a leaf and tracing starts again."""
    import torch
    import torch.fx
    from ...torch_backend.own_modules import CenterCrop as CropModule, StochasticDepth as DropPathModule

    extra = _leaf_classes() + (DropPathModule, CropModule) + tuple(leaves)
    untraceable: dict[str, str] = {}
    proxy = _proxy_class()

    class Tracer(torch.fx.Tracer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # fx copies these at every module call and node with copy.copy's generic path (a
            # tenth of the trace): the same objects, copied by their own __copy__
            self.scope = _cheap_copies(type(self.scope))(self.scope.module_path, self.scope.module_type)
            self.module_stack = _shared_copies(type(self.module_stack))(self.module_stack)

        def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
            if qualname in untraceable or isinstance(m, extra):
                return True
            return super().is_leaf_module(m, qualname)

        def proxy(self, node: Any) -> Any:
            return proxy(node, self)

        def create_arg(self, a: Any) -> Any:
            return plain_arg(self, a, proxy, self._other_arg)

        def _other_arg(self, a: Any) -> Any:
            """fx's create_arg, a parameter or buffer of the root found in a table (fx searches
            every parameter for each)."""
            if isinstance(a, torch.Tensor):
                found = tensor_names(self, isinstance(a, torch.nn.Parameter)).get(id(a))
                if found is not None:
                    return self.create_node("get_attr", found, (), {})
            return super().create_arg(a)

        def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
            return attribute_proxy(self, attr_val, parameter_proxy_cache)

        def create_node(self, kind: str, target: Any, args: Any, kwargs: Any, name: Any = None,
                        type_expr: Any = None) -> Any:
            return lean_node(self, super().create_node, kind, target, args, kwargs, name, type_expr)

    wrapped = _leaf_functions()
    for _ in range(attempts):
        tracer = Tracer(autowrap_functions=wrapped)
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
        return Trace(tracer.root, graph), untraceable
    raise CnnCostError(f"torch.fx cannot trace {type(module).__name__} (gave up after {attempts} modules)")


def _unpacked(code: Any, offset: int) -> int | None:
    """How many values the instruction at `offset` of `code` unpacks (UNPACK_SEQUENCE), else None;
    each code object disassembled once."""
    import bisect
    import dis
    import sys

    table = _INSTRUCTIONS.get(code)
    if table is None:
        instructions = list(dis.get_instructions(code))
        table = _INSTRUCTIONS[code] = ([i.offset for i in instructions], instructions)
    offsets, instructions = table
    index = bisect.bisect_left(offsets, offset) if sys.version_info >= (3, 11) else offset // 2
    instruction = instructions[index]
    return instruction.argval if instruction.opname == "UNPACK_SEQUENCE" else None


_PLAIN = frozenset((int, float, bool, str))  # arguments torch.fx keeps as they are


def plain_arg(tracer: Any, a: Any, proxy_class: type, fallback: Callable[[Any], Any]) -> Any:
    """A tracer's `create_arg`: torch.fx's answer for the commonest arguments (a proxy of
    `proxy_class`, a plain value, tuples, lists and str-keyed dicts of them) without the checks it
    makes of every argument first (parameter, buffer, module, constant, opaque type: a third of
    the trace); anything else by `fallback`, torch.fx's own."""
    kind = type(a)
    if kind is proxy_class:
        return a.node
    if kind in _PLAIN or a is None:
        return a
    if kind is tuple:
        return tuple(tracer.create_arg(item) for item in a)
    if kind is list:
        return [tracer.create_arg(item) for item in a]
    if kind is dict and all(type(k) is str for k in a):
        return {k: tracer.create_arg(v) for k, v in a.items()}
    return fallback(a)


def tensor_names(tracer: Any, parameters: bool) -> dict[int, str]:
    """id -> the first name of each of the root's parameters (or buffers), in named_parameters'
    (named_buffers') order, made once per trace."""
    tables: dict[bool, dict[int, str]] = tracer.__dict__.setdefault("cnncost_tensor_names", {})
    table = tables.get(parameters)
    if table is None:
        table = tables[parameters] = {}
        for name, tensor in (tracer.root.named_parameters() if parameters else tracer.root.named_buffers()):
            table.setdefault(id(tensor), name)
    return table


def attribute_proxy(tracer: Any, value: Any, cache: dict[str, Any]) -> Any:
    """torch.fx's `Tracer.getattr` (a module attribute read while tracing: a parameter or buffer of
    the root is one get_attr node), its parameter found in a table: fx searches every parameter of
    the model for each read (Swin V2's position-bias MLP and logit scales: a tenth of its import)."""
    import torch
    from torch.fx.proxy import ParameterProxy

    name = tensor_names(tracer, True).get(id(value)) if isinstance(value, torch.nn.Parameter) else None
    if name is None and tracer.proxy_buffer_attributes and isinstance(value, torch.Tensor):
        name = tensor_names(tracer, False).get(id(value))
    if name is None:
        return value
    if name not in cache:
        factory = (lambda node: ParameterProxy(tracer, node, name, value)) if tracer.param_shapes_constant else None
        cache[name] = tracer.create_proxy("get_attr", name, (), {}, proxy_factory_fn=factory)
    return cache[name]


def lean_node(tracer: Any, create: Callable[..., Any], kind: str, target: Any, args: Any, kwargs: Any,
              name: Any, type_expr: Any) -> Any:
    """A tracer's `create_node`: torch.fx's node made without its arguments, which are then set
    (`Node.args`, `Node.kwargs`: users and uses kept as fx keeps them). fx's Graph.create_node
    walks a call's arguments with pytree for symbolic ints, which a trace on proxies never holds
    (a fifth of the trace)."""
    if not args and not kwargs:
        return create(kind, target, args, kwargs, name, type_expr)
    node = create(kind, target, (), {}, name, type_expr)
    node.args = args
    if kwargs:
        node.kwargs = kwargs
    return node


_INSTRUCTIONS: "weakref.WeakKeyDictionary[Any, tuple[list[int], list[Any]]]" = weakref.WeakKeyDictionary()


def _cheap_copies(cls: type) -> type:
    """`cls` (fx's Scope) with a `__copy__` that copy.copy calls directly instead of reducing the
    object (one subclass per class)."""
    made = _CHEAP_COPIES.get(cls)
    if made is None:
        def copy(self: Any) -> Any:
            return type(self)(self.module_path, self.module_type)
        made = _CHEAP_COPIES[cls] = type(cls.__name__, (cls,), {"__copy__": copy})
    return made


_CHEAP_COPIES: dict[type, type] = {}


def _shared_copies(cls: type) -> type:
    """`cls` (the OrderedDict of fx's module stack, which fx copies into every node's
    `nn_module_stack`) whose copies are one `cls` object while it is not changed: the nodes of one
    module call share it (none changes it), copied once instead of per node, and the walk names
    their rows once per stack (`naming.RowNames.scopes`)."""
    made = _SHARED_COPIES.get(cls)
    if made is not None:
        return made

    def copy(self: Any) -> Any:
        if self.shared is None:
            self.shared = cls(self)
        return self.shared

    def changing(name: str) -> Callable[..., Any]:
        method = getattr(cls, name)

        def change(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.shared = None
            return method(self, *args, **kwargs)
        return change

    namespace: dict[str, Any] = {"__copy__": copy, "shared": None}
    for name in ("__setitem__", "__delitem__", "popitem", "pop", "clear", "update", "setdefault", "move_to_end"):
        if hasattr(cls, name):
            namespace[name] = changing(name)
    made = _SHARED_COPIES[cls] = type(cls.__name__, (cls,), namespace)
    return made


_SHARED_COPIES: dict[type, type] = {}


@functools.cache
def _proxy_class() -> type:
    """torch.fx's Proxy, whose `a, b, c, d = x.size()` reads the unpacking instruction from a cache:
    torch.fx disassembles the calling function at every unpacking (ShuffleNet: a quarter of the trace)."""
    import sys

    import torch.fx

    class Proxy(torch.fx.Proxy):
        def __iter__(self) -> Any:
            caller = sys._getframe(1)
            count = _unpacked(caller.f_code, caller.f_lasti)
            if count is not None:
                return (self[i] for i in range(count))  # type: ignore[index]  # fx adds Proxy's magic methods at import
            return self.tracer.iter(self)

    return Proxy


def _examples(x_shape: Any, make: Any, ids: frozenset[int] = frozenset()) -> list[Any]:
    """One example tensor per input: `x_shape` is one per-sample shape or a list of them; the
    inputs numbered in `ids` are integer ids (int64 zeros: a row of any table)."""
    import torch
    shapes = x_shape if x_shape and isinstance(x_shape[0], (tuple, list)) else [x_shape]
    return [torch.zeros_like(make(BATCH, *shape), dtype=torch.long) if i in ids else make(BATCH, *shape)
            for i, shape in enumerate(shapes)]


def id_inputs(trace: Trace) -> frozenset[int]:
    """The inputs (placeholders, in order) that only embeddings read: integer ids, which a float
    example would fail in F.embedding (`layers.embedding.ids_inputs` says the same of the net)."""
    import torch
    import torch.nn.functional as F

    def embeds(user: Any, placeholder: Any) -> bool:
        if user.op == "call_module":
            return isinstance(fetch(trace.root, user.target), torch.nn.Embedding)
        return user.op == "call_function" and user.target is F.embedding and user.args[:1] == (placeholder,)

    placeholders = [n for n in trace.graph.nodes if n.op == "placeholder"]
    return frozenset(i for i, p in enumerate(placeholders) if p.users and all(embeds(u, p) for u in p.users))


def record(trace: Trace, x_shape: Any) -> dict[Any, Any]:
    """Run the traced graph once and keep every node's result. On meta tensors first (the module's
    parameters and buffers swapped for meta twins for the run: shapes only, no data, no memory,
    no fake-tensor dispatch), else on fake tensors (the ops meta tensors cannot run), else on a
    copy of the module with real tensors (the ops neither can). The module's buffers are as they
    were after it: a train-mode pass on fake tensors could move BatchNorm's running statistics, so
    they are copied first and put back (the meta run reads meta twins of them: no copy needed).
    Where an op of the meta run fails as it fails on real tensors (`meta_run.raises_for_real`),
    `meta_run.ForwardRaises` says where, at once."""
    from .meta_run import ForwardRaises, MetaRunFailed, raises_for_real

    results: dict[Any, Any] = {}
    try:
        _on_meta(trace, x_shape, results)
        return results
    except MetaRunFailed as failed:
        if raises_for_real(trace, failed, results):  # the model's own error: final at once
            raise ForwardRaises(trace, failed.node, failed.error) from None
        results.clear()
    except Exception:  # noqa: BLE001 - fake tensors run what meta tensors cannot
        results.clear()
    buffers = save_buffers(trace.root)
    try:
        try:
            _on_fake(trace, x_shape, results)
            return results
        except Exception:  # noqa: BLE001 - real tensors run what fake ones cannot
            results.clear()
        _on_real(trace, x_shape, results)
        return results
    finally:
        restore_buffers(buffers)


def _recorder(module: Any, graph: Any, results: dict[Any, Any]) -> Any:
    """An fx Interpreter running `graph` on `module` that keeps each node's value in `results`."""
    import torch.fx

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            value = super().run_node(n)
            results[n] = value
            return value

    return Recorder(module, graph=graph)


def _on_meta(trace: Trace, x_shape: tuple[int, ...], results: dict[Any, Any]) -> None:
    import torch

    from .meta_run import run_meta
    from .meta_shapes import ShapeRules

    with ShapeRules():
        run_meta(trace, _examples(x_shape, functools.partial(torch.empty, device="meta"), id_inputs(trace)), results)


def _on_fake(trace: Trace, x_shape: tuple[int, ...], results: dict[Any, Any]) -> None:
    import logging

    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)  # a failing meta kernel logs a traceback before raising
    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            _recorder(trace.root, trace.graph, results).run(*_examples(x_shape, torch.empty, id_inputs(trace)))
    finally:
        log.setLevel(level)


def _on_real(trace: Trace, x_shape: tuple[int, ...], results: dict[Any, Any]) -> None:
    import copy

    import torch
    clone = copy.deepcopy(trace.root)  # the module's buffers untouched
    with torch.no_grad():
        _recorder(clone, trace.graph, results).run(*_examples(x_shape, torch.randn, id_inputs(trace)))


def export_call(module: Any, args: tuple, kwargs: dict) -> Any:
    """`torch.export.export(module, args, kwargs, strict=False)` (the module in its current mode;
    torch's logging of a failed export silenced: the caller reports the error)."""
    import contextlib
    import io
    import logging
    import warnings

    import torch
    names = ("torch._dynamo", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes",
             "torch._subclasses.fake_tensor", "torch.fx.experimental.recording")
    logs = [logging.getLogger(n) for n in names]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return torch.export.export(module, args, kwargs, strict=False)
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)


def trace_function(fn: Any, args: tuple, kwargs: dict) -> Any:
    """One call of the Python function `fn` as the training-IR graph torch.export would give it
    (make_fx, pre-dispatch, on fake tensors: about half export's time), in the shape of an
    ExportedProgram (`graph_module`, `graph_signature`, `constants`, `call_spec`) for the export
    walker: every leaf of (args, kwargs) a user input, the result's leaves the user outputs."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.export.graph_signature import OutputKind
    from torch.fx.experimental.proxy_tensor import make_fx
    from torch.utils._pytree import tree_flatten, tree_unflatten

    flat, in_spec = tree_flatten((args, kwargs))
    out_spec: list[Any] = []

    def flat_call(*leaves: Any) -> list[Any]:
        call_args, call_kwargs = tree_unflatten(list(leaves), in_spec)
        outputs, spec = tree_flatten(fn(*call_args, **call_kwargs))
        out_spec.append(spec)
        return outputs

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    fakes = [mode.from_tensor(v) if isinstance(v, torch.Tensor) else v for v in flat]
    with mode:
        gm = make_fx(flat_call, pre_dispatch=True)(*fakes)
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    outputs = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    signature = SimpleNamespace(inputs_to_parameters={}, inputs_to_buffers={}, user_inputs=placeholders,
                                output_specs=[SimpleNamespace(kind=OutputKind.USER_OUTPUT)] * len(outputs))
    return SimpleNamespace(graph_module=gm, graph_signature=signature, constants={},
                           call_spec=SimpleNamespace(out_spec=out_spec[-1]))
