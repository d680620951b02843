"""cnncost: exact, framework-free cost accounting for convolutional networks.

>>> import cnncost
>>> report = cnncost.table("alexnet", batch=128)
>>> report.rows[1].name, report.rows[1].params
('conv1', 34944)
"""
from .api import fit, load, table
from .compare import Comparison, compare
from .conventions import Options
from .graph import Graph, compile
from .errors import CnnCostError, ShapeError, SpecError, UnknownArchitecture
from .layers import (GELU, Add, Mul, LRN, AdaptiveAvgPool, AvgPool, BatchNorm, Concat, Conv, Dropout, Flatten, Gate,
                     GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, ReLU, ReLU6, Repeat, Residual,
                     Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from .layers import (AdaptiveMaxPool, CenterCrop, ChannelShuffle, Chunk, ConvTranspose, GroupNorm, Hardsigmoid,
                     Hardtanh, Identity, InstanceNorm, LayerNorm, LayerScale, Mish, Pad, PixelShuffle,
                     PixelUnshuffle, Softmax, StochasticDepth, Upsample)
from .layers import Opaque, Reshape, Shared
from .layers import Input
from .layers import (CELU, ELU, GLU, SELU, Attention, Hardshrink, LogSigmoid, LogSoftmax, Matmul, MergeHeads,
                     MultiheadAttention, PReLU, RReLU, Softmin, Softplus, Softshrink, Softsign, SplitHeads, Tanhshrink,
                     Threshold)
from .layers import Fixed
from .layers import (Affine, Arith, Contiguous, Div, Expand, Learnable, Maximum, Minimum, Permute, Reduce, Select,
                     Slice, Split, Stack, Sub, Tokens, Transpose, Unflatten)
from .layers import Computed
from .layers import Fold, Unfold
from .layers import Unary
from .net import Net
from .report import Report, Row
from .zoo.arch import register_arch
from .zoo.registry import list_archs

__version__ = "0.1.0"

__all__ = ["table", "fit", "compare", "Comparison", "load", "compile", "Graph", "Net", "Report", "Row", "Options", "load_spec", "parse_spec",
           "dump_spec", "list_archs", "register_arch", "CnnCostError", "SpecError", "ShapeError",
           "UnknownArchitecture", "__version__", "zoo_frame", "receptive_field", "receptive_frame",
           # the Python spec language: one dataclass per layer type
           "Conv", "MaxPool", "AvgPool", "AdaptiveAvgPool", "GlobalAvgPool", "BatchNorm", "LRN", "ReLU",
           "ReLU6", "LeakyReLU", "SiLU", "Hardswish", "Sigmoid", "Tanh", "GELU", "Dropout", "Flatten",
           "Linear", "Add", "Mul", "Sequential", "Repeat", "Concat", "Residual", "Gate", "SqueezeExcite", "Side",
           "LayerNorm", "GroupNorm", "InstanceNorm", "Hardsigmoid", "Hardtanh", "Mish", "Softmax", "Identity",
           "Chunk", "ChannelShuffle", "LayerScale", "StochasticDepth", "Upsample", "ConvTranspose", "PixelShuffle",
           "PixelUnshuffle", "Pad", "CenterCrop", "AdaptiveMaxPool",
           # what imported graphs use besides: a call without a formula, a reused module, a view
           "Opaque", "Shared", "Reshape",
           # a net's further inputs (the compiler makes them from Net.input)
           "Input",
           # tokens and attention; the rest of torch.nn's activations
           "Attention", "Matmul", "MergeHeads", "MultiheadAttention", "SplitHeads",
           "CELU", "ELU", "GLU", "SELU", "Hardshrink", "LogSigmoid", "LogSoftmax", "PReLU", "RReLU", "Softmin",
           "Softplus", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
           # a convolution with fixed (buffer) weights
           "Fixed",
           "Permute", "Transpose", "Unflatten", "Slice", "Select", "Expand", "Contiguous", "Split",
           "Sub", "Div", "Maximum", "Minimum", "Stack", "Arith", "Learnable", "Affine", "Reduce", "Tokens",
           # a tensor computed once per forward from parameters and buffers (imported)
           "Computed",
           "Unfold", "Fold",
           "Unary"]


_LAZY = {"dump_spec": "spec", "load_spec": "spec", "parse_spec": "spec",  # spec loads yaml
         "receptive_field": "receptive", "receptive_frame": "receptive", "zoo_frame": "frames", "sweep": "sweeps",
         "from_torch": "importers.torch_trace", "from_onnx": "importers.onnx_graph"}


def __getattr__(name: str):
    """Functions whose modules load on first use (they are off the command line's cold path)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cnncost' has no attribute '{name}'")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

