"""Adapters for ATen ops (the torch.export path) whose arguments differ from their functional twin's:
each reorders them and calls the twin's handler. `tables` lists which ATen ops they serve."""
from __future__ import annotations

from typing import Any, Callable

from ...layers import AdaptiveMaxPool, InstanceNorm
from ..graphbuild import TV, Unsupported
from . import activations as a, pools, resample, views, weighted as w
from .values import BATCH, PV, arg, dims, params_of, torch_dim, torch_rank
from .walker import GraphWalker

Handler = Callable[..., Any]


def first_of(handler: Handler) -> Handler:
    """An op returning (output, statistics / indices / mask): the handler on the output; the
    rest are no activations."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
        v = handler(imp, node, args, kwargs, result[0])
        return (v, *([None] * (len(result) - 1)))
    return handle


def batch_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.batch_norm / native_batch_norm / _native_batch_norm_legit(_functional): (input,
    weight, bias, running_mean, running_var, training, momentum, eps); F.batch_norm's order differs."""
    get = lambda i, n, d=None: arg(args, kwargs, i, n, d)  # noqa: E731
    return w.batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                    get(2, "bias"), get(5, "training", True), get(6, "momentum", 0.1),
                                    get(7, "eps", 1e-5)), {}, result)


def batch_norm_no_training(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)."""
    get = lambda i, n, d=None: arg(args, kwargs, i, n, d)  # noqa: E731
    return w.batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                    get(2, "bias"), False, get(5, "momentum", 0.1), get(6, "eps", 1e-5)), {}, result)


def instance_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)."""
    x = imp.tensor(args[0])
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    running = arg(args, kwargs, 3, "running_mean")
    layer = InstanceNorm(eps=float(arg(args, kwargs, 7, "eps", 1e-5)),
                         momentum=float(arg(args, kwargs, 6, "momentum", 0.1) or 0.1), affine=weight is not None,
                         track_running_stats=running is not None, folded=x.folded and len(x.shape) >= 3)
    return imp.emit(layer, [x], x.shape, params=params_of(weight, bias))


def conv_transpose2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.conv_transpose2d.input(input, weight, bias, stride, padding, output_padding, groups, dilation)."""
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)) or len(weight.shape) != 4:
        raise Unsupported("transposed convolution with computed weights")
    groups = int(arg(args, kwargs, 6, "groups", 1))
    return w.conv_t_on(imp, args[0], weight.shape[1] * groups, weight.shape[2:], arg(args, kwargs, 3, "stride", 1),
                       arg(args, kwargs, 4, "padding", 0), arg(args, kwargs, 7, "dilation", 1), groups,
                       bias is not None, result, params_of(weight, bias))


def convolution(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    weight = arg(args, kwargs, 1, "weight")
    if not isinstance(weight, PV) or len(weight.shape) not in (3, 4, 5):
        raise Unsupported("convolution other than 1-, 2- or 3-D with parameter weights")
    stride, padding, dilation = args[3], args[4], args[5]
    groups = int(arg(args, kwargs, 8, "groups", 1))
    if arg(args, kwargs, 6, "transposed", False):
        if len(weight.shape) != 4:
            raise Unsupported("transposed convolution other than 2-D")
        return conv_transpose2d(imp, node, (args[0], weight, args[2], stride, padding, None, groups, dilation), {},
                                 result)
    return w.conv2d(imp, node, (args[0], weight, args[2], stride, padding, dilation, groups), {}, result)


def addmm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """addmm(bias, x, W): a Linear (beta = alpha = 1)."""
    bias, x, weight = args[0], args[1], args[2]
    if kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1:
        raise Unsupported("addmm with beta or alpha")
    if not isinstance(weight, PV) or not isinstance(bias, PV) or len(weight.shape) != 2 \
            or bias.shape != (weight.shape[1],):
        raise Unsupported("addmm other than a bias plus a product by a 2-D parameter")
    return w.linear_on(imp, x, (weight.shape[1], weight.shape[0]), True, result, params_of(weight, bias))


def hardtanh(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """hardtanh(x, min_val=-1, max_val=1): ReLU6 for (0, 6), as nn.ReLU6 calls it."""
    lo, hi = arg(args, kwargs, 1, "min_val", -1.0), arg(args, kwargs, 2, "max_val", 1.0)
    return a.clamp(imp, node, (args[0], lo, hi), {}, result)


def dropout_inplace(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return a.dropout(imp, node, (args[0], arg(args, kwargs, 1, "p", 0.5), arg(args, kwargs, 2, "train", True), True),
                     {}, result)


def native_dropout(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    train = arg(args, kwargs, 2, "train", True)
    return a.dropout(imp, node, (args[0], arg(args, kwargs, 1, "p", 0.5), True if train is None else train), {},
                     result)


def adaptive_max(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return pools.adaptive(imp, imp.tensor(args[0]), result, AdaptiveMaxPool)


def upsample(mode: str) -> Handler:
    """upsample_nearest{1,2,3}d / upsample_(bi|tri)linear: .vec (input, output_size, [align_corners,]
    scale_factors) or .default (input, output_size, [align_corners,] scales_h, scales_w)."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp.tensor(args[0])
        rest = list(args[2:])
        align = rest.pop(0) if mode != "nearest" and rest else kwargs.get("align_corners", False)
        if getattr(node.target, "_overloadname", "") == "vec":
            factor = rest[0] if rest else kwargs.get("scale_factors")
        else:
            spatial = len(x.shape) - 1
            scales = [s for s in rest[:spatial] if s is not None]
            factor = tuple(scales) if len(scales) == spatial else None
        if isinstance(factor, list):
            factor = tuple(factor)
        return resample.upsample_on(imp, x, factor, mode, align, result)
    return handle


def constant_pad(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return resample.pad_on(imp, imp.tensor(args[0]), tuple(int(p) for p in args[1]), "constant",
                           arg(args, kwargs, 2, "value", 0), result)


def reflection_pad(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return resample.pad_on(imp, imp.tensor(args[0]), tuple(int(p) for p in args[1]), "reflect", None, result)


def slice_tensor(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """slice.Tensor(x, dim, start, end, step): x[:, a:b] (a channel slice), or the whole tensor."""
    x = imp.tensor(args[0])
    dim = int(arg(args, kwargs, 1, "dim", 0))
    start, end, step = arg(args, kwargs, 2, "start"), arg(args, kwargs, 3, "end"), arg(args, kwargs, 4, "step", 1)
    if imp.out(result) == x.shape and (x.folded or tuple(result.shape[:1]) == (BATCH,)):
        return x
    d = views.sample_dim(x, dim, "slice")
    return views.slice_index(imp, x, (*[slice(None)] * torch_dim(x, d), slice(start, end, step)))


def select(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """select.int(x, dim, index): x[:, ..., index]."""
    x = views.batched(args[0])
    d = views.sample_dim(x, int(arg(args, kwargs, 1, "dim", 0)), "select")
    return views.slice_index(imp, x, (*[slice(None)] * torch_dim(x, d), int(arg(args, kwargs, 2, "index"))))



select.batch_anywhere = True  # type: ignore[attr-defined]  # it reads a tensor whose batch moved (views.py)


def swapaxes(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.swapaxes(x, axis0, axis1) / swapdims(x, dim0, dim1): a transpose (maxvit_t's partition_swap)."""
    a = arg(args, kwargs, 1, "axis0", kwargs.get("dim0"))
    b = arg(args, kwargs, 2, "axis1", kwargs.get("dim1"))
    return views.transpose(imp, node, (args[0], a, b), {}, result)


def movedim(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.movedim(x, source, destination) (one dim or several; moveaxis too): the permute that moves them."""
    x = args[0]
    if not isinstance(x, TV):
        raise Unsupported("movedim of a non-tensor")
    rank = torch_rank(x)
    source = dims(arg(args, kwargs, 1, "source"), rank)
    destination = dims(arg(args, kwargs, 2, "destination"), rank)
    if len(source) != len(destination):
        raise Unsupported("movedim with source and destination of different lengths")
    order: list[int | None] = [None] * rank
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(rank) if d not in source)
    return views.permute(imp, node, (x, tuple(next(rest) if o is None else o for o in order)), {}, result)


for _handler in (swapaxes, movedim):
    _handler.batch_anywhere = True  # type: ignore[attr-defined]  # like permute (views.py)
