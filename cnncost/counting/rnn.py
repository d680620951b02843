"""How each peer tool counts `lstm` (layers/rnn.py; nn.LSTM, batch first). Measured live in the
side venv (torch 2.14.1; fvcore 0.1.5, ptflops 0.7.5 both backends, thop 0.1.1, torchinfo 1.8,
torchscan 0.2.0) on three LSTMs (1 and 2 layers, one and two directions, with and without bias):

| tool | count of one nn.LSTM on torch's batch N' of L steps |
|---|---|
| FlopCounterMode, ptflops-aten, fvcore, torchscan | 0: aten.mkldnn_rnn_layer (CPU) has no formula; fvcore has no aten::lstm handle; torchscan no LSTM formula |
| ptflops (pytorch) | N' L x directions x per layer (4H D_in + 4H H + 10H, + 8H with bias) (`rnn_flops_counter_hook`: direction 0's weights, times 2 when bidirectional) |
| thop | N' L x directions x per layer (4 ((D_in + H) H + H, + 2H with bias) + 4H) (`count_lstm`) |
| torchinfo | N' L x every parameter (weight_ih_l0... count once per output row of (N', L)) |
| allops | 2 x `gate_macs` + per step and direction 19H element-wise (the two projections added 4H, three sigmoids 9H, two tanh 2H, c = f c + i g 3H, h = o tanh(c) H) + 8H bias adds |

N' = the batch x the leading rows of the per-sample shape (..., L, D)."""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..shapes import numel
from ._util import x_of

if TYPE_CHECKING:
    from ..graph import GraphNode
    from ..layers.rnn import LSTM
    from .impl import Impl


def _steps(node: GraphNode, batch: int) -> int:
    """N' x L: every step of every sequence torch's batch holds."""
    return batch * numel(x_of(node)[:-1])


def _per_layer(node: GraphNode, cell) -> int:
    layer = cast("LSTM", node.layer)
    return layer.directions * sum(cell(d, layer.hidden, layer.bias) for d in layer.layer_inputs(x_of(node)))


def ptflops(node: GraphNode, impl: Impl, batch: int) -> int:
    return _steps(node, batch) * _per_layer(node, lambda d, h, bias: 4 * h * d + 4 * h * h + 10 * h + 8 * h * bias)


def thop(node: GraphNode, impl: Impl, batch: int) -> int:
    return _steps(node, batch) * _per_layer(node, lambda d, h, bias: 4 * ((d + h) * h + h + 2 * h * bias) + 4 * h)


def torchinfo(node: GraphNode, impl: Impl, batch: int) -> int:
    return _steps(node, batch) * node.params


def allops(node: GraphNode, impl: Impl, batch: int) -> int:
    layer = cast("LSTM", node.layer)
    cells = _steps(node, batch) * layer.directions * layer.layers
    return 2 * batch * layer.gate_macs(x_of(node)) + cells * (19 + 8 * layer.bias) * layer.hidden
