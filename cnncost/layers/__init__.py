"""Every layer and block type: `TYPES` below is the one table of them, by module.

A family's module is imported the first time one of its types is used: a spec names its `type:`
(`LAYER_TYPES`, the registry) or Python code names its class (`cnncost.layers.Conv`,
`cnncost.Conv`, `from cnncost.layers import Conv`). The command line's cold start then imports
only the families its net uses (`cnncost table resnet152`: no attention, tensor-op or imported
types).

Adding a layer type: its `@register("type_name")` class in a module of this package, and one entry
`"type_name": "ClassName"` under that module in `TYPES` (a new module: a new key). Nothing else
here; `tests/layers/test_registry.py` checks that the table and the modules agree.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import LAYER_TYPES, Block, Layer, Merge, Node, Ref, Visit, register

if TYPE_CHECKING:  # the classes as type checkers see them; at run time `__getattr__` imports a family on first use
    from .act import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU,
                      LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, RReLU, SiLU, Sigmoid, Softmax, Softmin,
                      Softplus, Softshrink, Softsign, Tanh, Tanhshrink, Threshold)
    from .arith import Affine, Arith, Learnable, Reduce, Tokens
    from .attention import Attention, Matmul, MergeHeads, MultiheadAttention, SplitHeads
    from .blocks import Concat, Gate, Repeat, Residual, Sequential, Side, SqueezeExcite
    from .computed import Computed
    from .conv import Conv, ConvTranspose
    from .embedding import Embedding
    from .imported import Fixed, Opaque, Reshape, Shared
    from .inputs import Input
    from .linear import Dropout, Flatten, Linear
    from .merge import Add, ConcatMerge, Div, Maximum, Minimum, Mul, Stack, Sub
    from .moves import Roll, UnfoldDim
    from .norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
    from .pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
    from .reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
    from .rnn import LSTM
    from .sample import GridSample
    from .scale import LayerScale, StochasticDepth
    from .tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
    from .unary import Unary
    from .unfold import Fold, Unfold

# module -> {spec type name: class name}, in the order `cnncost list` and the docs know them.
TYPES: dict[str, dict[str, str]] = {
    "conv": {"conv": "Conv", "conv_transpose": "ConvTranspose"},
    "pool": {"maxpool": "MaxPool", "avgpool": "AvgPool", "adaptive_avgpool": "AdaptiveAvgPool",
             "adaptive_maxpool": "AdaptiveMaxPool", "global_avgpool": "GlobalAvgPool"},
    "norm": {"batchnorm": "BatchNorm", "lrn": "LRN", "layer_norm": "LayerNorm", "group_norm": "GroupNorm",
             "instance_norm": "InstanceNorm"},
    "act": {"relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "LeakyReLU", "silu": "SiLU", "hardswish": "Hardswish",
            "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU", "hardsigmoid": "Hardsigmoid",
            "hardtanh": "Hardtanh", "mish": "Mish", "softmax": "Softmax", "identity": "Identity",
            "elu": "ELU", "selu": "SELU", "celu": "CELU", "glu": "GLU", "softplus": "Softplus",
            "softsign": "Softsign", "softshrink": "Softshrink", "hardshrink": "Hardshrink",
            "tanhshrink": "Tanhshrink", "threshold": "Threshold", "log_sigmoid": "LogSigmoid", "prelu": "PReLU",
            "rrelu": "RReLU", "softmin": "Softmin", "log_softmax": "LogSoftmax"},
    "linear": {"flatten": "Flatten", "dropout": "Dropout", "linear": "Linear"},
    "merge": {"add": "Add", "mul": "Mul", "sub": "Sub", "div": "Div", "maximum": "Maximum", "minimum": "Minimum",
              "stack": "Stack"},
    "blocks": {"sequential": "Sequential", "repeat": "Repeat", "concat": "Concat", "residual": "Residual",
               "gate": "Gate", "se": "SqueezeExcite", "side": "Side"},
    "reshape": {"chunk": "Chunk", "channel_shuffle": "ChannelShuffle", "pixel_shuffle": "PixelShuffle",
                "pixel_unshuffle": "PixelUnshuffle", "pad": "Pad", "crop": "CenterCrop", "upsample": "Upsample"},
    "scale": {"layer_scale": "LayerScale", "stochastic_depth": "StochasticDepth"},
    "imported": {"opaque": "Opaque", "shared": "Shared", "reshape": "Reshape", "fixed": "Fixed"},
    "inputs": {"input": "Input"},
    "tensor": {"permute": "Permute", "transpose": "Transpose", "unflatten": "Unflatten", "slice": "Slice",
               "select": "Select", "expand": "Expand", "contiguous": "Contiguous", "split": "Split"},
    "attention": {"matmul": "Matmul", "attention": "Attention", "split_heads": "SplitHeads",
                  "merge_heads": "MergeHeads", "multihead_attention": "MultiheadAttention"},
    "arith": {"arith": "Arith", "learnable": "Learnable", "affine": "Affine", "reduce": "Reduce", "tokens": "Tokens"},
    "computed": {"computed": "Computed"},
    "unfold": {"unfold": "Unfold", "fold": "Fold"},
    "unary": {"unary": "Unary"},
    "moves": {"roll": "Roll", "unfold_dim": "UnfoldDim"},
    "sample": {"grid_sample": "GridSample"},
    "rnn": {"lstm": "LSTM"},
    "embedding": {"embedding": "Embedding"},
}
# Classes no spec names directly (a concat block's merge row), by module.
UNNAMED = {"ConcatMerge": "merge"}

CLASSES = {cls: module for module, types in TYPES.items() for cls in types.values()} | UNNAMED
for _module, _types in TYPES.items():
    LAYER_TYPES.declare(f"{__name__}.{_module}", _types)
del _module, _types

__all__ = ["LAYER_TYPES", "Block", "Layer", "Node", "Ref", "Visit", "Merge", "register", *CLASSES]


def __getattr__(name: str) -> type[Node]:
    """A layer class, its module imported on first use."""
    module = CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
