"""The peer tools' conventions for the tensor ops of issue 18, against the live tools (run where
they are installed: the side venv of tests/fixtures/measure_tools.py): every tool's total and
parameter count on cnncost's own torch model of nets using every tensor op."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnncost
from cnncost.counting import ops
from cnncost.counting.tools import tool_params

ROOT = Path(__file__).resolve().parents[2]


def test_every_tool_counts_the_tensor_ops_as_its_convention_says() -> None:
    pytest.importorskip("torch")
    import tools_live
    if not tools_live.available():
        pytest.skip("the peer tools are not installed (see tests/fixtures/measure_tools.py for the side venv)")
    from tensor_op_nets import nets  # tests/support

    from cnncost.torch_backend import build
    for net in [*nets(), cnncost.load(ROOT / "docs" / "examples" / "patch-tokens.yaml")]:
        g = cnncost.compile(net)
        for key, value in tools_live.measure(build(net), tuple(net.input)).items():
            tool, _, what = key.partition(".")
            if what == "params":
                assert tool_params(g, tool, "cnncost") == value, (net.name, key)
            elif not what:
                assert ops(g, tool, 1, "cnncost").total == value, (net.name, key)
