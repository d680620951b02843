"""Handlers of the element-wise arithmetic: Add, Sub, Mul, Div, Pow, Sqrt of tensors, constants and
weights (residuals, gates, layer scale, position embeddings, constant factors), stochastic depth's
random mask, and the TorchScript exporter's erf GELU."""
from __future__ import annotations

from typing import Any, Literal

from ...layers import GELU, Arith, Div, Learnable, Layer, StochasticDepth, Sub
from ..graphbuild import TV, Unsupported
from ..lowering import add as lower_add, layer_scale, multiply, over_constant, times_constant
from .values import Noise, W, scalar
from .walker import OnnxWalker


def add(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """a + b of tensors (a residual), x + a constant (arith), x + a weight (learnable: a
    position embedding)."""
    a, b = inputs
    if not isinstance(a, TV):
        a, b = b, a
    if isinstance(a, TV) and not isinstance(b, TV):
        if isinstance(b, W):  # a parameter (the exporters write constants as Constant nodes)
            return learnable(imp, "add", imp.tensor(a), b, 0.0)
        value = scalar(b)
        if value is None:
            raise Unsupported("addition of a constant tensor")
        return imp.emit(Arith(op="add", value=value), [imp.tensor(a)], a.shape, base="add")
    return lower_add(imp, a, b)


def learnable(imp: OnnxWalker, op: Literal["add", "mul"], x: TV, w: W, init: float) -> TV:
    """x op w with a weight of any broadcastable shape (its leading 1s beyond x's rank: the batch's)."""
    shape = tuple(w.shape)
    while len(shape) > len(x.shape) and shape[0] == 1:
        shape = shape[1:]
    layer = Learnable(op=op, shape=shape, init=init)
    return imp.emit(layer, [x], layer.out_shape(x.shape), base=op, params=[w])


def mul(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """By stochastic depth's mask, by a constant (pending, for the add that reads it), by a
    per-channel weight (layer scale) or any other weight (learnable), or by a tensor (a gate)."""
    a, b = inputs
    if not isinstance(a, TV):
        a, b = b, a
    if not isinstance(a, TV):
        raise Unsupported("multiplication")
    if isinstance(b, Noise):
        x = imp.tensor(a, ("std", "nhwc"))
        if b.keep is None:
            raise Unsupported("multiplication by random noise")
        mode: Literal["row", "batch"] = "row" if b.shape and b.shape[0] == imp.batch and imp.batch > 1 else "batch"
        return imp.emit(StochasticDepth(p=round(1 - b.keep, 12), mode=mode), [x], x.shape, form=x.form)
    value = scalar(b) if not isinstance(b, TV) else None
    if value is not None:
        return times_constant(a, value)
    if isinstance(b, W):
        init = float(b.data.reshape(-1)[0]) if b.data is not None and b.data.size else 1e-6
        try:
            return layer_scale(imp, imp.tensor(a, ("std", "nhwc")), b.shape, init, [b])
        except Unsupported:
            return learnable(imp, "mul", imp.tensor(a), b, init)
    if isinstance(b, TV):
        a, b = imp.tensor(a, ("std", "nhwc")), imp.tensor(b, ("std", "nhwc"))
        if a.form != b.form:  # a channels-last map and a plain tensor: the map as its permute view
            a, b = imp.tensor(a), imp.tensor(b)
        return multiply(imp, a, b)
    raise Unsupported("multiplication by a constant tensor")


def _constant_operand(imp: OnnxWalker, op: Literal["add", "sub", "mul", "div", "pow"], a: Any, b: Any) -> TV | None:
    """`x op c` or `c op x` with a one-element constant: an arith row; None otherwise."""
    if isinstance(a, TV) and not isinstance(b, TV) and (value := scalar(b)) is not None:
        return imp.emit(Arith(op=op, value=value), [imp.tensor(a)], a.shape, base=op)
    if isinstance(b, TV) and not isinstance(a, TV) and (value := scalar(a)) is not None:
        return imp.emit(Arith(op=op, value=value, reverse=True), [imp.tensor(b)], b.shape, base=op)
    return None


def _tensors(imp: OnnxWalker, layer: Layer, a: TV, b: TV, base: str) -> TV:
    xs = [imp.tensor(a), imp.tensor(b)]
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base=base)


def div(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """x / c (pending, as a factor), c / x (arith), x / y (div)."""
    a, b = inputs
    value = scalar(b) if not isinstance(b, TV) else None
    if isinstance(a, TV) and value:
        return over_constant(a, value)
    out = _constant_operand(imp, "div", a, b) if isinstance(b, TV) else None
    if out is not None:
        return out
    if isinstance(a, TV) and isinstance(b, TV):
        return _tensors(imp, Div(), a, b, "div")
    raise Unsupported("division")


def sub(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """x - c, c - x (arith), x - y (sub)."""
    a, b = inputs
    out = _constant_operand(imp, "sub", a, b)
    if out is not None:
        return out
    if isinstance(a, TV) and isinstance(b, TV):
        return _tensors(imp, Sub(), a, b, "sub")
    raise Unsupported("subtraction of a constant tensor")


def pow_(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    out = _constant_operand(imp, "pow", inputs[0], inputs[1])
    if out is None:
        raise Unsupported("power of two tensors, or by a constant tensor")
    return out


def sqrt(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """sqrt(x) = x ** 0.5 (the torch importer's `x ** 0.5`)."""
    x = imp.tensor(inputs[0])
    return imp.emit(Arith(op="pow", value=0.5), [x], x.shape, base="pow")


def erf(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """The TorchScript exporter's GELU: x / sqrt(2), Erf, + 1, x * (that), * 0.5: one GELU."""
    x = inputs[0]
    if not isinstance(x, TV) or x.scale is None or abs(x.scale - 2 ** -0.5) > 1e-6:
        raise Unsupported("erf other than GELU's")
    source = imp.producers[node.input[0]].input[0]  # the Div's (or Mul's) input: GELU's x
    chain: list[int] = []  # the Add, Mul, Mul after erf
    name = node.output[0]
    for op in ("Add", "Mul", "Mul"):
        reader = imp.only_reader(name)
        if reader is None or imp.graph.node[reader].op_type != op:
            raise Unsupported("erf other than GELU's")
        step = imp.graph.node[reader]
        other = [n for n in step.input if n != name]
        want = {"Add": 1.0, "Mul": 0.5}
        if len(chain) == 1:  # x * (1 + erf)
            if other != [source]:
                raise Unsupported("erf other than GELU's")
        elif len(other) != 1 or scalar(imp.values.get(other[0])) != want[op]:
            raise Unsupported("erf other than GELU's")
        chain.append(reader)
        name = step.output[0]
    imp.skip.update(chain)
    v = imp.emit(GELU(), [TV(x.leaf, x.shape, x.form)], x.shape, base="gelu")
    imp.values[name] = v
    return v


def reciprocal(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """1 / x (the TorchScript exporter writes c / x as Reciprocal, then Mul by c)."""
    x = imp.tensor(inputs[0])
    return imp.emit(Arith(op="div", value=1.0, reverse=True), [x], x.shape, base="div")
