"""Handlers of +, * and / (functions, operators, methods, in place or not)."""
from __future__ import annotations

from typing import Any

from ..graphbuild import TV, Unsupported
from ..lowering import add as lower_add, layer_scale, multiply, over_constant, times_constant
from .values import PV, arg, mutating, number, params_of
from .walker import GraphWalker


def add(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """a + b, torch.add(a, b, alpha=k) (b scaled by k), a += b."""
    a, b = args[0], arg(args, kwargs, 1, "other")
    alpha = kwargs.get("alpha", 1)
    if alpha != 1 and isinstance(b, TV):
        if b.scale is not None:
            raise Unsupported("scaled addition")
        b = times_constant(b, float(alpha))
    v = lower_add(imp, a, b)
    return imp.rebind(node, v) if mutating(node) else v


def mul(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """By a constant (pending, for the add that reads it), by a per-channel parameter (layer
    scale), or by a tensor (a gate)."""
    a, b = args[0], arg(args, kwargs, 1, "other")
    if number(a):
        a, b = b, a
    if isinstance(a, TV) and number(b):
        return times_constant(a, float(b))
    if isinstance(a, PV):
        a, b = b, a
    if isinstance(a, TV) and isinstance(b, PV):
        init = float(b.tensor.detach().reshape(-1)[0]) if b.tensor.numel() else 1e-6
        v = layer_scale(imp, imp.tensor(a, ("std", "nhwc")), b.shape, init, params_of(b),
                        base=b.path.rpartition(".")[2])
    elif isinstance(a, TV) and isinstance(b, TV):
        v = multiply(imp, imp.tensor(a, ("std", "nhwc")), imp.tensor(b, ("std", "nhwc")))
    else:
        raise Unsupported("multiplication")
    return imp.rebind(node, v) if mutating(node) else v


def div(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    a, b = args[0], arg(args, kwargs, 1, "other")
    if isinstance(a, TV) and number(b) and b != 0:
        return over_constant(a, float(b))
    raise Unsupported("division")
