"""Handlers of activations, softmax, clamp, dropout and stochastic depth: functional calls
`(imp, node, args, kwargs, result)` and module calls `(imp, node, m, args, kwargs, result)`."""
from __future__ import annotations

from typing import Any, Callable, Literal

from ...layers import Hardtanh, ReLU6, StochasticDepth
from ...layers import Threshold
from ...layers.base import Layer
from ..graphbuild import TV, Unsupported
from ..lowering import ANY_LAYOUT, dropout as lower_dropout, elementwise, softmax as lower_softmax
from .values import arg, mutating
from .walker import GraphWalker


def act(cls: type[Layer], *, inplace_arg: int | None = 1, fields: Callable[[tuple, dict], dict] | None = None,
        inplace_always: bool = False) -> Callable:
    """A functional activation: F.relu(x, inplace=False), x.relu_(), torch.sigmoid(x)...
    `inplace_arg`: the position of its `inplace` argument (None: it has none)."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp.tensor(args[0], ANY_LAYOUT)
        if inplace_always:
            inplace = True
        elif inplace_arg is not None:
            inplace = bool(arg(args, kwargs, inplace_arg, "inplace", False))
        else:
            inplace = False
        extra = fields(args, kwargs) if fields else {}
        if "inplace" in cls.__dataclass_fields__:
            extra["inplace"] = inplace
        v = elementwise(imp, cls(**extra), x)
        return imp.rebind(node, v) if inplace or mutating(node) else v
    return handle


def module_act(cls: type[Layer], fields: Callable[[Any], dict] | None = None) -> Callable:
    """An activation module: nn.ReLU(inplace=True), nn.LeakyReLU(0.2)..."""
    def handle(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp.tensor(args[0], ANY_LAYOUT)
        extra = fields(m) if fields else {}
        inplace = bool(getattr(m, "inplace", False))
        if "inplace" in cls.__dataclass_fields__:
            extra["inplace"] = inplace
        v = elementwise(imp, imp.layer((cls, *extra.items()), lambda: cls(**extra)), x)
        return imp.rebind(node, v) if inplace else v
    return handle


def leaky_fields(args: tuple, kwargs: dict) -> dict:
    return {"negative_slope": float(arg(args, kwargs, 1, "negative_slope", 0.01))}


def hardtanh_fields(args: tuple, kwargs: dict) -> dict:
    return {"min_val": float(arg(args, kwargs, 1, "min_val", -1.0)),
            "max_val": float(arg(args, kwargs, 2, "max_val", 1.0))}


def softmax(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return lower_softmax(imp, imp.tensor(args[0]), arg(args, kwargs, 1, "dim"))


def m_softmax(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return lower_softmax(imp, imp.tensor(args[0]), m.dim)


def clamp(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """clamp(x, 0, 6) is ReLU6; other constant bounds, Hardtanh."""
    x = imp.tensor(args[0], ("std", "nhwc"))
    lo, hi = arg(args, kwargs, 1, "min"), arg(args, kwargs, 2, "max")
    if hi is None and lo is not None:
        return clamp_min(imp, node, (args[0], lo), {}, result)
    if not isinstance(lo, (int, float)) or not isinstance(hi, (int, float)):
        raise Unsupported("clamp needs constant min and max")
    inplace = mutating(node)
    layer = ReLU6(inplace=inplace) if (lo, hi) == (0, 6) else Hardtanh(min_val=float(lo), max_val=float(hi),
                                                                      inplace=inplace)
    v = imp.emit(layer, [x], x.shape, form=x.form)
    return imp.rebind(node, v) if inplace else v


def clamp_min(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x.clamp_min(c), clamp(x, min=c): a threshold at c (both save their input; ReLU saves its output)."""
    x = imp.tensor(args[0], ("std", "nhwc"))
    lo = arg(args, kwargs, 1, "min")
    if mutating(node) or not isinstance(lo, (int, float)) or isinstance(lo, bool):
        raise Unsupported("clamp_min in place or by a tensor")
    return imp.emit(Threshold(threshold=float(lo), value=float(lo)), [x], x.shape, form=x.form, base="clamp_min")


def dropout(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0], ("std", "nhwc"))
    inplace = bool(arg(args, kwargs, 3, "inplace", False))
    v = lower_dropout(imp, x, float(arg(args, kwargs, 1, "p", 0.5)), bool(arg(args, kwargs, 2, "training", True)),
                      inplace)
    return imp.rebind(node, v) if inplace and v is not x else v


def m_dropout(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "Dropout":
        raise Unsupported(f"{type(m).__name__} (its mask is not an element-wise dropout's)")
    x = imp.tensor(args[0], ("std", "nhwc"))
    v = lower_dropout(imp, x, float(m.p), m.training, bool(m.inplace))
    return imp.rebind(node, v) if m.inplace and v is not x else v


def stochastic_depth(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0], ("std", "nhwc"))
    p, mode = float(arg(args, kwargs, 1, "p")), arg(args, kwargs, 2, "mode", "row")
    if not bool(arg(args, kwargs, 3, "training", True)):
        return x
    return imp.emit(StochasticDepth(p=p, mode=mode), [x], x.shape, form=x.form)


def m_stochastic_depth(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0], ("std", "nhwc"))
    mode: Literal["row", "batch"]
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
