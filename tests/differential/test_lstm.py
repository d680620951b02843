"""Differential test for `lstm`: random small nets of a linear, LSTMs (1-2 layers, one or two
directions, with or without bias, on (L, D) or (rows, L, D)) and a linear after, checked layer by
layer against the torch backend: shapes, params, MACs, FlopCounterMode's FLOPs and saved bytes
exactly, the saved bytes of an lstm once the page rounding of oneDNN's workspace regions, which
the per-sample model leaves out (memory/rnn_rules.py), is added: at batch 2 it is known (fp32 and
bf16 autocast, CPU).

CNNCOST_LSTM_EXAMPLES sets the number of examples (default 10; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncost  # noqa: E402
from cnncost import Net  # noqa: E402
from cnncost.layers.rnn import LSTM  # noqa: E402
from cnncost.memory.rnn_rules import workspace_bytes, workspace_regions  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_check_agrees  # noqa: E402  (tests/support)

EXAMPLES = int(os.environ.get("CNNCOST_LSTM_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "10"))


@st.composite
def lstm_net(draw) -> Net:
    shape = ((draw(st.integers(1, 3)),) if draw(st.booleans()) else ()) + (draw(st.integers(1, 6)),
                                                                         draw(st.sampled_from((4, 8, 16))))
    layers: list = [cnncost.Linear(name="embed", out=shape[-1])]  # the input needs no gradient: give it a layer
    for i in range(draw(st.integers(1, 2))):
        layers.append(LSTM(name=f"r{i}", hidden=draw(st.integers(1, 12)), layers=draw(st.integers(1, 2)),
                           bidirectional=draw(st.booleans()), bias=draw(st.booleans())))
    layers.append(cnncost.Linear(name="fc", out=3))
    return Net("lstms", input=shape, layers=tuple(layers))


def rounding(layer: LSTM, x: tuple[int, ...], dtype: str, batch: int = 2) -> int:
    """The bytes oneDNN's page rounding adds to the workspaces of one lstm at `batch`."""
    rows = batch * (x[0] if len(x) == 3 else 1)
    return layer.directions * sum(workspace_bytes(x[-2], rows, d, layer.hidden, dtype)
                                  - sum(workspace_regions(x[-2], rows, d, layer.hidden, dtype))
                                  for d in layer.layer_inputs(x))


def assert_agrees(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    pages = {node.path: rounding(node.layer, node.input_shape, dtype) for node in cnncost.compile(net).nodes
             if isinstance(node.layer, LSTM)}
    wrong = []
    for r in result.rows:
        if r.quantity in ("shape", "params", "macs", "flops") and r.ours != r.torch:
            wrong.append(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}")
        elif r.quantity == "saved_bytes" and r.path != "total" and r.ours + pages.get(r.path, 0) != r.torch:
            wrong.append(f"{r.path} saved_bytes: ours {r.ours} + {pages.get(r.path, 0)} of page rounding, "
                         f"torch {r.torch}")
    assert not wrong, f"{net.input} {net.layers}\n" + "\n".join(wrong)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=lstm_net(), dtype=st.sampled_from(("fp32", "bf16")))
def test_lstm_nets_agree_with_torch(net: Net, dtype: str) -> None:
    assert_agrees(net, dtype)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_whole_pages_are_exact(dtype: str) -> None:
    """16 rows of 16 steps, 64 features, hidden 32, two bidirectional layers: at batch 2 every
    workspace region is whole pages, and the saved bytes are exact."""
    net = Net("pages", input=(32, 16, 64), layers=(cnncost.Linear(name="embed", out=64),
                                                  LSTM(name="r", hidden=32, layers=2, bidirectional=True),
                                                  cnncost.Linear(name="fc", out=4)))
    assert_check_agrees(net, dtype)
