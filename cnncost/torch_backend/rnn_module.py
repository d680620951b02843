"""The torch module of `lstm` (layers/rnn.py). Imports torch: the cold path never imports this."""
from __future__ import annotations

import torch
from torch import nn


class LSTM(nn.LSTM):
    """nn.LSTM, batch first, on (N, ..., L, D): the leading dims folded into torch's batch (a view
    of a contiguous input), the output only, unfolded again (a view)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        *lead, steps, features = x.shape
        out, _ = super().forward(x.reshape(-1, steps, features))
        return out.reshape(*lead, steps, out.shape[-1])
