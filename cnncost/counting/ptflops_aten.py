"""ptflops 0.7.5 with `backend='aten'`: a TorchDispatchMode that counts `aten.convolution` (MACs,
plus |y| if the convolution has a bias), `aten.addmm` (MACs plus batch x out for the bias),
`aten.mm`, `aten.matmul` and `aten.bmm` (MACs). Nothing else: norms, activations, pooling and
merges count 0 whatever implements them. A linear layer with a bias dispatches `addmm` (2-D
input, or a contiguous channels-last map flattened), so its bias adds count. Eval mode, batch 1;
auxiliary classifiers do not run. Parameters: as the pytorch backend (every trainable one)."""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..layers.conv import Conv, ConvTranspose
from ..layers.imported import Shared
from ..layers.imported import Fixed
from ..layers.linear import Linear
from ._util import has_bias, macs, n_out, on_inner
from .convention import ZERO, Convention, CountRule
from ..layers.attention import Attention, Matmul
from ..layers.computed import Computed
from .flopcounter import NO_FORMULA, sdpa_fused

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl


def _matmul(node: GraphNode, impl: Impl, batch: int) -> int:
    """aten.convolution / addmm: MACs, plus |y| for the bias."""
    return macs(node, batch) + (n_out(node, batch) if has_bias(node) else 0)


def _bmm(node: GraphNode, impl: Impl, batch: int) -> int:
    """aten.bmm / mm of torch.matmul: MACs (the broadcast operand expanded first)."""
    return macs(node, batch)


def _sdpa(node: GraphNode, impl: Impl, batch: int) -> int:
    """The math path's bmm's: MACs; the fused CPU kernel dispatches nothing it counts. ptflops
    runs with gradients on, so a mask computed from parameters needs one, which sends PyTorch down
    the math path (measured: a mask from a linear layer)."""
    return macs(node, batch) if len(node.input_shapes) == 4 or not sdpa_fused(node) else 0


def params(node: GraphNode, impl: Impl | None, visible: bool, trainable: bool) -> int:
    return node.params if trainable else 0


# Only convolutions and matmuls dispatch a counted aten op (FlopCounterMode's others count 0 here
# too; a shared call counts 0).
RULES: dict[type, CountRule] = {**dict.fromkeys((Conv, ConvTranspose, Linear), _matmul),
                                **dict.fromkeys(NO_FORMULA + (Shared,), ZERO)}
RULES.update({Matmul: _bmm, Attention: _sdpa})
RULES[Fixed] = on_inner(RULES)  # buffer weights: the aten convolution is counted all the same
# making c once per forward (`computed`): its aten convolutions and matmuls, their MACs (bias adds left out)
RULES[Computed] = lambda node, impl, batch: cast(Computed, node.layer).macs_once

PTFLOPS_ATEN = Convention(
    "ptflops-aten", "ptflops MACs (aten: conv/matmul MACs + bias adds)", __doc__, RULES, f"{__name__}.RULES",
    measured="ptflops 0.7.5 get_model_complexity_info(model, (C,H,W), as_strings=False, backend='aten')",
    params=params)
