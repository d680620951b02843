"""The torch.export vocabulary: ATen op (its overload packet's name) -> the handler of its
functional twin, or an adapter where ATen's arguments differ from the functional call's."""
from __future__ import annotations

from typing import Any, Callable

from ...layers import (GELU, AdaptiveMaxPool, Hardsigmoid, Hardswish, InstanceNorm, LeakyReLU, Mish, ReLU, ReLU6,
                       Sigmoid, SiLU, Tanh)
from ..graphbuild import TV, Unsupported
from . import activations as a, arith, pools, resample, views, weighted as w
from .values import BATCH, PV, arg, params_of
from .walker import GraphWalker

Handler = Callable[..., Any]


def _first_of(handler: Handler) -> Handler:
    """An op returning (output, statistics / indices / mask): the handler on the output; the
    rest are no activations."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
        v = handler(imp, node, args, kwargs, result[0])
        return (v, *([None] * (len(result) - 1)))
    return handle


def _batch_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.batch_norm / native_batch_norm / _native_batch_norm_legit(_functional): (input,
    weight, bias, running_mean, running_var, training, momentum, eps); F.batch_norm's order differs."""
    get = lambda i, n, d=None: arg(args, kwargs, i, n, d)  # noqa: E731
    return w.batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                    get(2, "bias"), get(5, "training", True), get(6, "momentum", 0.1),
                                    get(7, "eps", 1e-5)), {}, result)


def _batch_norm_no_training(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)."""
    get = lambda i, n, d=None: arg(args, kwargs, i, n, d)  # noqa: E731
    return w.batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                    get(2, "bias"), False, get(5, "momentum", 0.1), get(6, "eps", 1e-5)), {}, result)


def _instance_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)."""
    x = imp.tensor(args[0])
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    running = arg(args, kwargs, 3, "running_mean")
    layer = InstanceNorm(eps=float(arg(args, kwargs, 7, "eps", 1e-5)),
                         momentum=float(arg(args, kwargs, 6, "momentum", 0.1) or 0.1), affine=weight is not None,
                         track_running_stats=running is not None)
    return imp.emit(layer, [x], x.shape, params=params_of(weight, bias))


def _conv_transpose2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.conv_transpose2d.input(input, weight, bias, stride, padding, output_padding, groups, dilation)."""
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)) or len(weight.shape) != 4:
        raise Unsupported("transposed convolution with computed weights")
    groups = int(arg(args, kwargs, 6, "groups", 1))
    return w.conv_t_on(imp, args[0], weight.shape[1] * groups, weight.shape[2:], arg(args, kwargs, 3, "stride", 1),
                       arg(args, kwargs, 4, "padding", 0), arg(args, kwargs, 7, "dilation", 1), groups,
                       bias is not None, result, params_of(weight, bias))


def _convolution(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    weight = arg(args, kwargs, 1, "weight")
    if not isinstance(weight, PV) or len(weight.shape) != 4:
        raise Unsupported("convolution other than 2-D with parameter weights")
    stride, padding, dilation = args[3], args[4], args[5]
    groups = int(arg(args, kwargs, 8, "groups", 1))
    if arg(args, kwargs, 6, "transposed", False):
        return _conv_transpose2d(imp, node, (args[0], weight, args[2], stride, padding, None, groups, dilation), {},
                                 result)
    return w.conv2d(imp, node, (args[0], weight, args[2], stride, padding, dilation, groups), {}, result)


def _matmul(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x @ W (mm, matmul) with W a 2-D parameter (or its transpose): a Linear without bias."""
    x, weight = args[0], args[1]
    if not isinstance(weight, PV) or len(weight.shape) != 2:
        raise Unsupported("matrix product other than by a 2-D parameter")
    return w.linear_on(imp, x, (weight.shape[1], weight.shape[0]), False, result, params_of(weight))


def _addmm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """addmm(bias, x, W): a Linear (beta = alpha = 1)."""
    bias, x, weight = args[0], args[1], args[2]
    if kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1:
        raise Unsupported("addmm with beta or alpha")
    if not isinstance(weight, PV) or not isinstance(bias, PV) or len(weight.shape) != 2 \
            or bias.shape != (weight.shape[1],):
        raise Unsupported("addmm other than a bias plus a product by a 2-D parameter")
    return w.linear_on(imp, x, (weight.shape[1], weight.shape[0]), True, result, params_of(weight, bias))


def _hardtanh(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """hardtanh(x, min_val=-1, max_val=1): ReLU6 for (0, 6), as nn.ReLU6 calls it."""
    lo, hi = arg(args, kwargs, 1, "min_val", -1.0), arg(args, kwargs, 2, "max_val", 1.0)
    return a.clamp(imp, node, (args[0], lo, hi), {}, result)


def _dropout_inplace(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return a.dropout(imp, node, (args[0], arg(args, kwargs, 1, "p", 0.5), arg(args, kwargs, 2, "train", True), True),
                     {}, result)


def _native_dropout(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    train = arg(args, kwargs, 2, "train", True)
    return a.dropout(imp, node, (args[0], arg(args, kwargs, 1, "p", 0.5), True if train is None else train), {},
                     result)


def _adaptive_max(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return pools.adaptive(imp, imp.tensor(args[0]), result, AdaptiveMaxPool)


def _upsample(mode: str) -> Handler:
    """upsample_nearest2d / upsample_bilinear2d: .vec (input, output_size, [align_corners,]
    scale_factors) or .default (input, output_size, [align_corners,] scales_h, scales_w)."""
    def handle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp.tensor(args[0])
        rest = list(args[2:])
        align = rest.pop(0) if mode == "bilinear" and rest else kwargs.get("align_corners", False)
        if getattr(node.target, "_overloadname", "") == "vec":
            factor = rest[0] if rest else kwargs.get("scale_factors")
        else:
            scales = [s for s in rest[:2] if s is not None]
            factor = tuple(scales) if len(scales) == 2 else None
        if isinstance(factor, list):
            factor = tuple(factor)
        return resample.upsample_on(imp, x, factor, mode, align, result)
    return handle


def _constant_pad(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return resample.pad_on(imp, imp.tensor(args[0]), tuple(int(p) for p in args[1]), "constant",
                           arg(args, kwargs, 2, "value", 0), result)


def _reflection_pad(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return resample.pad_on(imp, imp.tensor(args[0]), tuple(int(p) for p in args[1]), "reflect", None, result)


def _slice(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """slice.Tensor(x, dim, start, end, step): x[:, a:b] (a channel slice), or the whole tensor."""
    x = imp.tensor(args[0])
    dim = int(arg(args, kwargs, 1, "dim", 0))
    start, end, step = arg(args, kwargs, 2, "start"), arg(args, kwargs, 3, "end"), arg(args, kwargs, 4, "step", 1)
    if tuple(result.shape[1:]) == x.shape and tuple(result.shape[:1]) == (BATCH,):
        return x
    if dim % (len(x.shape) + 1) != 1:
        raise Unsupported(f"slice along dim {dim} (only along the channels)")
    return views.slice_index(imp, x, (slice(None), slice(start, end, step)))


ATEN: dict[str, Handler] = {
    # convolution, linear
    "conv2d": w.conv2d, "convolution": _convolution, "_convolution": _convolution,
    "conv_transpose2d": _conv_transpose2d, "linear": w.linear_call, "matmul": _matmul, "mm": _matmul,
    "addmm": _addmm,
    # norms
    "batch_norm": _batch_norm, "native_batch_norm": _first_of(_batch_norm),
    "_native_batch_norm_legit": _first_of(_batch_norm),
    "_native_batch_norm_legit_functional": _first_of(_batch_norm),
    "_native_batch_norm_legit_no_training": _first_of(_batch_norm_no_training),
    "layer_norm": w.layer_norm, "native_layer_norm": _first_of(w.layer_norm), "group_norm": w.group_norm,
    "instance_norm": _instance_norm,
    # activations (the in-place ones: `_`)
    "relu": a.act(ReLU, inplace_arg=None), "relu_": a.act(ReLU, inplace_always=True),
    "relu6": a.act(ReLU6, inplace_arg=None), "hardtanh": _hardtanh, "hardtanh_": _hardtanh,
    "clamp": a.clamp, "clamp_": a.clamp, "clip": a.clamp, "clip_": a.clamp,
    "leaky_relu": a.act(LeakyReLU, inplace_arg=None, fields=a.leaky_fields),
    "leaky_relu_": a.act(LeakyReLU, inplace_always=True, fields=a.leaky_fields),
    "silu": a.act(SiLU, inplace_arg=None), "silu_": a.act(SiLU, inplace_always=True),
    "hardswish": a.act(Hardswish, inplace_arg=None), "hardswish_": a.act(Hardswish, inplace_always=True),
    "hardsigmoid": a.act(Hardsigmoid, inplace_arg=None), "hardsigmoid_": a.act(Hardsigmoid, inplace_always=True),
    "sigmoid": a.act(Sigmoid, inplace_arg=None), "sigmoid_": a.act(Sigmoid, inplace_arg=None),
    "tanh": a.act(Tanh, inplace_arg=None), "tanh_": a.act(Tanh, inplace_arg=None),
    "mish": a.act(Mish, inplace_arg=None), "mish_": a.act(Mish, inplace_arg=None),
    "gelu": a.act(GELU, inplace_arg=None), "gelu_": a.act(GELU, inplace_arg=None),
    "softmax": a.softmax, "_softmax": a.softmax,
    # dropout
    "dropout": a.dropout, "dropout_": _dropout_inplace, "native_dropout": _first_of(_native_dropout),
    # pools
    "max_pool2d": pools.max_pool2d, "max_pool2d_with_indices": _first_of(pools.max_pool2d),
    "avg_pool2d": pools.avg_pool2d, "adaptive_avg_pool2d": pools.adaptive_avg_pool2d,
    "_adaptive_avg_pool2d": pools.adaptive_avg_pool2d, "adaptive_max_pool2d": _first_of(_adaptive_max),
    "mean": pools.mean,
    # resampling, padding, shuffles
    "upsample_nearest2d": _upsample("nearest"), "upsample_bilinear2d": _upsample("bilinear"),
    "pad": resample.pad_call, "constant_pad_nd": _constant_pad, "reflection_pad2d": _reflection_pad,
    "pixel_shuffle": resample.pixel_shuffle, "pixel_unshuffle": resample.pixel_unshuffle,
    "channel_shuffle": resample.channel_shuffle, "native_channel_shuffle": resample.channel_shuffle,
    # arithmetic
    "add": arith.add, "add_": arith.add, "mul": arith.mul, "mul_": arith.mul, "div": arith.div, "div_": arith.div,
    # structure: merges, pieces, views
    "cat": views.cat, "concat": views.cat, "concatenate": views.cat, "chunk": views.chunk,
    "unsafe_chunk": views.chunk, "split": views.split, "unsafe_split": views.split,
    "split_with_sizes": views.split, "slice": _slice, "flatten": views.flatten, "view": views.view,
    "reshape": views.view, "_unsafe_view": views.view, "squeeze": views.view, "unsqueeze": views.view,
    "view_as": views.view, "permute": views.permute, "transpose": views.transpose, "contiguous": views.contiguous,
    "clone": views.alias, "alias": views.alias, "detach": views.alias, "_to_copy": views.alias, "to": views.alias,
    "type_as": views.alias, "expand": views.alias, "expand_as": views.alias, "lift_fresh_copy": views.alias,
}
