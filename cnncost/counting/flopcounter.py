"""PyTorch's `torch.utils.flop_counter.FlopCounterMode` (torch 2.14.1), a forward pass in eval mode.

It counts aten operators that have a formula: `convolution` (2 x |output| x C_in/groups x kh x kw;
a transposed convolution on its input's positions), `addmm`, `mm`, `bmm` (2 x m x n x k) and
attention. Per node that is exactly 2 x the engine's MACs of conv, transposed conv and linear:
bias additions, norms, activations, pooling, merges and everything else count 0, whatever module
or function computes them. An eval-mode pass does not run auxiliary classifiers (`side` blocks).

Its backward formulas are in `training.py` (`training(..., convention="flopcounter")`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl

NAME = "flopcounter"
UNIT = "FLOPs (2 per multiply-accumulate of conv and matmul)"
MEASURED = "torch 2.14.1 FlopCounterMode(display=False) around model.eval()(x) under no_grad"


def node_ops(node: GraphNode, impl: Impl, batch: int) -> int:
    return 2 * batch * node.macs
