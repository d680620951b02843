"""The graph walk over a torch.fx trace: module calls stay calls (torch.nn and torchvision layers
are leaves of the trace), functions and tensor methods are looked up in `tables`. A call of a module
fx could not trace into (Python control flow on shapes) that no handler maps is exported alone with
torch.export and its ATen graph walked in place (`export_walker.SplicedWalker`): the rest of the
model keeps fx's module structure. A Python function fx kept as one call (`torch.fx.wrap`) is traced
through at the torch level and walked in place (`inline`), else exported alone like such a module."""
from __future__ import annotations

import operator
from typing import Any, Callable

from ...net import Net
from ..graphbuild import TV, Unsupported
from . import constants, tables
from .constants import CV
from .export_walker import SplicedWalker
from .guarded import first_line, restore_buffers, save_buffers
from .tracing import export_call, trace_function
from .inline import MADE_LIKE, refusal, traced
from .values import PV, Pieces, holds, mutating
from .walker import GraphWalker


class InlineFailed(Exception):
    """The walk of a traced-through function call met what it cannot take: the import starts again
    with that function exported alone (`FxWalker.run`)."""

    def __init__(self, fn: Any, why: str) -> None:
        super().__init__(why)
        self.fn = fn


class FxWalker(GraphWalker):
    tracer = "torch.fx"

    def __init__(self, *args: Any, splice: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arguments = (args, dict(kwargs, splice=splice))  # for a fresh start (`run`)
        self.not_inlined: set[Any] = set()  # functions whose calls are exported, not traced through
        self.inline_traces: dict[Any, Any] = {}  # traced-through calls, by what their trace depends on
        self.splice = splice  # export the calls of untraceable modules that no handler maps
        self.spliced: dict[str, str] = {}  # module path or function -> why fx did not trace into it, for the notes
        self.exported: dict[Any, Any] = {}  # a leaf function's exported graph, by `_call_key`

    def run(self) -> Net:
        """The walk; where a traced-through function's call meets what the walk cannot take (rows
        of it may be in the builder already), the walk starts again from a fresh state with that
        function's calls exported alone (as before tracing through: the same counts, slower)."""
        while True:
            try:
                return super().run()
            except InlineFailed as failed:
                not_inlined = self.not_inlined | {failed.fn}
                args, kwargs = self.arguments
                self.__init__(*args, **kwargs)  # type: ignore[misc]  # every bit of walk state anew
                self.not_inlined = not_inlined

    def handler(self, node: Any) -> Callable | None:
        if node.op == "call_method":
            if node.target in MADE_LIKE:  # x lends its dtype: computed once per forward
                return constants.made_like
            return tables.METHODS.get(node.target)
        return tables.function_handler(node.target)

    def module_handler(self, m: Any) -> Callable | None:
        return tables.module_handler(m)

    def _call(self, node: Any) -> Any:
        if self.splice and node.op == "call_module" and node.target in self.untraceable:
            m = self.gm.get_submodule(node.target)
            handler = tables.module_handler(m)  # a subclass of a torch.nn layer (timm's Conv2dSame) may not map
            if handler is not None:
                map_arg = self.torch.fx.node.map_arg
                args, kwargs = map_arg(node.args, self.env.__getitem__), map_arg(node.kwargs, self.env.__getitem__)
                try:
                    return handler(self, node, m, args, kwargs, self.results.get(node))
                except Unsupported:
                    pass
            return self._exported_call(node, m)
        if node.op == "call_function" and _python_function(node.target) \
                and tables.function_handler(node.target) is None:  # a function fx kept as a leaf (torch.fx.wrap)
            if node.target not in self.not_inlined:
                return self._inlined_call(node)
            if self.splice:
                return self._exported_call(node, _function_module(node.target))
        return super()._call(node)

    def _inlined_call(self, node: Any) -> Any:
        """The call of a Python function fx kept as a leaf, traced through (`inline.trace_call`)
        and its nodes walked here, under the caller's module path; where the function does not
        run on meta proxies, exported alone. Inside, an op no handler maps is no opaque row:
        the import starts again with the function exported alone (`InlineFailed`)."""
        torch = self.torch
        fn = node.target
        try:
            inlined = traced(self.inline_traces, fn, node.args, node.kwargs, self.results,
                             node.meta.get("nn_module_stack"))
        except Exception:  # noqa: BLE001 - code meta proxies cannot run: the exported path
            self.not_inlined.add(fn)
            return self._call(node)
        env, map_arg = self.env, torch.fx.node.map_arg
        placeholders = [n for n in inlined.graph.nodes if n.op == "placeholder"]
        for placeholder, source in zip(placeholders, inlined.sources):
            env[placeholder] = env[source]
        outer, allow = self.node, self.allow_unknown
        self.allow_unknown = False
        try:
            for n in inlined.graph.nodes:
                self.node = n
                if n.op == "get_attr":  # a tensor the function made from numbers alone: computed once per forward
                    env[n] = CV(inlined.constants[n.target])
                elif n.op in ("call_function", "call_method"):
                    env[n] = self._inlined_node(n, inlined.values[n], map_arg)
        except Exception as error:  # noqa: BLE001 - whatever stops the walk: exported alone instead
            raise InlineFailed(fn, f"{type(error).__name__}: {error}") from error
        finally:
            self.node, self.allow_unknown = outer, allow
        return torch.fx.node.map_aggregate(inlined.result, lambda v: env[v] if isinstance(v, torch.fx.Node) else v)

    def _inlined_node(self, n: Any, value: Any, map_arg: Any) -> Any:
        self.results[n] = value
        args, kwargs = map_arg(n.args, self.env.__getitem__), map_arg(n.kwargs, self.env.__getitem__)
        handler = self.handler(n)
        why = refusal(n, args, kwargs, value, handler, (TV, Pieces), self.torch)
        if why:
            raise Unsupported(why)
        if n.target is operator.setitem and isinstance(args[0], CV):  # a mask written in place: its value
            return constants.handle(self, n, args, kwargs, value)
        if (mutating(n) or n.target is operator.getitem) and args and isinstance(args[0], PV) \
                and isinstance(value, self.torch.Tensor) and not holds((args[1:], kwargs), (TV, PV, Pieces, CV)):
            # Swin V2's `qkv_bias.clone()[L:2 * L].zero_()`: a part of a parameter's copy changed,
            # no cost (as the export walker takes its slice and zero_)
            return PV(args[0].path, args[0].tensor, tuple(int(d) for d in value.shape))
        return self._call(n)

    def _exported_call(self, node: Any, m: Any) -> Any:
        """The call of module `m` through torch.export on the traced arguments; where export fails,
        the call is an unknown op (the error says why both tracers could not)."""
        torch = self.torch
        map_arg = torch.fx.node.map_arg
        args = map_arg(node.args, lambda n: self._unpieced(self.env[n]))
        kwargs = map_arg(node.kwargs, lambda n: self._unpieced(self.env[n]))
        result = self.results.get(node)
        if not holds((args, kwargs), (TV, PV)):
            return super()._call(node)
        examples = map_arg((node.args, node.kwargs), lambda n: _example(self.env[n], self.results[n], torch))
        buffers = save_buffers(m)
        key = _call_key(node, examples, torch) if node.op == "call_function" else None
        try:
            program = self.exported.get(key) if key is not None else None
            if program is None:
                program = _leaf_program(node, m, examples)
                if key is not None:
                    self.exported[key] = program
        except Exception as error:  # noqa: BLE001 - fx's leaf stays an unknown op, with both reasons
            fx_why = f"torch.fx cannot trace into it: {self.untraceable[node.target]}; " \
                if node.target in self.untraceable else ""
            why = f"{fx_why}torch.export cannot trace it either: {type(error).__name__}: {first_line(error)}"
            return self._unknown(node, args, kwargs, result, why)
        finally:
            restore_buffers(buffers)
        flat, _ = torch.utils._pytree.tree_flatten((args, kwargs))
        walker = SplicedWalker(self, node, m, program, flat)
        if len(walker.user_inputs) != len(flat):
            return self._unknown(node, args, kwargs, result, "its exported inputs do not match its arguments")
        try:
            value = walker.walk()
        except Exception:
            if node.op == "call_module":
                self.untraceable_unknown.append(node.target)  # the driver may export the whole model instead
            raise
        if node.op == "call_module":
            self.spliced[node.target] = f"torch.fx cannot trace into '{node.target}' ({self.untraceable[node.target]})"
        else:
            self.spliced[self._op_name(node)] = f"torch.fx keeps {self._op_name(node)} as a leaf function"
        return value

    def _unpieced(self, value: Any) -> Any:
        """A chunk tuple passed to a module: its pieces."""
        if isinstance(value, Pieces):
            return tuple(self.piece(value, i) for i in range(value.chunks))
        return value

    def _notes(self) -> str:
        notes = super()._notes()
        if not self.spliced:
            return notes
        first, _, rest = notes.partition("; ")
        whys = list(self.spliced.values())
        more = f" and {len(whys) - 3} more" if len(whys) > 3 else ""
        spliced = ", ".join(whys[:3]) + more + ": traced with torch.export"
        return "; ".join(part for part in (first, spliced, rest) if part)


def _leaf_program(node: Any, m: Any, examples: Any) -> Any:
    """The call's graph: a leaf function's through make_fx (`trace_function`, the faster), torch.export's
    where that fails or for a module's call (export lifts its parameters and buffers)."""
    if node.op == "call_function":
        try:
            return trace_function(node.target, tuple(examples[0]), dict(examples[1]))
        except Exception:  # noqa: BLE001 - torch.export gives the error the note names
            pass
    return export_call(m, tuple(examples[0]), dict(examples[1]))


def _call_key(node: Any, examples: Any, torch: Any) -> Any:
    """What a leaf function's exported graph depends on: the function, its tensors' shapes and
    dtypes, its other arguments (Swin's 24 window-attention calls have 8 such keys: one export
    each). None where an argument is not plainly comparable."""
    flat, spec = torch.utils._pytree.tree_flatten(examples)
    parts: list[Any] = []
    for v in flat:
        if isinstance(v, torch.Tensor):
            parts.append(("tensor", tuple(v.shape), v.dtype))
        elif v is None or isinstance(v, (bool, int, float, str)):
            parts.append(v)
        else:
            return None
    return node.target, str(spec), tuple(parts)


def _function_module(fn: Callable) -> Any:
    """A module whose forward calls `fn`, for torch.export."""
    import torch

    class Call(torch.nn.Module):
        def forward(self, *args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)
    return Call()


def _python_function(target: Any) -> bool:
    """A function written in Python outside torch (torchvision's, timm's, the user's)."""
    import types
    module = getattr(target, "__module__", "") or ""
    return isinstance(target, types.FunctionType) and not module.startswith(("torch.", "_operator", "operator")) \
        and module != "torch"


def _example(env: Any, value: Any, torch: Any) -> Any:
    """A real tensor like a traced value (meta or fake), for torch.export's example inputs; a
    parameter or buffer: itself (an index table keeps its values)."""
    if isinstance(env, PV) and isinstance(env.tensor, torch.Tensor) and not env.tensor.is_meta \
            and tuple(env.tensor.shape) == tuple(value.shape):
        return env.tensor.detach()
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            return torch.randn(tuple(value.shape), dtype=value.dtype)
        return torch.zeros(tuple(value.shape), dtype=value.dtype)
    if isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    return value
