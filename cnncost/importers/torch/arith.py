"""Handlers of +, * and / (functions, operators, methods, in place or not)."""
from __future__ import annotations

from typing import Any, Literal, cast

from ...layers import Add, Affine, Arith, Div, Layer, Learnable, Sub
from ...layers.merge import broadcast
from ...layers.unary import Unary
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
    if number(a) and isinstance(b, TV):
        a, b = b, a
    if isinstance(a, PV) and isinstance(b, TV):
        a, b = b, a
    if isinstance(a, TV) and number(b):  # x + 0, 1 + x
        v = imp.emit(Arith(op="add", value=float(b)), [imp.tensor(a)], a.shape, base="add")
    elif isinstance(a, TV) and isinstance(b, PV):  # a position embedding, a learnable offset
        v = learnable(imp, "add", imp.tensor(a), b, 0.0)
    else:
        if isinstance(a, TV) and isinstance(b, TV) and a.form != b.form and a.scale is None and b.scale is None:
            a, b = imp.tensor(a), imp.tensor(b)  # a channels-last map and a plain tensor: the map's permute view
        if isinstance(a, TV) and isinstance(b, TV) and a.shape != b.shape and a.form == b.form == "std" \
                and a.scale is None and b.scale is None and not a.batch and not b.batch \
                and broadcast((a.shape, b.shape)) is not None:
            v = _tensors(imp, Add(), a, b, "add")  # broadcast (a global-context term: C x H x W + C x 1 x 1)
        else:
            v = lower_add(imp, a, b)
    return imp.rebind(node, v) if mutating(node) else v


def learnable(imp: GraphWalker, op: Literal["add", "mul"], x: TV, p: PV, init: float) -> TV:
    """x op p with a parameter p (its leading size-1 dims beyond x's rank: the batch's)."""
    shape = tuple(p.shape)
    if len(p.tensor.shape) == len(shape) and tuple(p.tensor.shape[:1]) == (1,):  # expanded over the batch
        shape = (1, *shape[1:])
    while len(shape) > len(x.shape) and shape[0] == 1:
        shape = shape[1:]
    params = params_of(p)
    if not params:
        raise Unsupported(f"{op} of a buffer")
    layer = Learnable(op=op, shape=shape, init=init)
    return imp.emit(layer, [x], layer.out_shape(x.shape), base=p.path.rpartition(".")[2], params=params)


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
        try:
            v = layer_scale(imp, imp.tensor(a, ("std", "nhwc")), b.shape, init, params_of(b),
                            base=b.path.rpartition(".")[2])
        except Unsupported:
            v = learnable(imp, "mul", imp.tensor(a), b, init)
    elif isinstance(a, TV) and isinstance(b, TV):
        a, b = imp.tensor(a, ("std", "nhwc")), imp.tensor(b, ("std", "nhwc"))
        if a.form != b.form:  # a channels-last map and a plain tensor: the map as its permute view
            a, b = imp.tensor(a), imp.tensor(b)
        v = multiply(imp, a, b)
    else:
        raise Unsupported("multiplication")
    return imp.rebind(node, v) if mutating(node) else v


def _constant_operand(imp: GraphWalker, op: Literal["add", "sub", "mul", "div", "pow"], a: Any, b: Any) -> TV | None:
    """`x op c` or `c op x` as an arith row; None where neither side is a number."""
    if isinstance(a, TV) and number(b):
        return imp.emit(Arith(op=op, value=float(b)), [imp.tensor(a)], a.shape, base=op)
    if number(a) and isinstance(b, TV):
        return imp.emit(Arith(op=op, value=float(a), reverse=True), [imp.tensor(b)], b.shape, base=op)
    return None


def _tensors(imp: GraphWalker, layer: Layer, a: TV, b: TV, base: str) -> TV:
    """`a op b` of two tensors, broadcast: a merge row."""
    xs = [imp.tensor(a), imp.tensor(b)]
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base=base)


def div(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    a, b = args[0], arg(args, kwargs, 1, "other")
    if isinstance(a, TV) and number(b) and b != 0:
        return over_constant(a, float(b))
    if number(a) and isinstance(b, TV):  # 1 / x
        return cast(TV, _constant_operand(imp, "div", a, b))  # a number and a tensor: never None
    if isinstance(a, TV) and isinstance(b, TV):
        return _tensors(imp, Div(), a, b, "div")
    raise Unsupported("division")


def pow_(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x ** c, c ** x."""
    out = _constant_operand(imp, "pow", args[0], arg(args, kwargs, 1, "exponent"))
    if out is None:
        raise Unsupported("power of two tensors")
    return out


def square(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.square(x): x ** 2 (autograd's PowBackward, saving x)."""
    return pow_(imp, node, (args[0], 2), {}, result)


def addcmul(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.addcmul(bias, weight, x): a per-entry affine of one dim (timm's Affine in ResMLP, the
    global response norm's `bias + weight * (x * n)`), weight and bias parameters of one shape."""
    bias, a, b = args[0], arg(args, kwargs, 1, "tensor1"), arg(args, kwargs, 2, "tensor2")
    if isinstance(a, TV):
        a, b = b, a
    if arg(args, kwargs, 3, "value", 1) != 1 or not (isinstance(a, PV) and isinstance(bias, PV) and isinstance(b, TV)):
        raise Unsupported("addcmul other than parameter bias + parameter weight * tensor")
    x = imp.tensor(b, ("std", "nhwc"))
    dim = _affine_dim(x, tuple(a.shape), tuple(bias.shape))
    params = params_of(a, bias)
    if len(params) != 2:
        raise Unsupported("addcmul with a buffer")
    return imp.emit(Affine(dim=dim), [x], x.shape, base=a.path.rpartition(".")[2], params=params, form=x.form)


def _affine_dim(x: TV, weight: tuple[int, ...], bias: tuple[int, ...]) -> int:
    """The per-sample dim (of the cnncost shape) that a weight of shape `weight`, broadcast
    against x with its batch, runs along: one dim of x's size, every other 1."""
    rank = len(x.shape)
    sizes = (1,) * (rank + 1 - len(weight)) + weight  # aligned on the right against (N, *x.shape)
    along = [i - 1 for i, s in enumerate(sizes) if s != 1]
    if weight != bias or len(weight) > rank + 1 or len(along) != 1 or along[0] < 0 \
            or sizes[along[0] + 1] != x.shape[along[0]]:
        raise Unsupported(f"addcmul with a {'x'.join(map(str, weight))} weight on a "
                          f"{'x'.join(map(str, x.shape))} tensor")
    d = along[0]
    if x.form == "nhwc":  # torch's (H, W, C): only the channels are a dim of the map
        if d != rank - 1:
            raise Unsupported("addcmul along a spatial dim of a channels-last map")
        return 0
    return -1 if d == rank - 1 and rank > 1 else d


def sub(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x - constant, constant - x, x - y."""
    a, b = args[0], arg(args, kwargs, 1, "other")
    out = _constant_operand(imp, "sub", a, b)
    if out is not None:
        return out
    if isinstance(a, TV) and isinstance(b, TV) and arg(args, kwargs, 2, "alpha", 1) == 1:
        return _tensors(imp, Sub(), a, b, "sub")
    raise Unsupported("subtraction")


def rsub(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.rsub(x, c): c - x."""
    return sub(imp, node, (args[1], args[0]), {}, result)


def unary(op: str) -> Any:
    """torch.sqrt(x), x.rsqrt(), aten.exp ...: a `unary` row (not in place: sqrt_ saves otherwise)."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        if mutating(node):
            raise Unsupported(f"{op} in place")
        x = imp.tensor(args[0], ("std", "nhwc"))
        layer = Unary(op=cast("Literal['sqrt', 'rsqrt', 'exp', 'log', 'reciprocal', 'abs', 'neg']", op))  # it checks op
        return imp.emit(layer, [x], x.shape, base=op, form=x.form)
    return handle
