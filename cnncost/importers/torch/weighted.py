"""Handlers of the layers with weights: convolutions, linear layers and the norms, as modules
and as functional calls on parameters (`PV`)."""
from __future__ import annotations

from typing import Any

from ...layers import LRN, BatchNorm, ConvTranspose, GroupNorm, InstanceNorm, Permute
from ...layers.base import Layer
from ...layers.imported import Fixed, layer_fields
from ...shapes import Shape
from ..graphbuild import TV, Unsupported
from ..lowering import conv, layer_norm as lower_layer_norm, linear, pair_or_int
from .values import PV, arg, params_of
from .walker import GraphWalker


def module_params(m: Any) -> list[Any]:
    """`list(m.parameters())` of a leaf module without walking its (absent) children: its own
    parameters, each once."""
    if m._modules:
        return list(m.parameters())
    seen: dict[int, Any] = {}
    for p in m._parameters.values():
        if p is not None:
            seen.setdefault(id(p), p)
    return list(seen.values())


def m_conv(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("Conv1d", "Conv2d", "Conv3d"):
        raise Unsupported("")
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode '{m.padding_mode}'")
    out, _, *kernel = m.weight.shape
    bias = m.bias is not None
    layer = imp.layer(("conv", out, tuple(kernel), m.stride, m.padding, m.dilation, m.groups, bias),
                      lambda: conv(out, kernel, stride=m.stride, padding=m.padding, dilation=m.dilation,
                                   groups=m.groups, bias=bias))
    return imp.emit(layer, [imp.tensor(args[0])], imp.out(result), params=module_params(m))


def conv2d(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)):
        raise Unsupported("conv2d with computed weights")
    out, _, *kernel = weight.shape
    layer: Layer = conv(out, kernel, stride=arg(args, kwargs, 3, "stride", 1), padding=arg(args, kwargs, 4, "padding", 0),
                 dilation=arg(args, kwargs, 5, "dilation", 1), groups=arg(args, kwargs, 6, "groups", 1),
                 bias=bias is not None)
    params = params_of(weight, bias)
    learned = {bool(params_of(v)) for v in (weight, bias) if v is not None}
    if learned == {False}:  # a blur filter registered as a buffer: buffers are never params
        layer = Fixed(layer=layer_fields(layer))
    elif learned != {True}:
        raise Unsupported("conv2d with a buffer weight and a parameter bias (or the reverse)")
    return imp.emit(layer, [x], imp.out(result), params=params)


def m_conv_t(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "ConvTranspose2d" or m.padding_mode != "zeros":
        raise Unsupported("")
    return conv_t_on(imp, args[0], int(m.out_channels), m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                     m.bias is not None, result, module_params(m))


def conv_t_on(imp: GraphWalker, x: Any, out: int, kernel: Any, stride: Any, padding: Any, dilation: Any,
              groups: int, bias: bool, result: Any, params: list) -> TV:
    """A transposed convolution; its output padding: what the traced output size needs."""
    x = imp.tensor(x)
    y = imp.out(result)
    if len(x.shape) != 3:
        raise Unsupported("transposed convolution of a flat tensor")

    def two(v: Any) -> tuple[int, int]:
        v = tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else (int(v),)
        return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = two(kernel), two(stride), two(padding), two(dilation)
    base = [(x.shape[1] - 1) * sh - 2 * ph + dh * (kh - 1) + 1, (x.shape[2] - 1) * sw - 2 * pw + dw * (kw - 1) + 1]
    extra = (y[1] - base[0], y[2] - base[1])
    layer = ConvTranspose(out=int(out), kernel=pair_or_int((kh, kw)), stride=pair_or_int((sh, sw)),
                          padding=pair_or_int((ph, pw)), output_padding=pair_or_int(extra),
                          dilation=pair_or_int((dh, dw)), groups=int(groups), bias=bias)
    return imp.emit(layer, [x], y, params=params)


def m_linear(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("Linear", "LazyLinear", "NonDynamicallyQuantizableLinear"):
        raise Unsupported("")
    return linear_on(imp, args[0], tuple(m.weight.shape), m.bias is not None, result, module_params(m))


def linear_call(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    weight, bias = arg(args, kwargs, 1, "weight"), arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)):
        raise Unsupported("linear with computed weights")
    return linear_on(imp, args[0], weight.shape, bias is not None, result, params_of(weight, bias))


def linear_on(imp: GraphWalker, x: Any, weight_shape: Shape, bias: bool, result: Any, params: list) -> TV:
    x = imp.tensor(x, ("std", "nhwc"))
    if x.form == "nhwc" and x.leaf not in imp.nhwc_rows:
        # the channels-last permute of a channels-first tensor (CaiT's talking heads): a linear on
        # the permute's view, whose strides tell the memory model that torch.matmul copies it
        x = imp.materialize(x)
    return linear(imp, x, int(weight_shape[0]), bias, params, imp.out(result))


def m_batchnorm(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "BatchNormAct2d"):
        raise Unsupported("")
    x = imp.tensor(args[0])
    momentum = 0.1 if m.momentum is None else float(m.momentum)
    eps, affine, track = float(m.eps), bool(m.affine), bool(m.track_running_stats)
    layer = imp.layer((BatchNorm, eps, momentum, affine, track),
                      lambda: BatchNorm(eps=eps, momentum=momentum, affine=affine, track_running_stats=track))
    if x.folded and len(x.shape) == 2:
        return rows_batch_norm(imp, x, layer, module_params(m))
    return imp.emit(layer, [x], x.shape, params=module_params(m))


def rows_batch_norm(imp: GraphWalker, x: TV, layer: BatchNorm, params: list) -> TV:
    """A batch norm of the channels of rows whose batch is folded in, (N*L, C) (LeViT's
    LinearNorm): the batch norm of the transposed map (C, L), the same statistics over N*L, between
    two permute views."""
    k, c = x.shape
    t = imp.emit(Permute(dims=(1, 0)), [x], (c, k), base="permute")
    imp.folding = False  # (C, L) per sample: the channels first, as a batch norm reads them
    y = imp.emit(layer, [t], (c, k), params=params)
    imp.folding = True
    back = imp.emit(Permute(dims=(1, 0)), [y], (k, c), base="permute")
    return back


def batch_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    weight, bias = arg(args, kwargs, 3, "weight"), arg(args, kwargs, 4, "bias")
    if (weight is None) != (bias is None):
        raise Unsupported("batch norm with a weight but no bias (or the reverse)")
    momentum = arg(args, kwargs, 6, "momentum", 0.1)
    eps = arg(args, kwargs, 7, "eps", 1e-5)
    layer = BatchNorm(eps=float(eps), momentum=0.1 if momentum is None else float(momentum), affine=weight is not None,
                      track_running_stats=arg(args, kwargs, 1, "running_mean") is not None)
    if x.folded and len(x.shape) == 2:
        return rows_batch_norm(imp, x, layer, params_of(weight, bias))
    return imp.emit(layer, [x], x.shape, params=params_of(weight, bias))


def layer_norm_on(imp: GraphWalker, x: Any, normalized: Any, eps: float, affine: bool, bias: bool,
                  params: list) -> TV:
    x = imp.tensor(x, ("std", "nhwc"))
    normalized = tuple(int(n) for n in normalized) if isinstance(normalized, (list, tuple)) else (int(normalized),)
    return lower_layer_norm(imp, x, normalized, eps, affine, params, bias=bias or not affine)


def m_layer_norm(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ != "LayerNorm":
        raise Unsupported("")
    return layer_norm_on(imp, args[0], m.normalized_shape, m.eps, m.elementwise_affine,
                         getattr(m, "bias", None) is not None, module_params(m))


def layer_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    weight, bias = arg(args, kwargs, 2, "weight"), arg(args, kwargs, 3, "bias")
    return layer_norm_on(imp, args[0], arg(args, kwargs, 1, "normalized_shape"), arg(args, kwargs, 4, "eps", 1e-5),
                         weight is not None, bias is not None or weight is None, params_of(weight, bias))


def m_group_norm(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    bias = getattr(m, "bias", None) is not None or not m.affine  # timm's GroupNorm1NoBias: bias None
    return imp.emit(GroupNorm(groups=int(m.num_groups), eps=float(m.eps), affine=bool(m.affine), bias=bias), [x],
                    x.shape, params=module_params(m))


def group_norm(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    weight, bias = arg(args, kwargs, 2, "weight"), arg(args, kwargs, 3, "bias")
    if weight is None and bias is not None:
        raise Unsupported("group norm with a bias but no weight")
    layer = GroupNorm(groups=int(arg(args, kwargs, 1, "num_groups")), eps=float(arg(args, kwargs, 4, "eps", 1e-5)),
                      affine=weight is not None, bias=bias is not None or weight is None)
    return imp.emit(layer, [x], x.shape, params=params_of(weight, bias))


def m_instance_norm(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    if type(m).__name__ not in ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"):
        raise Unsupported("")
    x = imp.tensor(args[0])
    return imp.emit(InstanceNorm(eps=float(m.eps), momentum=float(m.momentum or 0.1), affine=bool(m.affine),
                                 track_running_stats=bool(m.track_running_stats), folded=x.folded and len(x.shape) >= 3),
                    [x], x.shape,
                    params=module_params(m))


def m_lrn(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    return imp.emit(LRN(size=int(m.size), alpha=float(m.alpha), beta=float(m.beta), k=float(m.k)), [x], x.shape)
