"""The memory rule of `grid_sample` (layers/sample.py)."""
from __future__ import annotations

from typing import Any

from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor


def grid_sample(layer: Any, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """The input and the grid, both saved whichever needs a gradient (one backward formula
    reads both); under autocast (CPU and CUDA) the op runs in fp32: a low input or grid is cast
    to a new fp32 copy, which is what it saves, and the output is fp32 (measured, torch 2.13
    CPU, fp32 and bf16 autocast). A new output."""
    x, grid = xs
    if b.precision.autocast:
        x, grid = b.cast(x, "fp32"), b.cast(grid, "fp32")
    b.save(x, grid)
    return b.new(numel(y), x.dtype)
