"""fvcore's `FlopCountAnalysis` (0.1.5.post20221221): a JIT trace in eval mode, one "flop" per
fused multiply-add, for the aten operators it has handles for. Per node:

| node | fvcore's handle | count |
|---|---|---|
| conv, conv_transpose | `aten::_convolution` | MACs (a transposed conv on its input's positions), no bias; 0 for `padding='same'` or `'valid'`: a string padding traces as `aten::_convolution_mode`, which has no handle |
| linear | `aten::linear` / `addmm` | MACs, no bias |
| batchnorm | `aten::batch_norm`, eval | |x| x 2 with affine, |x| without (also inside timm's BatchNormAct2d) |
| layer_norm, group_norm, instance_norm | `aten::layer_norm` / `group_norm` / `instance_norm` | |x| x 5 with affine, x 4 without |
| adaptive_avgpool, global_avgpool | `aten::adaptive_avg_pool2d` | |x|; 0 when the model calls `x.mean()` (aten::mean has no handle) |
| upsample | `aten::upsample_nearest2d` / `upsample_bilinear2d` | |y| nearest, 4 |y| bilinear |
| anything else | (ignored or unsupported ops: max_pool2d, add_, relu, cat, mul...) | 0 |

Auxiliary classifiers (`side` blocks) are not traced in eval mode. A JIT trace keeps only what the
returned output depends on: layers that feed only another output of a multi-output graph (the
forward returns its main output) are dead code to fvcore and count 0.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._util import affine, macs, n_in, n_out

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl

NAME = "fvcore"
UNIT = "fvcore flops (one per fused multiply-add)"
TRACED = True  # counts only what the main output depends on
MEASURED = "fvcore 0.1.5.post20221221 FlopCountAnalysis(model.eval(), x).total(), batch 1"


def node_ops(node: GraphNode, impl: Impl, batch: int) -> int:
    kind = node.type
    if kind == "conv" and isinstance(node.layer.padding, str):
        return 0  # aten::_convolution_mode: unsupported
    if kind in ("conv", "conv_transpose", "linear"):
        return macs(node, batch)
    if kind == "batchnorm":
        return n_in(node, batch) * (2 if affine(node) else 1)
    if kind in ("layer_norm", "group_norm", "instance_norm"):
        return n_in(node, batch) * (5 if affine(node) else 4)
    if kind in ("adaptive_avgpool", "global_avgpool"):
        return 0 if impl.kind == "method" else n_in(node, batch)
    if kind == "upsample":
        return n_out(node, batch) * (4 if node.layer.mode == "bilinear" else 1)
    return 0
