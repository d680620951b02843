"""The torch module of `grid_sample` (layers/sample.py)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GridSample(nn.Module):
    """F.grid_sample(x, grid); `folded`: the batch and the first per-sample dim merged first, as
    the imported model ran it, and split again after."""

    def __init__(self, mode: str, padding_mode: str, align_corners: bool, folded: bool) -> None:
        super().__init__()
        self.mode, self.padding_mode, self.align_corners, self.folded = mode, padding_mode, align_corners, folded

    def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if self.folded:
            x, grid = x.flatten(0, 1), grid.flatten(0, 1)
        y = F.grid_sample(x, grid, mode=self.mode, padding_mode=self.padding_mode, align_corners=self.align_corners)
        return y.unflatten(0, (n, -1)) if self.folded else y
