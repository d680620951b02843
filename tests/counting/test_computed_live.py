"""The peer tools' conventions for `computed` (layers/computed.py), against the live tools (run
where they are installed: the side venv of tests/fixtures/measure_tools.py): every tool's total and
parameter count on cnncost's own torch model of a net with every op of it, and the docs' example."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnncost

ROOT = Path(__file__).resolve().parents[2]


def nets() -> list[cnncost.Net]:
    layers = [cnncost.Conv(out=4, kernel=1), cnncost.Computed(op="mul", shape=(4, 1, 1), weights=4, saved=4),
              cnncost.Computed(op="add", shape=(4, 5), weights=3), cnncost.Computed(op="div", reverse=True, shape=()),
              cnncost.Computed(op="sub", shape=(1, 5), grad=False), cnncost.Computed(op="expand", shape=(2, 4, 5), grad=False),
              cnncost.Conv(out=2, kernel=1),
              cnncost.Computed(op="weight", shape=(3, 2, 1, 1), weights=3, saved=9), cnncost.Conv(out=3, kernel=1)]
    tensor = cnncost.parse_spec("""
name: computed-tensor
input: [4, 5]
layers:
  - {name: lin, type: linear, out: 5}
  - {name: c, type: computed, op: tensor, shape: [4, 5], weights: 3, saved: 2, from: input}
  - {name: sum, type: add, from: [lin, c]}
""")
    return [cnncost.Net("computed", (3, 4, 5), layers), cnncost.load(ROOT / "docs" / "examples" / "computed-bias.yaml"),
            tensor]


def test_every_tool_counts_computed_rows_as_its_convention_says() -> None:
    pytest.importorskip("torch")
    import tools_live
    tools_live.require()
    for net in nets():
        tools_live.assert_tools_count_as_their_conventions(net)
