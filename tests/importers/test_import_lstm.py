"""Importing nn.LSTM (issue 18): Sequencer's bidirectional LSTMs over the rows and the columns of
a channels-last map, batch first on (N*H, W, C) rows with the batch folded in, import as `lstm`
rows whose params, MACs and saved bytes equal the real module's (check_against measures them:
parameter count, FlopCounterMode's MACs, autograd's saved tensors at batch 2, CPU fp32). What is
not modelled is refused with one line."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402


class LSTM2d(nn.Module):
    """timm's sequencer.LSTM2d (union 'cat', with_fc)."""

    def __init__(self, c: int, hidden: int) -> None:
        super().__init__()
        self.rnn_v = nn.LSTM(c, hidden, 1, batch_first=True, bidirectional=True)
        self.rnn_h = nn.LSTM(c, hidden, 1, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(4 * hidden, c)

    def forward(self, x):
        B, H, W, C = x.shape
        v = x.permute(0, 2, 1, 3).reshape(-1, H, C)
        v, _ = self.rnn_v(v)
        v = v.reshape(B, W, H, -1).permute(0, 2, 1, 3)
        h = x.reshape(-1, W, C)
        h, _ = self.rnn_h(h)
        h = h.reshape(B, H, W, -1)
        return self.fc(torch.cat([v, h], dim=-1))


class Sequencer(nn.Module):
    """A patch embedding, one Sequencer block (pre-norm LSTM2d, residual), a mean and a head.
    64 channels, hidden 32 on an 8 x 8 map: at batch 2 every region of oneDNN's workspace is
    whole pages (memory/rnn_rules.py), so the saved bytes are exact."""

    def __init__(self, c: int = 64, hidden: int = 32) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, 4)
        self.norm = nn.LayerNorm(c)
        self.rnn = LSTM2d(c, hidden)
        self.head = nn.Linear(c, 10)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)
        x = x + self.rnn(self.norm(x))
        return self.head(x.mean((1, 2)))


class Stacked(nn.Module):
    """Two layers, one direction, on 8 rows of 32 steps after a linear (whole workspace pages at batch 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(64, 64)
        self.lstm = nn.LSTM(64, 32, num_layers=2, batch_first=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x).flatten(0, 1))  # (N*8, 32, 64): the batch folded in
        return self.fc(out)


@pytest.mark.parametrize("model, shape", [(Sequencer(), (3, 32, 32)), (Stacked(), (8, 32, 64))])
def test_lstms_import_exactly(model: nn.Module, shape: tuple[int, ...]) -> None:
    net = from_torch(model, shape)
    rows = [n for n in cnncost.compile(net).nodes if n.type == "lstm"]
    assert rows and all(n.macs == 0 for n in rows)  # FlopCounterMode: mkldnn_rnn_layer has no formula
    result = check_against(net, model)
    assert result.ok, result.summary()
    for q in ("params", "macs", "saved_bytes"):
        ours, theirs = result.totals[q]
        assert ours == theirs and theirs > 0, q


def test_the_sequencer_rows_are_lstms_on_folded_rows() -> None:
    nodes = {n.path: n for n in cnncost.compile(from_torch(Sequencer(), (3, 32, 32))).nodes}
    # 2 x 4 x 32 x (64 + 32) + 2 x 8 x 32 biases, as nn.LSTM(64, 32, bidirectional=True) counts them
    assert nodes["rnn.rnn_h"].params == 25088 == sum(p.numel() for p in nn.LSTM(64, 32, bidirectional=True).parameters())
    assert nodes["rnn.rnn_h"].input_shape == (8, 8, 64) and nodes["rnn.rnn_h"].output_shape == (8, 8, 64)


class NotBatchFirst(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 4)

    def forward(self, x):
        return self.lstm(x.transpose(0, 1))[0]


class WithStates(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 4, batch_first=True)

    def forward(self, x):
        h = torch.ones(1, x.shape[0], 4)
        return self.lstm(x, (h, h))[0]


@pytest.mark.parametrize("model, line", [
    (NotBatchFirst(), r"at module 'lstm' \(nn.LSTM other than batch_first=True"),
    (WithStates(), r"unsupported operation torch.nn.modules.rnn.LSTM at module 'lstm' \("),  # h0 made in forward
])
def test_lstms_not_modelled_are_refused_with_one_line(model: nn.Module, line: str) -> None:
    with pytest.raises(CnnCostError, match=line):
        from_torch(model, (5, 8))


def test_an_imported_lstm_round_trips_through_yaml() -> None:
    net = from_torch(Sequencer(), (3, 32, 32))
    text = cnncost.dump_spec(net)
    assert "type: lstm" in text and "bidirectional: true" in text
    again = cnncost.parse_spec(text)
    for batch in (1, 3):
        a = cnncost.table(net, batch=batch, memory="autograd", device="cpu").totals
        b = cnncost.table(again, batch=batch, memory="autograd", device="cpu").totals
        assert (a.params, a.macs, a.saved_bytes) == (b.params, b.macs, b.saved_bytes)
