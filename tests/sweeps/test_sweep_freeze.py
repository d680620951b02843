"""`freeze` in sweeps: backward and training FLOPs without the frozen layers' weight gradients,
row for row equal to `table(freeze=...)`."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cnncost
from cnncost.errors import CnnCostError
from cnncost.graph import compile
from cnncost.sweeps import sweep
from test_sweep import nets, shape_of


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=nets(), hs=st.lists(st.integers(8, 48), min_size=1, max_size=3, unique=True),
       batch=st.lists(st.integers(1, 5000), min_size=1, max_size=3, unique=True), data=st.data())
def test_frozen_rows_equal_frozen_tables(net, hs, batch, data):
    paths = _paths(net, hs)
    assume(paths)  # a net valid at none of these sizes: the sweep drops every row
    freeze = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True))
    frame = sweep(net, batch=batch, input=[(net.input[0], h, h) for h in hs], freeze=freeze, invalid="drop")
    for row in frame.to_dict("records"):
        totals = cnncost.table(net, batch=row["batch"], input=shape_of(str(row["input"])), freeze=freeze).totals
        assert (row["backward_flops"], row["training_flops"]) == (totals.backward_flops, totals.training_flops)


def _paths(net, hs):
    """The layers' paths (the same at any input size), from the first size the net is valid at."""
    for h in (net.input[1], *hs):
        try:
            return [n.path for n in compile(net, (net.input[0], h, h)).nodes[1:]]
        except CnnCostError:
            continue
    return []


def test_freezing_removes_exactly_the_frozen_weight_gradients():
    # resnet50 at 224: freezing the stem and layer1 removes their weight gradients, and the stem
    # conv's input gradient (nothing before it is trainable any more) as well as layer1's.
    free = sweep("resnet50", batch=8)
    frozen = sweep("resnet50", batch=8, freeze=["conv1", "bn1", "layer1"])
    table = cnncost.table("resnet50", batch=8, freeze=["conv1", "bn1", "layer1"]).totals
    assert frozen["backward_flops"][0] == table.backward_flops < free["backward_flops"][0]
    assert frozen["macs"][0] == free["macs"][0]


def test_a_pattern_matching_nothing_is_the_tables_error():
    with pytest.raises(CnnCostError, match="matches no layer; did you mean 'conv1'"):
        sweep("resnet50", batch=8, freeze=["cnv1"])


def test_the_command_line_takes_freeze(capsys):
    from cnncost.cli import main
    assert main(["sweep", "resnet18", "--batch", "4", "--input", "64", "--freeze", "layer1", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["configurations"][0]
    totals = cnncost.table("resnet18", batch=4, input=(3, 64, 64), freeze=["layer1"]).totals
    assert row["backward_flops"] == totals.backward_flops != cnncost.table("resnet18", batch=4, input=(3, 64, 64)).totals.backward_flops
