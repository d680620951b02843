"""The ONNX vocabulary: operator -> handler. Adding an operator: its handler in the family's module
(calling the `lowering` the torch front end uses where the op is the same), one entry here."""
from __future__ import annotations

from typing import Callable

from ...layers import Hardswish, LeakyReLU, Mish, ReLU, Tanh
from . import activations as a, arith, attention, pools, resample, views, weighted as w

HANDLERS: dict[str, Callable] = {
    # convolution, linear, norms
    "Conv": w.conv, "ConvTranspose": w.conv_t, "Gemm": w.gemm, "MatMul": w.matmul, "BatchNormalization": w.batchnorm,
    "LayerNormalization": w.layernorm, "GroupNormalization": w.groupnorm, "InstanceNormalization": w.instancenorm,
    "LRN": w.lrn, "Einsum": attention.einsum,
    # activations
    "Relu": a.activation(lambda attrs, inplace: ReLU(inplace=inplace)),
    "LeakyRelu": a.activation(lambda attrs, inplace: LeakyReLU(negative_slope=float(attrs.get("alpha", 0.01)),
                                                               inplace=inplace)),
    "HardSwish": a.activation(lambda attrs, inplace: Hardswish(inplace=inplace)),
    "HardSigmoid": a.activation(a.hardsigmoid, inplace_capable=False),
    "Tanh": a.activation(lambda attrs, inplace: Tanh(), inplace_capable=False),
    "Gelu": a.activation(a.gelu, inplace_capable=False),
    "Mish": a.activation(lambda attrs, inplace: Mish(), inplace_capable=False),
    "Sigmoid": a.sigmoid, "Clip": a.clip, "Softmax": a.softmax, "Dropout": a.dropout,
    # pools
    "MaxPool": pools.maxpool, "AveragePool": pools.avgpool, "GlobalAveragePool": pools.global_avg,
    "GlobalMaxPool": pools.global_max, "ReduceMean": pools.reduce_mean, "ReduceSum": pools.reduction("sum"),
    "ReduceMax": pools.reduction("amax"), "ReduceMin": pools.reduction("amin"), "ReduceL2": pools.reduction("norm"),
    "ReduceL1": pools.reduction("norm", 1.0),
    # views, merges, pieces
    "Flatten": views.flatten, "Reshape": views.reshape, "Transpose": views.transpose, "Concat": views.concat,
    "Split": views.split, "Slice": views.slice_any, "Shape": views.shape, "Squeeze": views.squeeze,
    "Unsqueeze": views.squeeze, "Identity": views.passthrough, "Cast": views.passthrough,
    "CastLike": views.passthrough, "Gather": views.gather, "Expand": views.expand,
    "SplitToSequence": views.split_to_sequence, "SequenceAt": views.sequence_at,
    # arithmetic
    "Add": arith.add, "Mul": arith.mul, "Div": arith.div, "Sub": arith.sub, "Pow": arith.pow_, "Sqrt": arith.sqrt,
    "Erf": arith.erf, "Reciprocal": arith.reciprocal,
    # resampling, padding
    "Resize": resample.resize, "Upsample": resample.resize, "Pad": resample.pad,
    "DepthToSpace": resample.depth_to_space,
}
