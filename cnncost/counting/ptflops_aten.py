"""ptflops 0.7.5 with `backend='aten'`: a TorchDispatchMode that counts `aten.convolution` (MACs,
plus |y| if the convolution has a bias), `aten.addmm` (MACs plus batch x out for the bias),
`aten.mm`, `aten.matmul` and `aten.bmm` (MACs). Nothing else: norms, activations, pooling and
merges count 0 whatever implements them. A linear layer with a bias dispatches `addmm` (2-D
input, or a contiguous channels-last map flattened), so its bias adds count. Eval mode, batch 1;
auxiliary classifiers do not run. Parameters: as the pytorch backend (every trainable one)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._util import has_bias, macs, n_out

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl

NAME = "ptflops-aten"
UNIT = "ptflops MACs (aten: conv/matmul MACs + bias adds)"
MEASURED = "ptflops 0.7.5 get_model_complexity_info(model, (C,H,W), as_strings=False, backend='aten')"


def node_ops(node: GraphNode, impl: Impl, batch: int) -> int:
    if node.type in ("conv", "conv_transpose", "linear"):
        return macs(node, batch) + (n_out(node, batch) if has_bias(node) else 0)
    return 0


def params(node: GraphNode, impl: Impl | None, visible: bool, trainable: bool) -> int:
    return node.params if trainable else 0
