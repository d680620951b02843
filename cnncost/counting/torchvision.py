"""torchvision's published cost ("GFLOPS" in the model docs, `_ops` in each weight's meta).

torchvision counts the multiply-accumulates of convolutions (transposed ones on their input's
positions) and linear layers per image and publishes them in 10^9, rounded to 3 decimals, under
the name GFLOPS: they are GMACs. No bias, norm, activation, pooling or merge is counted; an
eval-mode pass does not run auxiliary classifiers. Per node: the engine's MACs, times the batch.
`published(macs)` rounds a per-image total the way the docs print it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..layers.imported import Fixed
from .convention import ZERO, Convention, CountRule
from ..layers.attention import Attention, Matmul
from ..layers.computed import Computed
from .flopcounter import GEMM_TYPES, NO_FORMULA

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl


def engine_macs(node: GraphNode, impl: Impl, batch: int) -> int:
    return batch * node.macs


# FlopCounterMode's split: the engine's MACs of convs and linears (and of a shared call), 0 elsewhere.
RULES: dict[type, CountRule] = {**dict.fromkeys(GEMM_TYPES, engine_macs), **dict.fromkeys(NO_FORMULA, ZERO)}
# matmul and attention as the default convention counts them (vit_b_16's published 17.564 GFLOPS =
# conv + linear 16.848 G + attention 0.715 G, torchvision 0.29.1 weights meta)
RULES.update({Matmul: engine_macs, Attention: engine_macs})
RULES[Fixed] = engine_macs  # a convolution with buffer weights is hooked as a convolution
# making c once per forward (Swin V2's position MLP): its linears' MACs, once (measured on one image)
RULES[Computed] = lambda node, impl, batch: cast(Computed, node.layer).macs_once

TORCHVISION = Convention(
    "torchvision", "MACs (torchvision prints them /1e9 as 'GFLOPS')", __doc__, RULES, f"{__name__}.RULES",
    measured="torchvision 0.29.1 weights meta _ops; conv + transposed conv + linear hooks "
             "(tests/fixtures/measure_torchvision.py)")


def published(macs_per_image: int) -> float:
    """The figure in torchvision's docs: GMACs rounded to 3 decimals."""
    return round(macs_per_image / 1e9, 3)
