"""The memory rule of `lstm` (memory/rnn_rules.py): oneDNN's workspace formula against sizes
measured on torch 2.13 CPU, what the rule saves, and the cases it does not model (named errors)."""
from __future__ import annotations

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.layers.rnn import LSTM
from cnncost.memory.rnn_rules import PAGE, workspace_bytes


# (steps, rows, features, hidden) -> the uint8 workspace nn.LSTM(features, hidden, batch_first=True)
# saves on `rows` sequences in training, fp32 and bf16 autocast (measured: torch 2.13.0+cpu, the
# AVX-512 CPU the fixtures were measured on; torch 2.14.1 gives the same)
MEASURED = {(32, 64, 192, 48): (13320192, 10375168), (16, 32, 384, 96): (6832128, 5296128),
            (32, 2, 192, 48): (425984, 335872), (10, 7, 33, 17): (159744, 131072), (3, 2, 8, 5): (28672, 28672)}


@pytest.mark.parametrize("size", sorted(MEASURED))
def test_the_workspace_is_the_measured_one(size) -> None:
    assert (workspace_bytes(*size, "fp32"), workspace_bytes(*size, "bf16")) == MEASURED[size]


def test_the_workspace_is_measured_live() -> None:
    torch = pytest.importorskip("torch")
    for steps, rows, features, hidden in ((5, 3, 7, 9), (16, 32, 384, 96), (2, 1, 300, 40)):
        for dtype in ("fp32", "bf16"):
            module = torch.nn.LSTM(features, hidden, batch_first=True)
            sizes = []

            def pack(t):
                if t.dtype == torch.uint8:
                    sizes.append(t.untyped_storage().nbytes())
                return t
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                    torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                module(torch.randn(rows, steps, features))
            assert sizes == [workspace_bytes(steps, rows, features, hidden, dtype)], (steps, rows, features, hidden)


def test_per_sample_saved_bytes_of_whole_pages() -> None:
    """One direction, 8 rows of 32 steps (16 at batch 2), 64 features, hidden 32, fp32: the input
    (8 x 32 x 64), h0 and c0 (8 x 32 each), the output (8 x 32 x 32), h and c (8 x 32 each) and the
    workspace, 4 bytes an element; at batch 2 the workspace is whole pages: exactly torch's."""
    net = cnncost.Net("n", (8, 32, 64), (cnncost.Linear(name="embed", out=64), LSTM(name="r", hidden=32)))
    rows = {r.name: r for r in cnncost.table(net, batch=2, memory="autograd", device="cpu").rows}
    elements = 8 * 32 * 64 + 2 * 8 * 32 + 8 * 32 * 32 + 2 * 8 * 32
    assert rows["r"].saved_bytes - 2 * 4 * elements == workspace_bytes(32, 16, 64, 32, "fp32")
    assert workspace_bytes(32, 16, 64, 32, "fp32") % PAGE == 0


@pytest.mark.parametrize("device, dtype", [("cuda", "fp32"), ("cpu", "fp16"), ("cpu", "fp64")])
def test_what_is_not_modelled_is_a_named_error(device: str, dtype: str) -> None:
    net = cnncost.Net("n", (5, 8), (LSTM(name="r", hidden=4),))
    with pytest.raises(CnnCostError, match=rf"\(lstm\): its saved tensors are modelled on CPU in fp32 and bf16 only "
                                           rf"\(oneDNN's LSTM\), not {dtype} on {device}"):
        cnncost.table(net, batch=2, memory="autograd", device=device, dtype=dtype)
