"""The peer tools' conventions for `lstm` (counting/rnn.py), against the live tools (run where
they are installed: the side venv of tests/fixtures/measure_tools.py): every tool's total and
parameter count on cnncost's own torch model of nets of LSTMs (one and two layers, one and two
directions, with and without bias) between linears, on (L, D) sequences."""
from __future__ import annotations

import pytest

import cnncost
from cnncost.counting import ops
from cnncost.layers.rnn import LSTM


def nets() -> list[cnncost.Net]:
    return [cnncost.Net("one", (5, 8), (LSTM(name="r", hidden=6),)),
            cnncost.Net("stacked", (7, 8), (cnncost.Linear(name="embed", out=8),
                                            LSTM(name="r", hidden=6, layers=2, bidirectional=True),
                                            cnncost.Linear(name="fc", out=3))),
            cnncost.Net("no-bias", (4, 5), (LSTM(name="r", hidden=3, bidirectional=True, bias=False),
                                            LSTM(name="s", hidden=4, layers=3)))]


def test_every_tool_counts_lstms_as_its_convention_says() -> None:
    pytest.importorskip("torch")
    import tools_live
    tools_live.require()
    for net in nets():
        tools_live.assert_tools_count_as_their_conventions(net, every_tool=True)


def test_the_conventions_on_one_lstm() -> None:
    """nn.LSTM(8, 6, 2, bidirectional=True) on 5 steps, batch 1 (measured live, side venv: torch
    2.14.1, ptflops 0.7.5, thop 0.1.1, torchinfo 1.8): ptflops 9,840, thop 9,600, torchinfo 8,640
    (1,728 params x 5 steps); FlopCounterMode, fvcore, ptflops-aten and torchscan 0."""
    g = cnncost.compile(cnncost.Net("n", (5, 8), (LSTM(name="r", hidden=6, layers=2, bidirectional=True),)))
    counts = {tool: ops(g, tool, 1, "cnncost").total for tool in
              ("ptflops", "thop", "torchinfo", "flopcounter", "fvcore", "ptflops-aten", "torchscan", "torchscan-macs")}
    assert counts == {"ptflops": 9840, "thop": 9600, "torchinfo": 8640, "flopcounter": 0, "fvcore": 0,
                      "ptflops-aten": 0, "torchscan": 0, "torchscan-macs": 0}
    assert g.nodes[-1].params == 1728 and g.nodes[-1].layer.gate_macs((5, 8)) == 7680  # 2 x 5 x 4 x 6 x (8 + 6 + 12 + 6)
