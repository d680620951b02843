"""How a step's parameter gradients arrive in backward and settle into `.grad` (measured with
`torch_backend.live`, torch 2.13 CPU; autograd's engine, so CUDA alike).

A step's backward node makes its parameters' gradients with its input's; once it has run (its
saved tensors and its output's gradient freed), each parameter's gradient goes, in registration
order (weight, then bias), through:
- under autocast, the parameter's low copy's `ToCopyBackward`: the gradient arrives in the low
  dtype and is cast to the parameter's, both alive while the cast runs;
- `AccumulateGrad`: with no `.grad` yet it keeps the tensor, unless its strides break the
  parameter's layout: a convolution computed channels last (reading a channels-last map: ConvNeXt's
  downsampling layers) makes a channels-last weight gradient, which `clone_obey_contract` copies
  into the parameter's layout (both alive for the copy). With a `.grad` already there (later
  micro-steps of gradient accumulation) it adds in place.
The copy and the cast are fixed bytes while what the node freed is per sample: the step timeline
gives each such step a moment of its own after its node (`step.py`, `checkpoint.py`).
"""
from __future__ import annotations

from math import prod
from typing import Any

from ..shapes import spatial
from .tensors import ELEMENT_BYTES


def arrivals(step: Any, autocast: bool) -> list[tuple[int, bool, bool]]:
    """Per trainable parameter tensor of `step`, in the order autograd settles them: (elements,
    arrives in the low dtype, needs a copy into the parameter's layout). Low: under autocast, a
    step that casts all its parameters itself (a conv's, a linear's: not a shared call reusing its
    owner's cached copies). Copy: a conv or transposed conv computed channels last whose weight's
    strides differ from the contiguous ones in a dim of size above 1 (AccumulateGrad's layout
    contract): the weight's dim 1 and its kernel both above 1."""
    if not step.trainable_params:
        return []
    low = autocast and step.new_casts == step.params
    relayout = False
    layer, out = step.layer, step.output
    if step.type in ("conv", "conv_transpose") and out is not None and out.channels_last:
        kernel = prod(spatial(layer.kernel, 2))
        bias = layer.out if layer.bias else 0
        dim1 = layer.out // layer.groups if step.type == "conv_transpose" else (step.params - bias) // (layer.out * kernel)
        relayout = kernel > 1 and dim1 > 1
    return [(elements, low, relayout and i == 0) for i, elements in enumerate(step.param_tensors)]


def settling(trace: Any) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """(per step, the bytes of its parameters' gradients while its node runs; step -> (the most
    its gradients hold after the node with no `.grad` yet, the most beyond the `.grad` tensors
    when they exist: later micro-steps)) for the steps with a cast or a copy there."""
    param = ELEMENT_BYTES[trace.precision.param_dtype]
    low_size = ELEMENT_BYTES[trace.precision.dtype]
    node: list[int] = []
    after: dict[int, tuple[int, int]] = {}
    for k, step in enumerate(trace.steps):
        tensors = arrivals(step, trace.precision.autocast)
        arrived = [p * (low_size if low else param) for p, low, _ in tensors]
        node.append(sum(arrived) if tensors else step.trainable_params * param)
        if not any(low or copy for _, low, copy in tensors):
            continue
        first = later = 0
        for i, (p, low, copy) in enumerate(tensors):
            final, waiting = p * param, sum(arrived[i + 1:])
            done = sum(q * param for q, _, _ in tensors[:i])
            cast = arrived[i] + final if low else final  # the cast beside the low gradient
            first = max(first, done + waiting + max(cast, 2 * final if copy else final))
            later = max(later, waiting + cast)  # added in place into .grad (no copy)
        after[k] = (first, later)
    return node, after


def moment_label(kind: str, path: str) -> str:
    """The phase of a moment of `training_axis` (not the optimizer step's) at the step at `path`."""
    if kind == "forward":
        return f"forward, {path}"
    return f"backward, {path}" + {"sum": " (gradient sum)", "after": " (into .grad)"}.get(kind, "")


def training_axis(n: int, after: Any, sums: Any = ()) -> list[tuple[str, int]]:
    """The moments of a plain training step of n trace steps: ("forward", k) for k = 0..n-1,
    ("backward", k) for k = n-1..0 (its node), each followed by ("sum", k) where step k's node
    is followed by a gradient sum of its own (`grad_moments.gradient_sums`) and ("after", k) where
    its parameters' gradients settle with a cast or a copy (`after`), then ("optimizer", -1)."""
    axis = [("forward", k) for k in range(n)]
    for k in range(n - 1, -1, -1):
        axis.append(("backward", k))
        if k in sums:
            axis.append(("sum", k))
        if k in after:
            axis.append(("after", k))
    axis.append(("optimizer", -1))
    return axis
