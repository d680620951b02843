"""Differential test of nets with several inputs of any rank: random nets whose branches read
inputs by name (some inputs twice, some never, the first by default), join in add, mul or concat
and go on; shapes, params, MACs, FLOPs and saved bytes per layer and in total must agree between
the engine and PyTorch (`cnncost.torch_backend.check`, batch 2, fp32, CPU).

CNNCOST_LONG=1 raises the number of examples (default 25; long: 10,000)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("torch", reason="the differential test builds every net in PyTorch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnncost import (GELU, Add, BatchNorm, Conv, Dropout, Flatten, Identity, Linear, Mul, Net, ReLU,  # noqa: E402
                     Sigmoid, dump_spec)
from cnncost.graph import compile  # noqa: E402
from cnncost.layers import Concat  # noqa: E402
from cnncost.torch_backend import check  # noqa: E402
from torch_agreement import assert_agrees  # noqa: E402  (tests/support)

EXAMPLES = 10_000 if os.environ.get("CNNCOST_LONG") == "1" else 25

ELEMENTWISE = (lambda: ReLU(inplace=False), lambda: ReLU(), lambda: Sigmoid(), lambda: GELU(),
               lambda: Dropout(p=0.5), lambda: Identity())


@st.composite
def multi_input_nets(draw) -> Net:
    """2-3 inputs of one shape: CxHxW maps with convs and batch norms, or any rank (1-4 dims)
    with element-wise ops only; one branch per drawn source, then a join and a short tail."""
    rank = draw(st.sampled_from((1, 2, 3, 3, 4)))
    maps = rank == 3
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank - 2)) if rank > 3 else ()
    shape = (draw(st.integers(1, 4)), *shape, *(draw(st.integers(2, 6)) for _ in range(min(rank - 1, 2))))
    n_inputs = draw(st.integers(2, 3))
    names = draw(st.sampled_from((["input", "input1", "input2"], ["left", "right", "extra"])))[:n_inputs]
    width = draw(st.integers(1, 4)) if maps else shape[0]
    layers = []
    ends = []
    for b in range(draw(st.integers(1, 3))):
        source = draw(st.sampled_from(names))
        ops = []
        for _ in range(draw(st.integers(0, 2))):
            choice = draw(st.integers(0, len(ELEMENTWISE) + (1 if maps else -1)))
            ops.append(ELEMENTWISE[choice]() if choice < len(ELEMENTWISE) else BatchNorm())
        if maps:
            kernel = draw(st.sampled_from((1, 3)))
            ops.append(Conv(out=width, kernel=kernel, padding=kernel // 2, bias=draw(st.booleans())))
        if not ops:
            ops.append(ReLU(inplace=False))
        first = b == 0 and source == names[0] and draw(st.booleans())  # the first layer reads the first input
        for i, op in enumerate(ops):
            fields = {"name": f"b{b}_{i}"}
            if i == 0 and not first:
                fields["inputs"] = (source,)
            layers.append(type(op)(**{**_fields(op), **fields}))
        ends.append(f"b{b}_{len(ops) - 1}")
    if len(ends) > 1:
        kinds = ("add", "concat") if maps else ("add",)
        kind = draw(st.sampled_from(kinds + (("mul",) if len(ends) == 2 else ())))  # mul joins two
        join = {"add": Add, "mul": Mul}.get(kind)
        layers.append(join(name="join", inputs=tuple(ends)) if join else Concat(name="join", inputs=tuple(ends)))
    if draw(st.booleans()):
        layers += [Flatten(name="flat"), Linear(name="head", out=draw(st.integers(1, 5)))]
    return Net("multi", input=dict(zip(names, [shape] * n_inputs)), layers=layers)


def _fields(layer) -> dict:
    import dataclasses
    return {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer) if f.name not in ("name", "inputs")}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=os.environ.get("CI") == "true")
@given(net=multi_input_nets())
def test_engine_and_torch_agree_on_random_multi_input_nets(net: Net) -> None:
    result = check(net, batch=2, device="cpu")
    assert_agrees(result, dump_spec(net))
    graph = compile(net)
    assert graph.inputs == tuple(range(len(net.named_inputs)))
    assert {r.path for r in result.rows} == {n.path for n in graph.nodes[1:]} | {"total"}
