"""Which unit runs each op, under which op class (the profile's achievable fractions), and the
vector work of ops that are not products.

- `conv` / `matmul` (matrix units: tensor cores, a CPU's best GEMM path): dense and grouped convs,
  transposed convs, linear, matmul, attention: 2 FLOPs per MAC.
- `depthwise` (vector units): convs with fewer than `DEPTHWISE_CHANNELS` input channels per group
  (depthwise and narrow grouped convs). They have too little reuse per output for the matrix
  units: cuDNN and oneDNN run them as direct loops on the CUDA cores / SIMD lanes.
- `pool`: pooling windows, on the vector units (their own class: a CPU runs them far below its
  vector peak; a calibrated profile's `maxpool` rate, else the vector fraction).
- `norm`: batch, group, layer and instance norms, likewise (a calibrated `batchnorm` rate).
- `vector`: everything else that touches data (activations, norms, pooling, merges, softmax):
  a few ops per element, `VECTOR_OPS` per type (norms' statistics and scaling; a pool's window).
"""
from __future__ import annotations

from typing import Any

from ..shapes import numel

DEPTHWISE_CHANNELS = 8  # input channels per group below which a conv runs on the vector units
MATRIX_CLASSES = ("matmul", "conv")
# ops per output element of the forward (backward: `BACKWARD_VECTOR_OPS` x that), types not named: 1
VECTOR_OPS = {"batchnorm": 4, "group_norm": 5, "layer_norm": 5, "instance_norm": 5, "softmax": 5,
              "log_softmax": 5, "lrn": 6, "gelu": 8, "silu": 4, "mish": 8, "elu": 4, "selu": 4, "sigmoid": 4,
              "tanh": 4, "hardswish": 3, "hardsigmoid": 2, "se": 2}
POOLS = ("maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool", "global_avgpool")
BACKWARD_VECTOR_OPS = 2
UNIT = {"matmul": "matrix", "conv": "matrix", "depthwise": "vector", "vector": "vector", "pool": "vector",
        "norm": "vector"}
NORMS = ("batchnorm", "group_norm", "layer_norm", "instance_norm")


def op_class(node: Any) -> str:
    """matmul, conv, depthwise, pool, norm or vector (see the module docstring)."""
    layer = node.layer
    if layer is None or not layer.matmul_like:
        return "pool" if node.type in POOLS else "norm" if node.type in NORMS else "vector"
    if node.type in ("conv", "conv_transpose"):
        groups = getattr(layer, "groups", 1) or 1
        channels = node.input_shape[0] // groups
        return "depthwise" if groups > 1 and channels < DEPTHWISE_CHANNELS else "conv"
    return "matmul"


FORWARD, INPUT_GRADIENT, WEIGHT_GRADIENT = 0, 1, 2  # a pass's `gradient`: calibrated gradient rates differ


def reduction(node: Any, gradient: bool = False) -> int:
    """How many products each output element of a conv sums (its reduction length, C_in / groups x
    kernel area; the input gradient's: its MACs per input element); 0 for other ops."""
    if node.type not in ("conv", "conv_transpose") or not node.macs:
        return 0
    return max(1, node.macs // max(1, numel(node.input_shape if gradient else node.output_shape)))


def positions(node: Any, gradient: bool = False) -> int:
    """A conv's output positions per sample (the input's, for its input gradient): with the batch,
    the rows of the GEMM it runs as; 0 for other ops."""
    if node.type not in ("conv", "conv_transpose"):
        return 0
    return numel((node.input_shape if gradient else node.output_shape)[1:])


def vector_ops(node: Any) -> int:
    """Per-sample forward ops of a vector op: its larger tensor's elements x ops per element (a
    pool's window per output element)."""
    if node.type in POOLS:
        kernel = getattr(node.layer, "kernel", None)
        rank = len(node.output_shape) - 1
        if isinstance(kernel, int):
            window = kernel ** rank
        elif kernel:
            window = numel(tuple(kernel))
        else:  # adaptive and global pools: the input's positions per output position
            window = numel(node.input_shape[1:]) // max(1, numel(node.output_shape[1:]))
        return numel(node.output_shape) * max(1, window)
    shapes = node.input_shapes if node.layer is not None and node.layer.arity is None else (node.input_shape,)
    largest = max(numel(node.output_shape), *map(numel, shapes))
    return largest * VECTOR_OPS.get(node.type, 1)
