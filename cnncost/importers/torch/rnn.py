"""The handler of nn.LSTM (cnncost's `lstm`, layers/rnn.py): batch first, zero initial states,
its output used (h_n and c_n are not rows of the graph)."""
from __future__ import annotations

from typing import Any

from ...layers.rnn import LSTM
from ..graphbuild import TV, Unsupported
from .walker import GraphWalker


def m_lstm(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
    """nn.LSTM(x) -> (output, (h_n, c_n)): the output is the `lstm` row; h_n and c_n are None
    (a model that reads them is refused where it does)."""
    if type(m).__name__ != "LSTM":
        raise Unsupported("")
    if len(args) > 1 and args[1] is not None or kwargs.get("hx") is not None:
        raise Unsupported("nn.LSTM given initial states (only zero states are modelled)")
    if not m.batch_first or m.proj_size or (m.dropout and m.num_layers > 1 and imp.train):
        raise Unsupported("nn.LSTM other than batch_first=True without proj_size and dropout between layers")
    x = imp.tensor(args[0])
    if not isinstance(x, TV) or x.batch != 0 or len(x.shape) < (3 if x.folded else 2):
        raise Unsupported("nn.LSTM of a tensor other than (N, L, D) batch first (the batch may be folded into N)")
    layer = LSTM(hidden=int(m.hidden_size), layers=int(m.num_layers), bidirectional=bool(m.bidirectional),
                 bias=bool(m.bias))
    return (imp.emit(layer, [x], layer.out_shape(x.shape), params=list(m.parameters())), (None, None))
