"""The torch module of `lstm` (layers/rnn.py). Imports torch: the cold path never imports this.

A plain nn.LSTM (batch first), so that every counter that matches modules by their exact class
(ptflops, thop) hooks it as it hooks one in a user's model, with two hooks of its own: the
leading dims of (N, ..., L, D) folded into torch's batch before it runs (a view of a contiguous
input), and its output alone returned, unfolded again (a view), not (output, (h_n, c_n))."""
from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn


def lstm_module(layer: Any, x: tuple[int, ...]) -> nn.LSTM:
    module = nn.LSTM(x[-1], layer.hidden, layer.layers, bias=layer.bias, batch_first=True,
                     bidirectional=layer.bidirectional)
    module.register_forward_pre_hook(_fold_rows)
    module.register_forward_hook(_output_only)  # first: later hooks (the counters') see the output
    return module


def _fold_rows(module: nn.LSTM, args: tuple) -> tuple:
    x = args[0]
    module.rows = tuple(x.shape[:-2])
    return (x.reshape(-1, *x.shape[-2:]),)


def _output_only(module: nn.LSTM, args: tuple, result: tuple) -> torch.Tensor:
    out = result[0]
    rows = cast(tuple[int, ...], module.rows)  # set by the pre-hook above
    return out.reshape(*rows, *out.shape[-2:])
