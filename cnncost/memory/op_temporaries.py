"""Temporaries an op holds inside itself beyond its output, freed before it returns (measured,
torch 2.13 CPU): the inference pass's rows (`inference.SEQUENTIAL`) and a checkpoint's recompute
(`checkpoint.py`) count them."""
from __future__ import annotations

from typing import Any

from .tensors import ELEMENT_BYTES, promote


def add_temporary(step: Any, int8: bool = False) -> int:
    """Per-sample bytes an add holds beyond its output: `scale * first + b + c ...` keeps one
    running value, so each partial result (the scaled first input, then each partial sum) lives
    until the next is made (measured, torch 2.13 CPU: a scaled residual). The sizes: the largest
    input so far, in the dtype the inputs so far promote to."""
    def size(elements: int, dtype: str) -> int:
        return elements if int8 else elements * ELEMENT_BYTES[dtype]
    first, *rest = step.reads
    scaled = getattr(step.layer, "scale", 1.0) != 1.0
    elements, dtype = first.elements, first.dtype
    previous = size(elements, dtype) if scaled else 0  # a temporary, or the input itself
    most = previous
    for other in rest:
        elements, dtype = max(elements, other.elements), promote(dtype, other.dtype)
        most = max(most, previous + size(elements, dtype))
        previous = size(elements, dtype)
    return max(0, most - previous)


def running_stats_temporary(step: Any, param_dtype: str) -> int:
    """Fixed bytes instance norm holds beyond its output in training with running statistics:
    batch_norm runs on the (1, N·C, H, W) reshape with the statistics repeated per sample, then
    each running statistic is updated from the mean over the samples, a C-element temporary in the
    statistics' dtype, and where that is not the parameters' (under autocast without affine: the
    input's) its cast back, both alive for the copy; one statistic at a time (measured, torch 2.13
    CPU)."""
    if step.type != "instance_norm" or not step.running_stats:
        return 0
    stat = step.saved[-1].dtype if step.saved else param_dtype
    cast = ELEMENT_BYTES[param_dtype] if stat != param_dtype else 0
    return step.running_stats * (ELEMENT_BYTES[stat] + cast)


def affine_bias_repeat(step: Any, param_dtype: str) -> int:
    """Per-sample bytes affine instance norm holds beyond what it saves until it returns: the bias
    repeated per sample (`bias.repeat(N)`, C per sample, the parameters' dtype), passed to
    batch_norm and not saved: alive while the norm runs, so at its moment of a recompute, where
    the recompute may stop (measured, torch 2.13 CPU, fp32 and bf16 autocast)."""
    layer = step.layer
    if step.type != "instance_norm" or layer is None or not getattr(layer, "affine", False):
        return 0
    return step.params // 2 * ELEMENT_BYTES[param_dtype]
