"""The two extension points docs/architecture.md describes, used together from a test file: a new
layer type (its op schema here, one entry in each pass table it needs) and a new figure (one
`register` call) show in every output format, in the layer's row and in the total."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pytest

import cnncost
from cnncost.columns import Column, register, unregister
from cnncost.layers import LAYER_TYPES, Layer
from cnncost.layers.base import register as register_layer
from cnncost.outputs.tables import render


@dataclass(frozen=True, kw_only=True)
class ChannelGain(Layer):
    """y = x * g, one learnable gain per channel: params = C, MACs = |y|."""

    def out_shape(self, x):
        return x

    def params(self, x):
        return x[0]

    def macs(self, x, y):
        return y[0] * y[1] * y[2]


def gain_memory(layer, x, xs, y, b):
    b.save(x)  # the gain's gradient reads the input
    return b.like(x)


def params_per_mac(q):
    """A new figure: parameters per 1,000 multiply-accumulates of one image (0 where none)."""
    return q.params * 1000 // (q.macs + 1)


@pytest.fixture
def extended():
    from cnncost.memory.rules import RULES as MEMORY
    from cnncost.receptive.rules import RULES as RECEPTIVE
    register_layer("channel_gain")(ChannelGain)
    MEMORY[ChannelGain] = gain_memory
    RECEPTIVE[ChannelGain] = RECEPTIVE[LAYER_TYPES["relu"]]  # element-wise: the field passes through
    column = register(Column("params_per_kmac", params_per_mac, "grouped", "params/kMAC", monotone=False))
    yield cnncost.parse_spec("name: gained\ninput: [3, 8, 8]\nlayers:\n"
                             "  - {name: c, type: conv, out: 4, kernel: 3}\n  - {name: g, type: channel_gain}\n")
    unregister(column.name)
    del LAYER_TYPES["channel_gain"], MEMORY[ChannelGain], RECEPTIVE[ChannelGain]


def test_the_new_layer_and_figure_in_every_format(extended):
    report = cnncost.table(extended, batch=2, memory="autograd")
    row = report.rows[-1]
    assert (row.name, row.type, row.params, row.macs) == ("g", "channel_gain", 4, 2 * 4 * 6 * 6)
    assert row.params_per_kmac == 4 * 1000 // (4 * 6 * 6 + 1) == 27
    assert row.saved_bytes == 2 * 4 * 6 * 6 * 4  # its input, fp32, batch 2
    for text in (report.to_text(), report.to_markdown(), report._repr_html_(), render(report, "latex")):
        assert "channel_gain" in text.replace("\\_", "_") and "params/kMAC" in text, text[:200]
    record = list(csv.DictReader(io.StringIO(report.to_csv())))[2]
    assert (record["type"], int(record["params_per_kmac"])) == ("channel_gain", 27)
    layer = json.loads(report.to_json())["layers"][2]
    assert (layer["type"], layer["params"], layer["params_per_kmac"]) == ("channel_gain", 4, 27)
    frame = report.to_dataframe().set_index("name")
    assert frame.loc["g", "params_per_kmac"] == 27
    comparison = cnncost.compare([extended, "block-conv3x3"], batch=2)
    assert comparison.to_dict()["architectures"][0]["params_per_kmac"] == report.totals.params_per_kmac
    assert [(f.name, f.size) for f in cnncost.receptive_field(extended)[1:]] == [("c", (3, 3)), ("g", (3, 3))]
    assert cnncost.dump_spec(extended).count("type: channel_gain") == 1
