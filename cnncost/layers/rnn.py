"""Recurrent layers: `lstm`, torch.nn.LSTM on batch-first sequences.

    - {name: rnn, type: lstm, hidden: 48, bidirectional: true}

The input is (..., L, D) per sample: a sequence of L steps of D features, any leading dims
batch-like (torch sees them folded into its batch: Sequencer's (N*H, W, C) rows); the output
(..., L, directions x hidden)."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, numel, shape_text
from .base import Layer, register


@register("lstm")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class LSTM(Layer):
    """nn.LSTM(D, hidden, layers, bias=bias, batch_first=True, bidirectional=bidirectional) of
    (..., L, D) -> (..., L, directions x hidden), the output only (not h_n, c_n); zero initial
    states. params = per layer and direction 4H x (D_in + H) (+ 8H biases), D_in = D for the first
    layer, directions x H after it, as torch counts them.
    MACs: 0, as FlopCounterMode counts it (PyTorch runs it as aten.mkldnn_rnn_layer on CPU and
    _cudnn_rnn on CUDA, which have no formula); the gates' matrix products are `gate_macs`, which
    the peer tools that count LSTMs (ptflops, thop, torchinfo) start from."""

    hidden: int
    layers: int = 1
    bidirectional: bool = False
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(hidden=self.hidden, layers=self.layers)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def layer_inputs(self, x: Shape) -> list[int]:
        """The features each stacked layer reads: D, then directions x hidden."""
        return [x[-1]] + [self.directions * self.hidden] * (self.layers - 1)

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) >= 2, f"needs a sequence (..., length, features), got {shape_text(x)}", x)
        return x[:-1] + (self.directions * self.hidden,)

    def params(self, x: Shape) -> int:
        h = self.hidden
        return self.directions * sum(4 * h * (d + h) + (8 * h if self.bias else 0) for d in self.layer_inputs(x))

    def gate_macs(self, x: Shape) -> int:
        """Per sample: the input and hidden projections of every step, layer and direction,
        L x 4H x (D_in + H) each (what the gates cost; not in `macs`)."""
        steps = numel(x[:-1])  # every position of every leading row
        h = self.hidden
        return self.directions * steps * sum(4 * h * (d + h) for d in self.layer_inputs(x))

    def describe(self) -> str:
        parts = [f"hidden {self.hidden}", f"{self.layers} layers" if self.layers > 1 else "",
                 "bidirectional" if self.bidirectional else "", "" if self.bias else "no bias"]
        return ", ".join(p for p in parts if p)

    def describe_at(self, x: Shape) -> str:
        """With the gates' MACs per sample, which `macs` leaves out (FlopCounterMode's convention):
        so that a table never shows an LSTM's work as nothing without saying so."""
        from ..formatting import si
        return f"{self.describe()}; gates {si(self.gate_macs(x))} MACs/sample, not counted"
