"""A Python function torch.fx kept as one call (`torch.fx.wrap`: torchvision's Swin window
attention) traced through at the torch level, for the fx walk to take in place of the call.

torch.fx cannot trace such code (it branches on sizes: `if window_size[0] >= pad_H`), and
make_fx on fake tensors traces it slowly (tens of ms a call, most of a Swin import). Here the
function runs once on proxies that carry the meta values of the traced call's arguments: each
torch call, method and Python operator becomes an fx node with its value (a meta tensor, a size),
and where the code needs a concrete answer (a branch, `len`, `int`) it gets the value, as make_fx
on fake tensors of the same shapes would. Sizes stay nodes (`x.shape`, `x.size(0)`), so the walk
sees where the batch goes as it does in the fx trace of a module."""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

from .tracing import lean_node, plain_arg
from .values import holds


@dataclass
class Inlined:
    """One call traced through: its graph (placeholders first, one per fx node the call reads,
    in `sources` order), each node's value, and the call's result with its proxies' nodes in place."""

    graph: Any
    values: dict[Any, Any]
    sources: list[Any]
    result: Any
    constants: dict[str, Any]  # the tensors the function made from numbers alone, by get_attr target


def trace_call(fn: Any, args: tuple, kwargs: dict, results: dict[Any, Any], stack: Any) -> Inlined:
    """`fn(*args, **kwargs)` of an fx call node's arguments (fx nodes among them, whose traced
    values `results` holds) run on value-carrying proxies; every node made gets the module stack
    `stack` (its rows go to the caller's block). Raises what the function raises on meta tensors."""
    import torch
    import torch.fx
    from torch.fx.node import map_arg

    tracer = _tracer_class()()
    tracer.graph = torch.fx.Graph()
    tracer.root = torch.nn.Module()  # holds the tensor constants the function makes, as fx does
    tracer.tensor_attrs = {}
    tracer.stack = dict(stack or {})
    sources: list[Any] = []
    proxies: dict[Any, Any] = {}

    def placeholder(n: Any) -> Any:
        if n not in proxies:
            proxy = tracer.create_proxy("placeholder", f"arg{len(sources)}", (), {})
            tracer.values[proxy.node] = _as_meta(results[n], torch)
            proxies[n] = proxy
            sources.append(n)
        return proxies[n]

    call_args, call_kwargs = map_arg((args, kwargs), placeholder)
    out = fn(*call_args, **call_kwargs)
    result = torch.fx.node.map_aggregate(out, lambda v: v.node if isinstance(v, torch.fx.Proxy) else v)
    if holds(result, (torch.Tensor,)):  # a tensor made from no argument: not a value the walk has
        raise TypeError(f"{getattr(fn, '__name__', fn)} returns a tensor made from none of its arguments")
    made = {n.target: getattr(tracer.root, n.target) for n in tracer.graph.nodes if n.op == "get_attr"}
    return Inlined(tracer.graph, tracer.values, sources, result, made)


def traced(cache: dict[Any, Inlined], fn: Any, args: tuple, kwargs: dict, results: dict[Any, Any],
           stack: Any) -> Inlined:
    """`trace_call`, once per distinct call within one import: a call like one traced before (the
    same function, its tensors of the same shapes, dtypes and strides, its other arguments equal:
    Swin's blocks of one stage) gets a copy of that trace's graph (a fifth of tracing it), its
    nodes its own (the walk keys what it learns by node), its rows under its own module stack."""
    import torch
    key = _call_key(fn, args, kwargs, results, torch)
    first = cache.get(key) if key is not None else None
    if first is None:
        inlined = trace_call(fn, args, kwargs, results, stack)
        if key is not None:
            cache[key] = inlined
        return inlined
    copies: dict[Any, Any]  # graph_copy's old node -> new node
    graph, copies = torch.fx.Graph(), {}
    graph.graph_copy(first.graph, copies)
    for node in copies.values():
        node.meta["nn_module_stack"] = dict(stack or {})
    sources: list[Any] = []
    torch.fx.node.map_arg((args, kwargs), lambda n: sources.append(n) if n not in sources else None)
    result = torch.fx.node.map_aggregate(first.result, lambda v: copies[v] if isinstance(v, torch.fx.Node) else v)
    made = {name: t.clone() for name, t in first.constants.items()}  # each call's own (saved apart, as torch would)
    return Inlined(graph, {copies[n]: v for n, v in first.values.items()}, sources, result, made)


def _call_key(fn: Any, args: tuple, kwargs: dict, results: dict[Any, Any], torch: Any) -> Any:
    """What a call's trace depends on: the function, and its arguments with each fx node as its
    place among the nodes read and its traced value's signature; None where a value is not plainly
    comparable."""
    seen: list[Any] = []

    def signature(v: Any) -> Any:
        if isinstance(v, torch.fx.Node):
            if v not in seen:
                seen.append(v)
            return ("node", seen.index(v), signature(results.get(v)))
        if isinstance(v, torch.Tensor):
            return ("tensor", tuple(v.shape), tuple(v.stride()), v.dtype, v.requires_grad)
        if v is None or type(v) in (bool, int, float, str) or isinstance(v, torch.dtype):
            return v
        if isinstance(v, (list, tuple)):  # fx's immutable_list among them
            return (type(v).__name__, *(signature(item) for item in v))
        if isinstance(v, dict) and all(type(k) is str for k in v):
            return ("dict", *((k, signature(item)) for k, item in v.items()))
        raise TypeError(type(v).__name__)

    try:
        return fn, signature(args), signature(kwargs)
    except TypeError:
        return None


def _as_meta(value: Any, torch: Any) -> Any:
    """A traced value with its tensors as new meta tensors of the same shapes, dtypes and strides
    (the recorded values may be fake or real where meta tensors could not run the module; an
    in-place op of the function changes its own copy, not the recorded value)."""
    if isinstance(value, torch.Tensor):
        return torch.empty_strided(tuple(value.shape), tuple(value.stride()), dtype=value.dtype, device="meta")
    if type(value) in (list, tuple):
        return type(value)(_as_meta(v, torch) for v in value)
    return value


MADE_LIKE = frozenset(("new_zeros", "new_ones", "new_full"))  # x lends its dtype only


def _has_proxy(value: Any) -> bool:
    import torch.fx
    if isinstance(value, torch.fx.Proxy):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_proxy(v) for v in value)
    if isinstance(value, dict):
        return any(_has_proxy(v) for v in value.values())
    return False


def _later_size(target: Any, values: list[Any]) -> bool:
    """An item of a shape other than its first (`shape[1]`, `shape[-3:]`): a plain number for the
    walk anyway (it notes only x.shape, x.size() and a shape's first item as holding the batch:
    `constants.batch_marked`), so the arithmetic on it runs as Python's (`W % window`, `pad_H >=
    window`), without nodes; what reads the batch (`B * windows`) stays a node."""
    if target is not operator.getitem or len(values) != 2 or not isinstance(values[0], (tuple, list)) \
            or not all(type(v) is int for v in values[0]):
        return False
    index = values[1]
    if isinstance(index, slice):
        return index.start not in (None, 0)
    return type(index) is int and index != 0


@functools.cache
def _tracer_class() -> type:
    import torch.fx
    from torch.fx.proxy import Attribute

    from .meta_shapes import ShapeRules

    class Concrete(torch.fx.Proxy):
        """A proxy that knows its value: Python's questions about it get the value's answer."""

        tracer: Any  # a ConcreteTracer (below), which keeps every proxy's value

        def __getattr__(self, k: str) -> Any:
            return ConcreteAttribute(self, k)

        def __bool__(self) -> bool:
            return bool(self.tracer.value(self))

        def __len__(self) -> int:
            return len(self.tracer.value(self))

        def __iter__(self) -> Any:
            return iter([self[i] for i in range(len(self.tracer.value(self)))])  # type: ignore[index]  # fx adds Proxy's magic methods at import

        def __index__(self) -> int:
            return operator.index(self.tracer.value(self))

        def __int__(self) -> int:
            return int(self.tracer.value(self))

        def __float__(self) -> float:
            return float(self.tracer.value(self))

        def __setitem__(self, key: Any, item: Any) -> None:  # mask[h0:h1, w0:w1] = count
            self.tracer.create_proxy("call_function", operator.setitem, (self, key, item), {})

    class ConcreteAttribute(Concrete, Attribute):
        pass

    class ConcreteTracer(torch.fx.Tracer):
        def __init__(self) -> None:
            super().__init__()
            self.values: dict[Any, Any] = {}
            self.stack: dict[Any, Any] = {}
            self.rules = ShapeRules()  # the record pass's shape rules: most ops without torch's meta kernel

        def proxy(self, node: Any) -> Any:
            return Concrete(node, self)

        def value(self, proxy: Any) -> Any:
            return self.values[proxy.node]

        def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, name: Any = None,
                         type_expr: Any = None, proxy_factory_fn: Any = None) -> Any:
            if kind == "call_function" and not kwargs and _later_size(target, [self._concrete(a) for a in args]):
                return target(*(self._concrete(a) for a in args))
            if kind == "call_method" and target in MADE_LIKE and not _has_proxy((args[1:], kwargs)):
                # x.new_zeros(size) of plain sizes (Swin's shifted-window mask): x lends its dtype only,
                # the tensor and what is computed from it alone are constants, made for real as the
                # function runs (the walk takes them as computed tensors: `Inlined.constants`)
                return getattr(torch.empty(0, dtype=self.values[args[0].node].dtype), target)(*args[1:], **kwargs)
            proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
            proxy.node.meta["nn_module_stack"] = self.stack
            if kind in ("call_function", "call_method"):
                a, k = torch.fx.node.map_aggregate((args, kwargs), self._concrete)
                with self.rules:
                    value = target(*a, **k) if kind == "call_function" else getattr(a[0], target)(*a[1:], **k)
                self.values[proxy.node] = value
            return proxy

        def create_arg(self, a: Any) -> Any:
            return plain_arg(self, a, Concrete, super().create_arg)

        def create_node(self, kind: str, target: Any, args: Any, kwargs: Any, name: Any = None,
                        type_expr: Any = None) -> Any:
            return lean_node(self, super().create_node, kind, target, args, kwargs, name, type_expr)

        def _concrete(self, v: Any) -> Any:
            if isinstance(v, torch.fx.Proxy):
                return self.values[v.node]
            if isinstance(v, torch.Tensor) and not v.is_meta:  # a constant the function made, beside meta values
                return _as_meta(v, torch)
            if isinstance(v, slice):
                return slice(self._concrete(v.start), self._concrete(v.stop), self._concrete(v.step))
            return v

        def to_bool(self, obj: Any) -> bool:
            return bool(self.value(obj))

        def iter(self, obj: Any) -> Any:
            return iter(obj)

    return ConcreteTracer


def refusal(node: Any, args: tuple, kwargs: dict, value: Any, handler: Any, kinds: tuple[type, ...],
            torch: Any) -> str:
    """Why the walk cannot take this node of a traced-through call ("" where it can): a write into
    the input's tensor, or a tensor made from it that no handler maps."""
    reads = holds((args, kwargs), kinds)
    if not reads:
        return ""
    target = node.target
    writes = target is operator.setitem or (isinstance(target, str) and target.endswith("_"))
    if writes and holds(args[:1], kinds) and handler is None:
        return f"{_name(target)} writes into a tensor made from the input"
    if handler is None and holds(value, (torch.Tensor,)) and not writes:
        return f"{_name(target)} of a tensor made from the input"
    return ""


def _name(target: Any) -> str:
    if isinstance(target, str):
        return f"Tensor.{target}"
    return f"{getattr(target, '__module__', '') or ''}.{getattr(target, '__name__', target)}".lstrip(".")
