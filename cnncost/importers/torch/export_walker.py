"""The graph walk over a torch.export program: ATen ops in training IR, the module's parameters and
buffers lifted to placeholders (named by the graph signature), rows named by `nn_module_stack`.
Ops that read only parameters and buffers (BatchNorm's `num_batches_tracked += 1`, `weight.t()`)
cost nothing and yield a parameter view."""
from __future__ import annotations

import operator
from types import SimpleNamespace
from typing import Any, Callable

from ...shapes import Shape
from ..graphbuild import TV, Scope, Unsupported
from . import constants, drop_path
from .tables import ATEN
from .values import PV, Pieces, holds, mutating
from .views import getitem
from .naming import RowNames
from .walker import GraphWalker


def _first_pv(value: Any) -> PV | None:
    if isinstance(value, PV):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            found = _first_pv(v)
            if found is not None:
                return found
    return None


# Views and copies of one parameter or buffer, passed on as it (a class token expanded, a layer
# scale reshaped); any other computation on parameters alone is computed once (constants.py).
_PARAMETER_VIEWS = frozenset({"view", "reshape", "_unsafe_view", "permute", "transpose", "t", "unsqueeze", "squeeze",
                              "expand", "alias", "detach", "clone", "_to_copy", "lift_fresh_copy", "contiguous",
                              "slice", "select"})


class ExportWalker(GraphWalker):
    tracer = "torch.export"

    def __init__(self, root: Any, program: Any, shape: Shape, name: str, allow_unknown: bool, train: bool,
                 why: str, **inputs: Any) -> None:
        gm = program.graph_module
        results = {n: n.meta.get("val") for n in gm.graph.nodes}
        super().__init__(root, gm, results, shape, name, allow_unknown, train, tracer_note=why, **inputs)
        signature = program.graph_signature
        params = dict(root.named_parameters(remove_duplicate=False))
        buffers = dict(root.named_buffers(remove_duplicate=False))
        self.lifted: dict[str, PV] = {}
        for placeholder, fqn in signature.inputs_to_parameters.items():
            self.lifted[placeholder] = PV(fqn, params[fqn], tuple(params[fqn].shape))
        for placeholder, fqn in signature.inputs_to_buffers.items():
            tensor = buffers.get(fqn, program.constants.get(fqn))
            self.lifted[placeholder] = PV(fqn, tensor, tuple(tensor.shape))
        for placeholder, fqn in getattr(signature, "inputs_to_lifted_tensor_constants", {}).items():
            tensor = program.constants[fqn]
            self.lifted[placeholder] = PV(fqn, tensor, tuple(tensor.shape))
        self.user_inputs = list(signature.user_inputs)

    def _placeholder(self, node: Any) -> Any:
        if node.name in self.lifted:
            return self.lifted[node.name]
        if node.name in self.user_inputs[:len(self.input_tvs)]:
            return self.input_tvs[self.user_inputs.index(node.name)]
        return self._python(self.results.get(node))

    def _attr(self, target: str) -> Any:
        """A submodule of the program's graph (a higher-order op's body), else the module's attribute."""
        obj = self.gm
        try:
            for part in target.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            return super()._attr(target)

    def _call(self, node: Any) -> Any:
        torch = self.torch
        args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        if getattr(node.target, "__name__", None) == "wrap_with_autocast" and not kwargs:
            return self._inline(args)
        result = self.results.get(node)
        if holds((args, kwargs), drop_path.DropMask):  # timm's DropPath, decomposed (drop_path.py)
            self.folding = False
            try:
                if getattr(getattr(node.target, "overloadpacket", None), "__name__", "") == "mul":
                    return drop_path.mul(self, node, args, kwargs, result)
                return drop_path.step(self, node, args, kwargs)
            except Unsupported as why:
                return self._unknown(node, args, kwargs, result, str(why))
        if drop_path.is_empty_mask(node, args):  # torchvision's stochastic_depth, decomposed
            return drop_path.empty_mask(tuple(args[0]))
        if not holds((args, kwargs), (TV, Pieces)) and self._has_tensor(result):
            pv = _first_pv((args, list(kwargs.values())))
            packet = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
            # a view of a parameter, or a buffer's bookkeeping (num_batches_tracked.add_(1)): no cost
            if pv is not None and (packet in _PARAMETER_VIEWS
                                   or (mutating(node) and args and isinstance(args[0], PV))):  # a CV changed: computed
                shape = tuple(result.shape) if isinstance(result, torch.Tensor) else pv.shape
                return PV(pv.path, pv.tensor, shape)
        return super()._call(node)

    def _inline(self, args: tuple) -> tuple:
        """`with torch.autocast(..., enabled=False):` (EfficientViT's LiteMLA), which export keeps as
        a higher-order op over a subgraph: the subgraph's ops walked in place (fp32 either way)."""
        at = next(i for i, a in enumerate(args) if isinstance(a, self.torch.fx.GraphModule))
        body, operands = args[at].graph, list(args[at + 1:])
        outputs: Any  # the subgraph's output node's args[0]
        outer, outputs = self.node, ()
        try:
            for node in body.nodes:
                self.node = node
                if node.op == "placeholder":
                    self.env[node] = operands.pop(0)
                elif node.op == "output":
                    outputs = node.args[0]
                else:
                    self.results[node] = node.meta.get("val")
                    self.env[node] = self._call(node)
        finally:
            self.node = outer
        return tuple(self.env[v] if isinstance(v, self.torch.fx.Node) else v for v in outputs)

    def handler(self, node: Any) -> Callable | None:
        if node.target is operator.getitem:
            return getitem
        packet = getattr(node.target, "overloadpacket", None)
        if packet is not None and packet.__name__ == "new_empty":
            return drop_path.new_empty
        if packet is not None and packet.__name__ in ("new_zeros", "new_ones", "new_full"):
            return constants.made_like
        return ATEN.get(packet.__name__) if packet is not None else None

    def module_handler(self, m: Any) -> Callable | None:
        return None  # an exported program has no module calls

    def _op_name(self, node: Any) -> str:
        if getattr(node.target, "overloadpacket", None) is not None:
            return str(node.target)  # aten.erf.default
        return super()._op_name(node)


class SplicedNames:
    """Row names inside one call of a module exported alone: its program's module stack (paths
    relative to the module) under the fx node's stack, so rows take their paths in the whole model."""

    def __init__(self, names: RowNames, node: Any, module: Any) -> None:
        self.names = names
        stack = list((node.meta.get("nn_module_stack") or {}).items())
        if node.op != "call_module":  # a function fx kept as a leaf: its rows in the caller's block
            self.path = stack[-1][1][0] if stack and isinstance(stack[-1][1], tuple) else ""
        elif not stack or (stack[-1][1][0] if isinstance(stack[-1][1], tuple) else stack[-1][1]) != node.target:
            stack.append((("spliced", node.name), (node.target, type(module))))
            self.path = node.target
        else:
            self.path = node.target
        self.outer, self.key = stack, node.name

    def _in_model(self, node: Any) -> Any:
        stack = dict(self.outer)
        for key, value in RowNames._module_stack(node):
            qual = value[0] if isinstance(value, tuple) else str(value)
            path = f"{self.path}.{qual}" if self.path else qual
            stack[(self.key, key)] = (path, value[1] if isinstance(value, tuple) else None)
        return SimpleNamespace(op=node.op, target=node.target, meta={"nn_module_stack": stack})

    def scopes(self, node: Any) -> tuple[list[Scope], str | None]:
        return self.names.scopes(self._in_model(node))

    def where(self, node: Any) -> str:
        return self.names.where(self._in_model(node))


class SplicedWalker(ExportWalker):
    """The torch.export program of one module call that fx could not trace into, walked into the fx
    import's graph: its inputs are the fx values of the call's arguments, its rows go to the same
    builder under the module's path, its parameters are counted once with the rest."""

    def __init__(self, outer: GraphWalker, node: Any, module: Any, program: Any, inputs: list[Any]) -> None:
        super().__init__(module, program, outer.input_shape, "", outer.allow_unknown, outer.train, "")
        self.builder, self.owner, self.opaque = outer.builder, outer.owner, outer.opaque
        self.model_root = getattr(outer, "model_root", outer.root)  # whose parameters and buffers are the model's
        self.untraceable, self.untraceable_unknown = outer.untraceable, outer.untraceable_unknown
        self.names = SplicedNames(outer.names, node, module)  # type: ignore[assignment]
        self.program = program
        self.inputs = dict(zip(self.user_inputs, inputs))

    def _placeholder(self, node: Any) -> Any:
        if node.name in self.inputs:
            return self.inputs[node.name]
        return super()._placeholder(node)

    def walk(self) -> Any:
        """The module call's result, as the outer walk's values."""
        from torch.export.graph_signature import OutputKind
        from torch.utils._pytree import tree_unflatten

        outputs: Any = ()
        for node in self.gm.graph.nodes:
            self.node = node
            if node.op == "placeholder":
                self.env[node] = self._placeholder(node)
            elif node.op == "output":
                outputs = node.args[0]
            elif node.op == "get_attr":
                tensor = self._attr(node.target)
                self.env[node] = PV(node.target, tensor, tuple(tensor.shape)) \
                    if isinstance(tensor, self.torch.Tensor) else tensor
            else:
                self.env[node] = self._call(node)
        specs = self.program.graph_signature.output_specs
        user = [self.env[v] if isinstance(v, self.torch.fx.Node) else v
                for v, spec in zip(outputs, specs) if spec.kind == OutputKind.USER_OUTPUT]
        return tree_unflatten(user, self.program.call_spec.out_spec)
