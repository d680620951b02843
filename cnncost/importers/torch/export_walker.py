"""The graph walk over a torch.export program: ATen ops in training IR, the module's parameters and
buffers lifted to placeholders (named by the graph signature), rows named by `nn_module_stack`.
Ops that read only parameters and buffers (BatchNorm's `num_batches_tracked += 1`, `weight.t()`)
cost nothing and yield a parameter view."""
from __future__ import annotations

import operator
from typing import Any, Callable

from ...shapes import Shape
from ..graphbuild import TV
from .tables import ATEN
from .values import PV, Pieces, holds, mutating
from .views import getitem
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

    def _call(self, node: Any) -> Any:
        torch = self.torch
        args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        result = self.results.get(node)
        if not holds((args, kwargs), (TV, Pieces)) and self._has_tensor(result):
            pv = _first_pv((args, list(kwargs.values())))
            packet = getattr(getattr(node.target, "overloadpacket", None), "__name__", "")
            # a view of a parameter, or a buffer's bookkeeping (num_batches_tracked.add_(1)): no cost
            if pv is not None and (packet in _PARAMETER_VIEWS or mutating(node)):
                shape = tuple(result.shape) if isinstance(result, torch.Tensor) else pv.shape
                return PV(pv.path, pv.tensor, shape)
        return super()._call(node)

    def handler(self, node: Any) -> Callable | None:
        if node.target is operator.getitem:
            return getitem
        packet = getattr(node.target, "overloadpacket", None)
        return ATEN.get(packet.__name__) if packet is not None else None

    def module_handler(self, m: Any) -> Callable | None:
        return None  # an exported program has no module calls

    def _op_name(self, node: Any) -> str:
        if getattr(node.target, "overloadpacket", None) is not None:
            return str(node.target)  # aten.erf.default
        return super()._op_name(node)
