"""Differential test of a matmul by a tensor made once per forward (a `computed` row of op tensor,
the importer's relative position tables): random token tensors of per-sample rank 3 to 5, maybe
permuted (a strided view: the batch folded into the rows copies it or not), times a table
(*L2, K, P) whose leading dims are the tensor's last leading dims or 1 (or none: a 2-D table), with
parameters and per-forward saved elements, then a linear. Each net is checked layer by layer
against the torch backend: shapes, params, MACs, FLOPs and saved bytes (batch 2, CPU), fp32 or
bf16 autocast. Not covered: a table made of no parameter (weights: 0), which the torch backend's
`computed` module of op tensor gives as its own buffer (not a new tensor; with grad: true it
fails in FlopCounterMode's module tracker), whatever reads it.

CNNCOST_PVMAT_EXAMPLES sets the number of examples (default 15; CNNCOST_LONG=1: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost.layers import Computed, Linear, Matmul, Permute  # noqa: E402
from cnncost.net import Net  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402

EXAMPLES = int(os.environ.get("CNNCOST_PVMAT_EXAMPLES", "10000" if os.environ.get("CNNCOST_LONG") == "1" else "15"))


@st.composite
def nets(draw) -> Net:
    rank = draw(st.integers(3, 5))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    layers: list = [Linear(name="embed", out=shape[-1])]  # the input needs no gradient: give it a layer
    if draw(st.booleans()):  # a permuted view of the leading dims
        order = tuple(draw(st.permutations(range(rank - 1)))) + (rank - 1,)
        layers.append(Permute(name="view", dims=order))
        shape = tuple(shape[d] for d in order)
    lead = draw(st.integers(0, rank - 2))
    weights = draw(st.integers(1, 6))  # made of parameters, as the importer's tables are
    table = tuple(draw(st.sampled_from((d, 1))) for d in shape[rank - 2 - lead:rank - 2])  # 1: broadcast
    table += (shape[-1], draw(st.integers(1, 5)))
    prev = layers[-1].name
    layers += [Computed(name="table", op="tensor", shape=table, weights=weights, saved=draw(st.integers(0, 8)),
                        inputs=(prev,)),
               Matmul(name="product", inputs=(prev, "table")),
               Linear(name="out", out=3)]
    return Net("table-product", input=tuple(shape if not layers[1:2] or layers[1].name != "view"
                                            else [shape[order.index(d)] for d in range(rank)]), layers=tuple(layers))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=nets(), dtype=st.sampled_from(("fp32", "bf16")))
def test_a_product_by_a_table_made_once_agrees_with_torch(net: Net, dtype: str) -> None:
    result = check(net, batch=2, device="cpu", dtype=dtype)
    wrong = [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.rows
             if r.quantity in ("shape", "params", "macs", "flops", "saved_bytes") and r.ours != r.torch]
    assert not wrong, f"{net.input} {[n.type_name for n in net.layers]}\n" + "\n".join(wrong)
