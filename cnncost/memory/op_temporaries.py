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
