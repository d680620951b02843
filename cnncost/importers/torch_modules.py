"""PyTorch modules of the importers' layer types (imports torch; only `torch_module` imports this)."""
from __future__ import annotations

import torch
from torch import nn


class View(nn.Module):
    """x.reshape(N, *shape)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
