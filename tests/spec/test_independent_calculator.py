"""Random specs, written as a user types them (plain YAML data, chains and `from:` merges), checked
against an independent calculator (tests/support/reference_calculator.py: no cnncost code), for batch
linearity and for `spec` round trips. CNNCOST_INDEPENDENT_EXAMPLES raises the count."""
from __future__ import annotations

import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnncost
from cnncost.errors import CnnCostError
from reference_calculator import rows as reference_rows

EXAMPLES = int(os.environ.get("CNNCOST_INDEPENDENT_EXAMPLES", "300"))

small = st.integers(1, 3)
pairs = st.one_of(small, st.lists(small, min_size=2, max_size=2))


def layer(draw, names: list[str]) -> dict:
    kind = draw(st.sampled_from(["conv", "conv", "conv", "maxpool", "avgpool", "batchnorm", "relu", "silu",
                                 "global_avgpool", "adaptive_avgpool", "dropout", "add", "concat", "residual",
                                 "branches", "flatten", "linear"]))
    if kind == "conv":
        g = draw(st.sampled_from([1, 1, 2]))
        return {"type": "conv", "out": g * draw(small), "kernel": draw(pairs), "stride": draw(pairs),
                "padding": draw(st.one_of(st.integers(0, 2), st.just("valid"))), "dilation": draw(st.sampled_from([1, 2])),
                "groups": g, "bias": draw(st.booleans())}
    if kind in ("maxpool", "avgpool"):
        k = draw(st.integers(1, 3))
        return {"type": kind, "kernel": k, "stride": draw(st.integers(1, 3)), "padding": draw(st.integers(0, k // 2)),
                "ceil_mode": draw(st.booleans())}
    if kind == "adaptive_avgpool":
        return {"type": kind, "output": draw(pairs)}
    if kind == "linear":
        return {"type": "linear", "out": draw(st.integers(1, 9)), "bias": draw(st.booleans())}
    if kind in ("add", "concat"):
        return {"type": kind, "from": draw(st.lists(st.sampled_from(names), min_size=2, max_size=3))}
    if kind == "residual":
        return {"type": "residual", "layers": [{"type": "conv", "out": draw(small), "kernel": 1}],
                "shortcut": draw(st.sampled_from([None, [{"type": "conv", "out": 2, "kernel": 1}]]))}
    if kind == "branches":
        return {"type": "concat", "branches": [[{"type": "conv", "out": draw(small), "kernel": 1}], [],
                                               [{"type": "maxpool", "kernel": 3, "stride": 1, "padding": 1}]]}
    return {"type": kind}


@st.composite
def specs(draw) -> dict:
    names = ["input"]
    layers = []
    for i in range(draw(st.integers(1, 8))):
        item = {"name": f"l{i}", **layer(draw, names)}
        if item["type"] not in ("add", "concat") or "branches" in item:
            if len(names) > 1 and draw(st.integers(0, 4)) == 0:
                item["from"] = draw(st.sampled_from(names))
        layers.append(item)
        names.append(f"l{i}")
    return {"name": "fuzz", "input": [draw(st.integers(1, 6)), draw(st.integers(1, 12)), draw(st.integers(1, 12))],
            "layers": layers}


def engine(spec: dict, batch: int = 1):
    try:
        return cnncost.table(cnncost.parse_spec(yaml.safe_dump(spec), "fuzz.yaml"), batch=batch)
    except CnnCostError:
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs())
def test_engine_equals_the_independent_calculator(spec: dict) -> None:
    report = engine(spec)
    if report is None:
        return  # an invalid spec: the CLI fuzz test checks it gets one clear line
    expected = reference_rows(spec)
    assert expected is not None, f"the engine accepted what the calculator cannot compute: {spec}"
    got = {r.name: (r.output_shape, r.params, r.macs) for r in report.rows if r.name != "input"}
    assert got == expected, spec


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), batch=st.integers(2, 10**12))
def test_counts_are_linear_in_the_batch(spec: dict, batch: int) -> None:
    one, many = engine(spec), engine(spec, batch)
    if one is None:
        return
    for a, b in zip(one.rows + (one.totals,), many.rows + (many.totals,)):
        assert (b.params, b.macs, b.flops, b.activations) == (a.params, a.macs * batch, a.flops * batch,
                                                               a.activations * batch)


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs())
def test_spec_round_trip(spec: dict) -> None:
    if engine(spec) is None:
        return
    net = cnncost.parse_spec(yaml.safe_dump(spec), "fuzz.yaml")
    again = cnncost.parse_spec(cnncost.dump_spec(net), "again.yaml")
    assert again == net
    assert cnncost.table(again).to_dict() == cnncost.table(net).to_dict()
