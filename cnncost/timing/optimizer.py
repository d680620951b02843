"""The optimizer step: one pass over the trainable parameters, their gradients and the optimizer's
state, all in the parameters' dtype (fp32 master weights under autocast).

Per parameter element, as the fused/foreach kernels do it (PyTorch's `torch._foreach_*` on CUDA):
SGD reads the weight and its gradient and writes the weight (3 accesses, 2 FLOPs); momentum also
reads and writes its buffer (5, 4); Adam and AdamW read weight, gradient and both moments and
write weight and moments (7 accesses, about 12 FLOPs with the bias corrections and the square
root). Kernels: `KERNELS` per parameter tensor on a CPU (PyTorch's single-tensor path runs that
many ops per tensor); on a GPU the default foreach path runs them over lists of up to
`FOREACH_TENSORS` tensors per launch.
"""
from __future__ import annotations

from typing import Any

from ..memory.tensors import ELEMENT_BYTES
from .amount import Amount
from .ops import NORMS
from .passes import PassCost

ACCESSES = {"sgd": 3, "momentum": 5, "adam": 7, "adamw": 7}
FLOPS = {"sgd": 2, "momentum": 4, "adam": 12, "adamw": 13}
KERNELS = {"sgd": 1, "momentum": 2, "adam": 6, "adamw": 7}
FOREACH_TENSORS = 36  # tensors per launch of a foreach kernel with 4 lists (PyTorch's multi_tensor_apply)


def parameter_tensors(node: Any) -> int:
    """A node's parameter tensors: the weight, and a bias (or a norm's shift) where it has one."""
    if not node.params:
        return 0
    return 2 if node.type in NORMS or getattr(node.layer, "bias", False) is True else 1


def optimizer_cost(graph: Any, optimizer: str, param_dtype: str, frozen: tuple[bool, ...] | None = None,
                   foreach: bool = False) -> PassCost:
    """The whole step's optimizer pass (no per-sample part: it does not depend on the batch);
    `foreach`: PyTorch's multi-tensor kernels (its default on CUDA)."""
    frozen = frozen or (False,) * len(graph.nodes)
    params = sum(node.params for node, f in zip(graph.nodes, frozen) if not f)
    tensors = sum(parameter_tensors(node) for node, f in zip(graph.nodes, frozen) if not f)
    size = ELEMENT_BYTES[param_dtype]
    reads = ACCESSES[optimizer] // 2 + 1  # sgd: w, g; momentum: w, g, buffer; adam: w, g, m, v
    return PassCost("vector", param_dtype if param_dtype != "fp64" else "fp32", Amount(0, FLOPS[optimizer] * params),
                    Amount(0, reads * params * size), Amount(0, (ACCESSES[optimizer] - reads) * params * size),
                    KERNELS[optimizer] * (-(-tensors // FOREACH_TENSORS) if foreach else tensors))
