"""Every layer and block type; importing this package registers them all."""
from .base import LAYER_TYPES, Block, Layer, Merge, Node, Ref, Visit, register
from .act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid, SiLU,
                  Softmax, Tanh)
from .act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                  Softshrink, Softsign, Tanhshrink, Threshold)
from .attention import Attention, Matmul, MergeHeads, MultiheadAttention, SplitHeads
from .blocks import Concat, Gate, Repeat, Residual, Sequential, Side, SqueezeExcite
from .conv import Conv, ConvTranspose
from .imported import Opaque, Reshape, Shared
from .inputs import Input
from .imported import Fixed
from .linear import Dropout, Flatten, Linear
from .merge import Add, ConcatMerge, Mul
from .norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from .pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from .reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from .scale import LayerScale, StochasticDepth
from .tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from .merge import Div, Maximum, Minimum, Stack, Sub
from .arith import Affine, Arith, Learnable, Reduce, Tokens
from .computed import Computed
from .unfold import Fold, Unfold
from .unary import Unary

__all__ = [
    "LAYER_TYPES", "Block", "Layer", "Node", "Ref", "Visit", "Merge", "register",
    "Conv", "MaxPool", "AvgPool", "AdaptiveAvgPool", "GlobalAvgPool", "BatchNorm", "LRN",
    "ReLU", "ReLU6", "LeakyReLU", "SiLU", "Hardswish", "Sigmoid", "Tanh", "GELU",
    "Dropout", "Flatten", "Linear", "Add", "Mul", "ConcatMerge",
    "Sequential", "Repeat", "Concat", "Residual", "Gate", "SqueezeExcite", "Side",
    "LayerNorm", "GroupNorm", "InstanceNorm", "Hardsigmoid", "Hardtanh", "Mish", "Softmax", "Identity",
    "Chunk", "ChannelShuffle", "LayerScale", "StochasticDepth", "Upsample", "ConvTranspose", "PixelShuffle",
    "PixelUnshuffle", "Pad", "CenterCrop", "AdaptiveMaxPool", "Opaque", "Shared", "Reshape",
    "Input",
    "CELU", "ELU", "GLU", "SELU", "Hardshrink", "LogSigmoid", "LogSoftmax", "PReLU",
    "RReLU", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanhshrink", "Threshold", "Attention", "Matmul",
    "MergeHeads", "MultiheadAttention", "SplitHeads",
    "Fixed",
    "Permute", "Transpose", "Unflatten", "Slice", "Select", "Expand", "Contiguous", "Split",
    "Sub", "Div", "Maximum", "Minimum", "Stack", "Arith", "Learnable", "Affine", "Reduce", "Tokens",
    "Computed",
    "Unfold", "Fold",
    "Unary",
]
