"""sdpa's math path saves each tensor only for a gradient that needs it (torch 2.13's composite
`_scaled_dot_product_attention_math`: q and k scaled, one matmul, softmax, dropout, a second
matmul; each matmul saves an operand for the other operand's gradient): checked against PyTorch
through the torch backend for every combination of q, k and v needing a gradient (a linear's
output) or not (the net's input), with and without dropout and a mask, fp32 and CPU bf16 autocast."""
from __future__ import annotations

import itertools

import pytest

pytest.importorskip("torch")

import cnncost  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)


def _net(grads: tuple[bool, bool, bool], dropout: float, masked: bool) -> cnncost.Net:
    """q, k, v: a linear of the input where it needs a gradient, else the input itself; per-sample
    rank 2 (no heads): the math path on torch 2.13 CPU."""
    layers, names = [], []
    for name, grad in zip("qkv", grads):
        if grad:
            layers.append(cnncost.Linear(name=name, out=4, inputs=("input",)))
        names.append(name if grad else "input")
    if masked:  # a mask that needs a gradient: the weights need one whatever q and k
        layers.append(cnncost.Linear(name="mask", out=5, inputs=("input",)))
        names.append("mask")
    layers += [cnncost.Attention(name="attn", inputs=tuple(names), dropout=dropout), cnncost.Linear(name="out", out=4)]
    return cnncost.Net("attention", input=(5, 4), layers=tuple(layers))


@pytest.mark.parametrize("grads", list(itertools.product([True, False], repeat=3)),
                         ids=lambda g: "".join(n if on else "-" for n, on in zip("qkv", g)))
def test_the_math_path_saves_for_the_gradients_needed(grads: tuple[bool, bool, bool]) -> None:
    for dropout, masked, dtype in [(0.0, False, "fp32"), (0.25, False, "bf16"), (0.25, True, "fp32"),
                                   (0.0, True, "bf16")]:
        net = _net(grads, dropout, masked)
        result = check(net, batch=2, device="cpu", dtype=dtype)
        assert_agrees(result, f"{grads} dropout {dropout} mask {masked} {dtype}")
        assert any(r.path == "attn" and r.quantity == "saved_bytes" for r in result.rows)


def test_k_without_a_gradient_leaves_q_scaled_unsaved() -> None:
    """The issue's case, by hand: q from a linear, k and v the input, fp32, batch 2, L = S = 5,
    E = 4: the weights (2 x 5 x 5 fp32: 200 B), k scaled (2 x 5 x 4: 160 B, for q's gradient) and
    v (the input batch, not counted as saved): 360 B; q scaled (160 B) would only serve k's gradient."""
    result = check(_net((True, False, False), 0.0, False), batch=2, device="cpu", dtype="fp32")
    assert [r.ours for r in result.rows if r.path == "attn" and r.quantity == "saved_bytes"] == [360]
