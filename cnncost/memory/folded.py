"""The layout of what a `folded` conv or pool writes (a layer on maps folded into the batch: torch's
(N*k, C, ...), per sample (k, C, ...)); the memory rules (`rules.py`) call it."""
from __future__ import annotations

from typing import Any

from ..layers.strides import BATCH, like_channels_last
from ..shapes import Shape
from .tensors import Tensor


def on_folded_maps(layer: Any, x: Tensor, xs: Shape, out: Tensor, y: Shape) -> Tensor:
    """The new output of a `folded` conv or pool laid out as PyTorch lays out its (N*k, C, ...)
    result: channels last where the input's strides suggest it (a map permuted from channels-last
    windows: hieradet's pooled q), else contiguous. The per-sample strides of a folded tensor are
    its torch strides (the batch is the fold dim's outer factor); measured, torch 2.13 CPU."""
    if not getattr(layer, "folded", False) or x.strides is None or not like_channels_last((BATCH * xs[0], *xs[1:]),
                                                                                        x.strides):
        return out
    strides, step = [0] * len(y), 1
    for d in (1, *range(len(y) - 1, 1, -1), 0):  # C fastest, then the spatial dims from the last, the maps
        strides[d] = step
        step *= y[d]
    out.strides, out.layout = tuple(strides), "strided"
    return out
