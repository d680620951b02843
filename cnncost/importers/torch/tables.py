"""The torch.fx vocabulary: which handler maps a torch function, a tensor method or a module
class. Adding an op: its handler in the family's module, one entry here (and one in `aten` for
the torch.export path)."""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

from ...layers import (GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid, SiLU,
                       Tanh)
from . import activations as a, arith, pools, resample, views, weighted as w

# Functions by their path under torch or torch.nn.functional (F.): keyed by the function objects
# once torch is imported (`functions`).
FUNCTION_NAMES: dict[str, Callable] = {
    "F.relu": a.act(ReLU), "torch.relu": a.act(ReLU, inplace_arg=None),
    "torch.relu_": a.act(ReLU, inplace_always=True), "F.relu_": a.act(ReLU, inplace_always=True),
    "F.relu6": a.act(ReLU6),
    "F.leaky_relu": a.act(LeakyReLU, inplace_arg=2, fields=a.leaky_fields),
    "F.leaky_relu_": a.act(LeakyReLU, inplace_always=True, fields=a.leaky_fields),
    "F.silu": a.act(SiLU), "F.hardswish": a.act(Hardswish), "F.hardsigmoid": a.act(Hardsigmoid),
    "F.hardtanh": a.act(Hardtanh, inplace_arg=3, fields=a.hardtanh_fields),
    "F.hardtanh_": a.act(Hardtanh, inplace_always=True, fields=a.hardtanh_fields),
    "F.mish": a.act(Mish), "torch.sigmoid": a.act(Sigmoid, inplace_arg=None),
    "F.sigmoid": a.act(Sigmoid, inplace_arg=None), "torch.tanh": a.act(Tanh, inplace_arg=None),
    "F.tanh": a.act(Tanh, inplace_arg=None), "F.gelu": a.act(GELU, inplace_arg=None),
    "F.softmax": a.softmax, "torch.softmax": a.softmax, "torch.clamp": a.clamp, "torch.clip": a.clamp,
    "F.dropout": a.dropout, "F.max_pool2d": pools.max_pool2d, "F.avg_pool2d": pools.avg_pool2d,
    "F.adaptive_avg_pool2d": pools.adaptive_avg_pool2d, "F.adaptive_max_pool2d": pools.adaptive_max_pool2d,
    "F.interpolate": resample.interpolate, "F.upsample": resample.interpolate, "F.pad": resample.pad_call,
    "F.layer_norm": w.layer_norm, "F.batch_norm": w.batch_norm, "F.group_norm": w.group_norm,
    "F.conv2d": w.conv2d, "F.linear": w.linear_call,
    "F.pixel_shuffle": resample.pixel_shuffle, "torch.pixel_shuffle": resample.pixel_shuffle,
    "torch.channel_shuffle": resample.channel_shuffle, "F.channel_shuffle": resample.channel_shuffle,
    "torch.flatten": views.flatten, "torch.reshape": views.view, "torch.permute": views.permute,
    "torch.transpose": views.transpose, "torch.cat": views.cat, "torch.concat": views.cat,
    "torch.concatenate": views.cat, "torch.chunk": views.chunk, "torch.split": views.split,
    "torch.mean": pools.mean, "torch.add": arith.add, "torch.mul": arith.mul, "torch.multiply": arith.mul,
    "torch.div": arith.div,
}

OPERATORS: dict[Any, Callable] = {
    operator.add: arith.add, operator.iadd: arith.add, operator.mul: arith.mul, operator.imul: arith.mul,
    operator.truediv: arith.div, operator.getitem: views.getitem,
}

METHODS: dict[str, Callable] = {
    "relu": a.act(ReLU, inplace_arg=None), "relu_": a.act(ReLU, inplace_always=True),
    "sigmoid": a.act(Sigmoid, inplace_arg=None), "sigmoid_": a.act(Sigmoid, inplace_arg=None),
    "tanh": a.act(Tanh, inplace_arg=None), "tanh_": a.act(Tanh, inplace_arg=None),
    "clamp": a.clamp, "clamp_": a.clamp, "clip": a.clamp, "clip_": a.clamp,
    "softmax": a.softmax, "flatten": views.flatten, "view": views.view, "reshape": views.view,
    "permute": views.permute, "transpose": views.transpose, "contiguous": views.contiguous, "mean": pools.mean,
    "chunk": views.chunk, "split": views.split, "add": arith.add, "add_": arith.add, "mul": arith.mul,
    "mul_": arith.mul, "div": arith.div, "__getitem__": views.getitem,
    "expand_as": views.alias, "expand": views.alias, "float": views.alias, "type_as": views.alias,
    "to": views.alias, "clone": views.alias, "squeeze": views.view, "unsqueeze": views.view, "view_as": views.view,
}

# Module classes by name (the class or a base of it, from torch.nn, torchvision, timm or cnncost).
MODULES: dict[str, Callable] = {
    "Conv2d": w.m_conv, "ConvTranspose2d": w.m_conv_t, "Linear": w.m_linear, "BatchNorm2d": w.m_batchnorm,
    "BatchNorm1d": w.m_batchnorm, "SyncBatchNorm": w.m_batchnorm, "LayerNorm": w.m_layer_norm,
    "GroupNorm": w.m_group_norm, "InstanceNorm2d": w.m_instance_norm, "LocalResponseNorm": w.m_lrn,
    "ReLU": a.module_act(ReLU), "ReLU6": a.module_act(ReLU6),
    "LeakyReLU": a.module_act(LeakyReLU, lambda m: {"negative_slope": float(m.negative_slope)}),
    "SiLU": a.module_act(SiLU), "Hardswish": a.module_act(Hardswish), "Hardsigmoid": a.module_act(Hardsigmoid),
    "Hardtanh": a.module_act(Hardtanh, lambda m: {"min_val": float(m.min_val), "max_val": float(m.max_val)}),
    "Mish": a.module_act(Mish), "Sigmoid": a.module_act(Sigmoid), "Tanh": a.module_act(Tanh),
    "GELU": a.module_act(GELU), "Softmax": a.m_softmax, "Identity": views.m_identity, "Dropout": a.m_dropout,
    "MaxPool2d": pools.m_maxpool, "AvgPool2d": pools.m_avgpool, "AdaptiveAvgPool2d": pools.m_adaptive_avg,
    "AdaptiveMaxPool2d": pools.m_adaptive_max, "Flatten": views.m_flatten, "Upsample": resample.m_upsample,
    "PixelShuffle": resample.m_pixel_shuffle, "PixelUnshuffle": resample.m_pixel_shuffle, "ZeroPad2d": resample.m_pad,
    "ConstantPad2d": resample.m_pad, "ReflectionPad2d": resample.m_pad, "ChannelShuffle": resample.m_channel_shuffle,
    "StochasticDepth": a.m_stochastic_depth, "DropPath": a.m_stochastic_depth, "CenterCrop": resample.m_center_crop,
}
_MODULE_HOMES = ("torch.nn", "torchvision", "timm", "cnncost.layers.torch_modules")


def _resolve(name: str) -> Any:
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
        obj = _resolve(key)
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
