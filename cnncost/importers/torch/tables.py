"""The torch vocabulary: which handler maps a torch function, a tensor method, an ATen op (the
torch.export path) or a module class.

One `TorchOp` row per handler names every spelling it serves, so an op is one handler and one row
here for both tracers (plus a `MODULES` entry when it is also a module class). Handlers live in
their family's module; ATen adapters in `aten`.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, Callable

from ...layers import (GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid, SiLU,
                       Tanh)
from . import activations as a, arith, aten, pools, resample, views, weighted as w
from . import attention as attn
from . import moves
from . import sampling
from . import copy_into
from .rnn import m_lstm
from . import embedding as emb


@dataclass(frozen=True)
class TorchOp:
    """A handler and its spellings: `functions` (paths under torch and torch.nn.functional `F.`),
    tensor `methods`, and `aten` ops (overload packet names)."""

    handler: Callable
    functions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    aten: tuple[str, ...] = ()


_FUNCTIONAL: dict[str, Any] = {"inplace_arg": None}  # torch.sigmoid(x), aten.relu(x): no inplace argument
_IN_PLACE: dict[str, Any] = {"inplace_always": True}  # F.relu_(x), x.relu_(), aten.relu_(x)

OPS: tuple[TorchOp, ...] = (
    # activations
    TorchOp(a.act(ReLU), functions=("F.relu",)),
    TorchOp(a.act(ReLU, **_FUNCTIONAL), functions=("torch.relu",), methods=("relu",), aten=("relu",)),
    TorchOp(a.act(ReLU, **_IN_PLACE), functions=("torch.relu_", "F.relu_"), methods=("relu_",), aten=("relu_",)),
    TorchOp(a.act(ReLU6), functions=("F.relu6",)),
    TorchOp(a.act(ReLU6, **_FUNCTIONAL), aten=("relu6",)),
    TorchOp(a.act(LeakyReLU, inplace_arg=2, fields=a.leaky_fields), functions=("F.leaky_relu",)),
    TorchOp(a.act(LeakyReLU, **_FUNCTIONAL, fields=a.leaky_fields), aten=("leaky_relu",)),
    TorchOp(a.act(LeakyReLU, **_IN_PLACE, fields=a.leaky_fields), functions=("F.leaky_relu_",), aten=("leaky_relu_",)),
    TorchOp(a.act(SiLU), functions=("F.silu",)),
    TorchOp(a.act(SiLU, **_FUNCTIONAL), aten=("silu",)),
    TorchOp(a.act(SiLU, **_IN_PLACE), aten=("silu_",)),
    TorchOp(a.act(Hardswish), functions=("F.hardswish",)),
    TorchOp(a.act(Hardswish, **_FUNCTIONAL), aten=("hardswish",)),
    TorchOp(a.act(Hardswish, **_IN_PLACE), aten=("hardswish_",)),
    TorchOp(a.act(Hardsigmoid), functions=("F.hardsigmoid",)),
    TorchOp(a.act(Hardsigmoid, **_FUNCTIONAL), aten=("hardsigmoid",)),
    TorchOp(a.act(Hardsigmoid, **_IN_PLACE), aten=("hardsigmoid_",)),
    TorchOp(a.act(Hardtanh, inplace_arg=3, fields=a.hardtanh_fields), functions=("F.hardtanh",)),
    TorchOp(a.act(Hardtanh, **_IN_PLACE, fields=a.hardtanh_fields), functions=("F.hardtanh_",)),
    TorchOp(aten.hardtanh, aten=("hardtanh", "hardtanh_")),
    TorchOp(a.act(Mish), functions=("F.mish",)),
    TorchOp(a.act(Mish, **_FUNCTIONAL), aten=("mish", "mish_")),
    TorchOp(a.act(Sigmoid, **_FUNCTIONAL), functions=("torch.sigmoid", "F.sigmoid"), methods=("sigmoid", "sigmoid_"),
            aten=("sigmoid", "sigmoid_")),
    TorchOp(a.act(Tanh, **_FUNCTIONAL), functions=("torch.tanh", "F.tanh"), methods=("tanh", "tanh_"),
            aten=("tanh", "tanh_")),
    TorchOp(a.act(GELU, **_FUNCTIONAL), functions=("F.gelu",), aten=("gelu", "gelu_")),
    TorchOp(a.softmax, functions=("F.softmax", "torch.softmax"), methods=("softmax",), aten=("softmax", "_softmax")),
    TorchOp(a.clamp, functions=("torch.clamp", "torch.clip"), methods=("clamp", "clamp_", "clip", "clip_"),
            aten=("clamp", "clamp_", "clip", "clip_")),
    # dropout, stochastic depth (torchvision's function: found by name, see `function_handler`)
    TorchOp(a.dropout, functions=("F.dropout",), aten=("dropout",)),
    TorchOp(aten.dropout_inplace, aten=("dropout_",)),
    TorchOp(aten.first_of(aten.native_dropout), aten=("native_dropout",)),
    # convolution, linear
    TorchOp(w.conv2d, functions=("F.conv2d",), aten=("conv2d",)),
    TorchOp(w.conv2d, functions=("F.conv1d", "F.conv3d"), aten=("conv1d", "conv3d")),
    TorchOp(aten.convolution, aten=("convolution", "_convolution")),
    TorchOp(aten.conv_transpose2d, aten=("conv_transpose2d",)),
    TorchOp(w.linear_call, functions=("F.linear",), aten=("linear",)),
    TorchOp(attn.matmul, functions=("torch.matmul", "torch.bmm", "torch.mm"), methods=("matmul", "bmm", "mm"),
            aten=("matmul", "mm", "bmm")),
    TorchOp(attn.einsum, functions=("torch.einsum",), aten=("einsum",)),
    TorchOp(attn.sdpa, functions=("F.scaled_dot_product_attention",), aten=("scaled_dot_product_attention",)),
    TorchOp(aten.addmm, aten=("addmm",)),
    # norms
    TorchOp(w.batch_norm, functions=("F.batch_norm",)),
    TorchOp(aten.batch_norm, aten=("batch_norm",)),
    TorchOp(aten.first_of(aten.batch_norm),
            aten=("native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional")),
    TorchOp(aten.first_of(aten.batch_norm_no_training), aten=("_native_batch_norm_legit_no_training",)),
    TorchOp(w.layer_norm, functions=("F.layer_norm",), aten=("layer_norm",)),
    TorchOp(aten.first_of(w.layer_norm), aten=("native_layer_norm",)),
    TorchOp(w.group_norm, functions=("F.group_norm",), aten=("group_norm",)),
    TorchOp(aten.instance_norm, aten=("instance_norm",)),
    # pools
    TorchOp(pools.max_pool2d, functions=("F.max_pool2d",), aten=("max_pool2d",)),
    TorchOp(aten.first_of(pools.max_pool2d), aten=("max_pool2d_with_indices",)),
    TorchOp(pools.avg_pool2d, functions=("F.avg_pool2d",), aten=("avg_pool2d",)),
    TorchOp(pools.adaptive_avg_pool2d, functions=("F.adaptive_avg_pool2d",),
            aten=("adaptive_avg_pool2d", "_adaptive_avg_pool2d")),
    TorchOp(pools.adaptive_max_pool2d, functions=("F.adaptive_max_pool2d",)),
    TorchOp(aten.first_of(aten.adaptive_max), aten=("adaptive_max_pool2d",)),
    TorchOp(pools.max_pool2d, functions=("F.max_pool1d", "F.max_pool3d"), aten=("max_pool1d", "max_pool3d")),
    TorchOp(aten.first_of(pools.max_pool2d), aten=("max_pool1d_with_indices", "max_pool3d_with_indices")),
    TorchOp(pools.avg_pool2d, functions=("F.avg_pool1d", "F.avg_pool3d"), aten=("avg_pool1d", "avg_pool3d")),
    TorchOp(pools.adaptive_avg_pool2d, functions=("F.adaptive_avg_pool1d", "F.adaptive_avg_pool3d"),
            aten=("adaptive_avg_pool1d", "adaptive_avg_pool3d", "_adaptive_avg_pool3d")),
    TorchOp(pools.adaptive_max_pool2d, functions=("F.adaptive_max_pool1d", "F.adaptive_max_pool3d")),
    TorchOp(aten.first_of(aten.adaptive_max), aten=("adaptive_max_pool1d", "adaptive_max_pool3d")),
    TorchOp(pools.mean, functions=("torch.mean",), methods=("mean",), aten=("mean",)),
    TorchOp(pools.reduction("sum"), functions=("torch.sum",), methods=("sum",), aten=("sum",)),
    TorchOp(pools.reduction("amax"), functions=("torch.amax",), methods=("amax",), aten=("amax",)),
    TorchOp(pools.max_values, functions=("torch.max",), methods=("max",), aten=("max",)),
    TorchOp(pools.reduction("amin"), functions=("torch.amin",), methods=("amin",), aten=("amin",)),
    TorchOp(pools.norm, functions=("torch.norm", "torch.linalg.vector_norm"), methods=("norm",),
            aten=("linalg_vector_norm",)),
    # resampling, padding, shuffles
    TorchOp(resample.interpolate, functions=("F.interpolate", "F.upsample")),
    TorchOp(aten.upsample("nearest"), aten=("upsample_nearest2d",)),
    TorchOp(aten.upsample("bilinear"), aten=("upsample_bilinear2d",)),
    TorchOp(aten.upsample("nearest"), aten=("upsample_nearest1d", "upsample_nearest3d")),
    TorchOp(aten.upsample("linear"), aten=("upsample_linear1d",)),
    TorchOp(aten.upsample("trilinear"), aten=("upsample_trilinear3d",)),
    TorchOp(aten.upsample("bicubic"), aten=("upsample_bicubic2d",)),
    TorchOp(resample.pad_call, functions=("F.pad",), aten=("pad",)),
    TorchOp(aten.constant_pad, aten=("constant_pad_nd",)),
    TorchOp(aten.reflection_pad, aten=("reflection_pad2d",)),
    TorchOp(resample.pixel_shuffle, functions=("F.pixel_shuffle", "torch.pixel_shuffle"), aten=("pixel_shuffle",)),
    TorchOp(resample.pixel_unshuffle, aten=("pixel_unshuffle",)),
    TorchOp(resample.channel_shuffle, functions=("torch.channel_shuffle", "F.channel_shuffle"),
            aten=("channel_shuffle", "native_channel_shuffle")),
    # arithmetic
    TorchOp(arith.add, functions=("torch.add",), methods=("add", "add_"), aten=("add", "add_")),
    TorchOp(arith.mul, functions=("torch.mul", "torch.multiply"), methods=("mul", "mul_"), aten=("mul", "mul_")),
    TorchOp(arith.div, functions=("torch.div",), methods=("div",), aten=("div", "div_")),
    TorchOp(arith.sub, functions=("torch.sub", "torch.subtract"), methods=("sub",), aten=("sub",)),
    TorchOp(arith.rsub, aten=("rsub",)),
    TorchOp(arith.pow_, functions=("torch.pow",), methods=("pow",), aten=("pow",)),
    TorchOp(arith.square, functions=("torch.square",), methods=("square",), aten=("square",)),
    TorchOp(arith.addcmul, functions=("torch.addcmul",), methods=("addcmul",), aten=("addcmul",)),
    TorchOp(pools.normalize, functions=("F.normalize",)),
    TorchOp(a.clamp_min, functions=("torch.clamp_min",), methods=("clamp_min",), aten=("clamp_min",)),
    TorchOp(resample.unfold, functions=("F.unfold",), aten=("im2col",)),
    TorchOp(resample.fold, functions=("F.fold",), aten=("col2im",)),
    TorchOp(sampling.grid_sample, functions=("F.grid_sample",), aten=("grid_sampler", "grid_sampler_2d", "grid_sampler_3d")),
    *(TorchOp(arith.unary(op), functions=(f"torch.{op}",), methods=(op,), aten=(op,))
      for op in ("sqrt", "rsqrt", "exp", "log", "reciprocal", "abs", "neg")),
    TorchOp(pools.var, functions=("torch.var",), methods=("var",), aten=("var",)),
    # structure: merges, pieces, views
    TorchOp(views.cat, functions=("torch.cat", "torch.concat", "torch.concatenate"),
            aten=("cat", "concat", "concatenate")),
    TorchOp(views.stack, functions=("torch.stack",), aten=("stack",)),
    TorchOp(views.chunk, functions=("torch.chunk",), methods=("chunk",), aten=("chunk", "unsafe_chunk")),
    TorchOp(views.split, functions=("torch.split",), methods=("split",),
            aten=("split", "unsafe_split", "split_with_sizes")),
    TorchOp(views.split, functions=("torch.tensor_split",), methods=("tensor_split",), aten=("tensor_split",)),
    TorchOp(aten.slice_tensor, aten=("slice",)),
    TorchOp(aten.select, functions=("torch.select",), methods=("select",), aten=("select",)),
    TorchOp(views.unbind, functions=("torch.unbind",), methods=("unbind",), aten=("unbind",)),
    TorchOp(views.getitem, methods=("__getitem__",)),
    TorchOp(views.flatten, functions=("torch.flatten",), methods=("flatten",), aten=("flatten",)),
    TorchOp(views.view, functions=("torch.reshape",),
            methods=("view", "reshape", "squeeze", "unsqueeze", "view_as", "reshape_as"),
            aten=("view", "reshape", "_unsafe_view", "squeeze", "unsqueeze", "view_as", "reshape_as")),
    TorchOp(views.permute, functions=("torch.permute",), methods=("permute",), aten=("permute",)),
    TorchOp(views.transpose, functions=("torch.transpose",), methods=("transpose",), aten=("transpose",)),
    TorchOp(aten.swapaxes, functions=("torch.swapaxes", "torch.swapdims"), methods=("swapaxes", "swapdims"),
            aten=("swapaxes", "swapdims")),
    TorchOp(aten.movedim, functions=("torch.movedim", "torch.moveaxis"), methods=("movedim", "moveaxis"),
            aten=("movedim", "moveaxis")),
    TorchOp(moves.roll, functions=("torch.roll",), methods=("roll",), aten=("roll",)),
    TorchOp(moves.unfold_dim, methods=("unfold",), aten=("unfold",)),
    TorchOp(moves.repeat_interleave, functions=("torch.repeat_interleave",), methods=("repeat_interleave",),
            aten=("repeat_interleave",)),
    TorchOp(emb.embedding_call, functions=("F.embedding",)),
    TorchOp(emb.aten_embedding, aten=("embedding",)),
    TorchOp(views.contiguous, methods=("contiguous",), aten=("contiguous",)),
    TorchOp(views.alias, methods=("expand_as", "expand", "float", "type_as", "to", "clone"),
            aten=("clone", "alias", "detach", "_to_copy", "to", "type_as", "expand", "expand_as", "lift_fresh_copy")),
    TorchOp(copy_into.copy_, methods=("copy_",), aten=("copy_",)),
)

# Python's operators as fx records them (a + b, x[i], a += b).
OPERATORS: dict[Any, Callable] = {
    operator.add: arith.add, operator.iadd: arith.add, operator.mul: arith.mul, operator.imul: arith.mul,
    operator.truediv: arith.div, operator.matmul: attn.matmul, operator.getitem: views.getitem, operator.sub: arith.sub, operator.pow: arith.pow_,
    operator.neg: arith.unary("neg"),
}


def _spellings(kind: str) -> dict[str, Callable]:
    table: dict[str, Callable] = {}
    for op in OPS:
        for name in getattr(op, kind):
            if name in table:
                raise ValueError(f"{kind} '{name}' has two handlers")
            table[name] = op.handler
    return table


FUNCTION_NAMES = _spellings("functions")
METHODS = _spellings("methods")
ATEN = _spellings("aten")

# Module classes by name (the class or a base of it, from torch.nn, torchvision, timm or cnncost).
MODULES: dict[str, Callable] = {
    "Conv1d": w.m_conv, "Conv2d": w.m_conv, "Conv3d": w.m_conv, "ConvTranspose2d": w.m_conv_t, "Linear": w.m_linear, "BatchNorm2d": w.m_batchnorm, "BatchNorm3d": w.m_batchnorm,
    "BatchNorm1d": w.m_batchnorm, "SyncBatchNorm": w.m_batchnorm, "LayerNorm": w.m_layer_norm,
    "GroupNorm": w.m_group_norm, "InstanceNorm1d": w.m_instance_norm, "InstanceNorm2d": w.m_instance_norm,
    "InstanceNorm3d": w.m_instance_norm, "LocalResponseNorm": w.m_lrn,
    "ReLU": a.module_act(ReLU), "ReLU6": a.module_act(ReLU6),
    "LeakyReLU": a.module_act(LeakyReLU, lambda m: {"negative_slope": float(m.negative_slope)}),
    "SiLU": a.module_act(SiLU), "Hardswish": a.module_act(Hardswish), "Hardsigmoid": a.module_act(Hardsigmoid),
    "Hardtanh": a.module_act(Hardtanh, lambda m: {"min_val": float(m.min_val), "max_val": float(m.max_val)}),
    "Mish": a.module_act(Mish), "Sigmoid": a.module_act(Sigmoid), "Tanh": a.module_act(Tanh),
    "GELU": a.module_act(GELU), "Softmax": a.m_softmax, "Identity": views.m_identity, "Dropout": a.m_dropout,
    "MaxPool2d": pools.m_maxpool, "AvgPool2d": pools.m_avgpool, "AdaptiveAvgPool2d": pools.m_adaptive_avg,
    "AdaptiveMaxPool2d": pools.m_adaptive_max, "MaxPool1d": pools.m_maxpool, "MaxPool3d": pools.m_maxpool,
    "AvgPool1d": pools.m_avgpool, "AvgPool3d": pools.m_avgpool, "AdaptiveAvgPool1d": pools.m_adaptive_avg,
    "AdaptiveAvgPool3d": pools.m_adaptive_avg, "AdaptiveMaxPool1d": pools.m_adaptive_max,
    "AdaptiveMaxPool3d": pools.m_adaptive_max, "Flatten": views.m_flatten, "Upsample": resample.m_upsample,
    "PixelShuffle": resample.m_pixel_shuffle, "PixelUnshuffle": resample.m_pixel_shuffle, "ZeroPad2d": resample.m_pad,
    "ConstantPad2d": resample.m_pad, "ReflectionPad2d": resample.m_pad, "ChannelShuffle": resample.m_channel_shuffle,
    "MultiheadAttention": attn.m_multihead,
    "StochasticDepth": a.m_stochastic_depth, "DropPath": a.m_stochastic_depth, "CenterCrop": resample.m_center_crop,
    "Unfold": resample.m_unfold, "Fold": resample.m_fold,
    "LSTM": m_lstm,
    "Embedding": emb.m_embedding,
}
_MODULE_HOMES = ("torch.nn", "torchvision", "timm", "cnncost.torch_backend.own_modules")


def torch_function(name: str) -> Any:
    """The torch function a `FUNCTION_NAMES` key names (`F.relu`, `torch.cat`), None where this torch lacks it."""
    import torch
    import torch.nn.functional as F
    obj: Any = F if name.startswith("F.") else torch
    for part in name.removeprefix("F.").removeprefix("torch.").split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


@functools.cache
def functions() -> dict[Any, Callable]:
    """Handlers keyed by torch's function objects (imports torch: built on the first import)."""
    table = dict(OPERATORS)
    for key, handler in FUNCTION_NAMES.items():
        obj = torch_function(key)
        if obj is not None:
            table.setdefault(obj, handler)
    return table


def function_handler(target: Any) -> Callable | None:
    """The handler of a call_function target; torchvision's functions fx wraps are found by name."""
    found = functions().get(target)
    if found is not None:
        return found
    name = getattr(target, "__name__", "")
    if (getattr(target, "__module__", "") or "").startswith("torchvision"):
        return {"stochastic_depth": a.stochastic_depth, "channel_shuffle": resample.channel_shuffle}.get(name)
    return None


def module_handler(m: Any) -> Callable | None:
    """The handler of module `m`: by its class's name, or the nearest base class's."""
    for cls in type(m).__mro__:
        if cls.__module__.startswith(_MODULE_HOMES) and cls.__name__ in MODULES:
            return MODULES[cls.__name__]
    return None
