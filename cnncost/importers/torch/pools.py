"""Handlers of the pools and of x.mean over H and W."""
from __future__ import annotations

import dataclasses
from typing import Any, Literal

from ...layers import AdaptiveAvgPool, AdaptiveMaxPool, Reduce
from ...layers import Div, Threshold
from ..graphbuild import TV, Unsupported
from ..lowering import avg_pool, max_pool, pair_or_int, spatial_mean
from .values import Pieces, arg, dims, torch_rank
from .walker import GraphWalker


def max_pool_on(imp: GraphWalker, x: TV, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool,
                indices: bool, result: Any) -> TV:
    if indices:
        raise Unsupported("max pool returning indices")
    if pair_or_int(dilation) != 1:
        raise Unsupported("dilated max pool")
    stride = kernel if stride in (None, (), []) else stride
    return max_pool(imp, x, kernel, stride=stride, padding=padding, ceil=ceil, shape=imp.out(result))


def m_maxpool(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("MaxPool1d", "MaxPool2d", "MaxPool3d"):
        raise Unsupported("")
    return max_pool_on(imp, imp.tensor(args[0]), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                       m.return_indices, result)


def max_pool2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return max_pool_on(imp, imp.tensor(args[0]), arg(args, kwargs, 1, "kernel_size"), arg(args, kwargs, 2, "stride"),
                       arg(args, kwargs, 3, "padding", 0), arg(args, kwargs, 4, "dilation", 1),
                       arg(args, kwargs, 5, "ceil_mode", False), arg(args, kwargs, 6, "return_indices", False), result)


def avg_pool_on(imp: GraphWalker, x: TV, kernel: Any, stride: Any, padding: Any, ceil: bool, include: bool,
                divisor: Any, result: Any) -> TV:
    if divisor is not None:
        raise Unsupported("avg pool with divisor_override")
    stride = kernel if stride in (None, (), []) else stride
    return avg_pool(imp, x, kernel, stride=stride, padding=padding, ceil=ceil, include_pad=include,
                    shape=imp.out(result))


def m_avgpool(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("AvgPool1d", "AvgPool2d", "AvgPool3d"):
        raise Unsupported("")
    return avg_pool_on(imp, imp.tensor(args[0]), m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                       getattr(m, "divisor_override", None), result)


def avg_pool2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return avg_pool_on(imp, imp.tensor(args[0]), arg(args, kwargs, 1, "kernel_size"), arg(args, kwargs, 2, "stride"),
                       arg(args, kwargs, 3, "padding", 0), arg(args, kwargs, 4, "ceil_mode", False),
                       arg(args, kwargs, 5, "count_include_pad", True), arg(args, kwargs, 6, "divisor_override"),
                       result)


def adaptive(imp: GraphWalker, x: TV, result: Any, kind: type) -> TV:
    """An adaptive pool to the traced output size."""
    if len(x.shape) < 2:
        raise Unsupported("adaptive pool of a flat tensor")
    y = imp.out(result)
    return imp.emit(kind(output=pair_or_int(y[1:])), [x], y)


def m_adaptive_avg(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"):
        raise Unsupported("")
    return adaptive(imp, imp.tensor(args[0]), result, AdaptiveAvgPool)


def m_adaptive_max(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d") or m.return_indices:
        raise Unsupported("")
    return adaptive(imp, imp.tensor(args[0]), result, AdaptiveMaxPool)


def adaptive_avg_pool2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return adaptive(imp, imp.tensor(args[0]), result, AdaptiveAvgPool)


def adaptive_max_pool2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if arg(args, kwargs, 2, "return_indices", False):
        raise Unsupported("adaptive max pool returning indices")
    return adaptive(imp, imp.tensor(args[0]), result, AdaptiveMaxPool)


def mean(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """The mean over H and W of a map (a global average pool), else a Reduce."""
    x = args[0]
    over = arg(args, kwargs, 1, "dim")
    keep = bool(arg(args, kwargs, 2, "keepdim", False))
    try:
        x = imp.tensor(x, ("std", "nhwc"))
        return spatial_mean(imp, x, None if over is None else dims(over, 4), keep, base="mean")
    except Unsupported:
        return reduce_on(imp, "mean", x, over, keep, result)


def reduce_on(imp: GraphWalker, op: Literal["sum", "mean", "amax", "amin", "norm", "var", "max"], x: Any, over: Any, keep: bool, result: Any, p: float = 2.0,
              correction: int = 1) -> TV:
    """x.sum|mean|amax|amin(dims, keepdim), the p-norm: a Reduce over per-sample dims."""
    x = x if isinstance(x, TV) and x.batch and x.form == "std" and x.scale is None else imp.tensor(x)
    rank = torch_rank(x)
    if over is None or over == [] or over == ():
        raise Unsupported(f"{op} over every dimension, the batch's included")
    over = (over,) if isinstance(over, int) else tuple(over)
    if any(not -rank <= d < rank or d % rank == x.batch for d in over):
        raise Unsupported(f"{op} over dims {list(over)} (the batch, or out of range)")
    sample = tuple(d % rank - (d % rank > x.batch and not x.folded) for d in over)  # the batch at torch dim x.batch
    layer = Reduce(op=op, dims=sample, keepdim=keep, p=float(p), correction=correction)
    if not x.batch:
        return imp.emit(layer, [x], imp.out(result), base=op)
    y = imp.emit(layer, [x], layer.out_shape(x.shape), base=op)  # (k, N, C).mean(0): the batch moves up
    return dataclasses.replace(y, batch=x.batch - (0 if keep else sum(d < x.batch for d in sample)))


def reduction(op: Literal["sum", "mean", "amax", "amin", "norm", "var", "max"]) -> Any:
    """x.sum / amax / amin (dim, keepdim) as functions, methods and ATen ops."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        return reduce_on(imp, op, args[0], arg(args, kwargs, 1, "dim"), bool(arg(args, kwargs, 2, "keepdim", False)),
                         result)
    return handle


def max_values(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> Pieces:
    """x.max(dim, keepdim): (values, indices), a Reduce op max (it saves the indices, not x); the
    values can be read, the indices not (a gather by them is not mapped). x.max() and
    torch.max(a, b) stay refused."""
    dim = arg(args, kwargs, 1, "dim")
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise Unsupported("max over every dimension, or of two tensors (torch.maximum)")
    x = imp.tensor(args[0])
    values = reduce_on(imp, "max", x, dim, bool(arg(args, kwargs, 2, "keepdim", False)), result[0])
    return Pieces(values, 2, [], {0: values}, refused="the indices of x.max(dim)")


def norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x.norm(p, dim, keepdim) / torch.linalg.vector_norm(x, ord, dim, keepdim)."""
    p = arg(args, kwargs, 1, "p", kwargs.get("ord", 2))
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        raise Unsupported(f"norm with p={p}")
    return reduce_on(imp, "norm", args[0], arg(args, kwargs, 2, "dim"), bool(arg(args, kwargs, 3, "keepdim", False)),
                     result, p)


def normalize(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.normalize(x, p, dim, eps) as torch computes it: the p-norm over dim (keepdim), clamped
    below at eps (`clamp_min`, a threshold at eps: both save their input), x divided by it
    (torchvision's SSD L2Norm, SwiftFormer's attention)."""
    x = imp.tensor(args[0])
    p, dim = arg(args, kwargs, 1, "p", 2.0), arg(args, kwargs, 2, "dim", 1)
    eps = float(arg(args, kwargs, 3, "eps", 1e-12))
    if arg(args, kwargs, 4, "out") is not None or not isinstance(dim, int) or not isinstance(p, (int, float)):
        raise Unsupported("normalize with out= or over several dims")
    rank = torch_rank(x)
    if not -rank <= dim < rank or dim % rank == 0:
        raise Unsupported(f"normalize over dim {dim} (the batch, or out of range)")
    layer = Reduce(op="norm", dims=(dim % rank - (not x.folded),), keepdim=True, p=float(p))
    n = imp.emit(layer, [x], layer.out_shape(x.shape), base="norm")
    n = imp.emit(Threshold(threshold=eps, value=eps), [n], n.shape, base="clamp_min")
    div = Div()
    return imp.emit(div, [x, n], div.merge_shape((x.shape, n.shape)), base="div")


def var(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x.var(dim, unbiased, keepdim), x.var(dim, correction=c, keepdim=k), aten.var.correction."""
    unbiased = arg(args, kwargs, 2, "unbiased", True)
    if isinstance(unbiased, bool):
        correction, keep = int(unbiased), arg(args, kwargs, 3, "keepdim", False)
    else:  # aten.var.correction(x, dim, *, correction, keepdim): the keyword ones only
        correction, keep = 1, False
    correction = kwargs.get("correction", correction)
    if correction is None:
        correction = 1
    if not isinstance(correction, (int, float)) or int(correction) != correction:
        raise Unsupported(f"var with correction {correction!r}")
    return reduce_on(imp, "var", args[0], arg(args, kwargs, 1, "dim"), bool(kwargs.get("keepdim", keep)), result,
                     correction=int(correction))
