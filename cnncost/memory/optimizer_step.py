"""What the optimizer step allocates besides its state, by device (torch 2.13's defaults).

CUDA runs the foreach implementation: Adam and AdamW make one fp32 copy of every parameter at once
(sqrt of the second moment, `_foreach_sqrt`). The CPU has no foreach kernels, so Adam and AdamW run
their single-tensor loop (measured with `torch_backend.live`, torch 2.13 CPU): per parameter,
`denom = (exp_avg_sq.sqrt() / c).add_(eps)` holds the sqrt and the quotient at once, while the
previous parameter's `denom` is still bound to its Python name. The most held is then
max over parameters i (in registration order) of 2 x size(i) + size(i - 1). SGD, with or without
momentum, works in place: nothing.
"""
from __future__ import annotations

from .tensors import ELEMENT_BYTES
from .trace import Trace

ADAM_LIKE = ("adam", "adamw")
NORMS = ("batchnorm", "layer_norm", "group_norm", "instance_norm")  # weight and bias of C each


def parameter_tensors(trace: Trace) -> list[int]:
    """Elements of every trainable parameter tensor (`--freeze`: frozen ones have no optimizer
    state), in the order the module registers them."""
    sizes: list[int] = []
    for step in trace.steps:
        if step.frozen:
            continue
        tensors = step.param_tensors
        if step.type in NORMS and len(tensors) == 1 and tensors[0] % 2 == 0:
            tensors = (tensors[0] // 2, tensors[0] // 2)
        sizes.extend(tensors)
    return sizes


def step_counters(trace: Trace, optimizer: str) -> int:
    """Bytes of Adam's and AdamW's `state['step']`: one fp32 scalar per trainable parameter tensor,
    made on the parameter's device only when `capturable` or `fused`; by default (torch 2.13) a
    CPU tensor, so device memory on the CPU only (host memory beside a GPU)."""
    if optimizer not in ADAM_LIKE or trace.precision.device != "cpu":
        return 0
    return ELEMENT_BYTES["fp32"] * len(parameter_tensors(trace))


def optimizer_temporaries(trace: Trace, optimizer: str, copies: int) -> int:
    """Bytes the optimizer step allocates beyond parameters, gradients and state, at its fullest.
    `copies`: fp32 copies of all parameters the CUDA (foreach) step makes."""
    param_size = ELEMENT_BYTES[trace.precision.param_dtype]
    if trace.precision.device == "cuda":
        return sum(s.trainable_params for s in trace.steps) * param_size * copies
    if optimizer not in ADAM_LIKE:
        return 0
    sizes = parameter_tensors(trace)
    most = max((2 * size + (sizes[i - 1] if i else 0) for i, size in enumerate(sizes)), default=0)
    return most * param_size
