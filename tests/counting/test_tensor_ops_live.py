"""The peer tools' conventions for the tensor ops of issue 18, against the live tools (run where
they are installed: the side venv of tests/fixtures/measure_tools.py): every tool's total and
parameter count on cnncost's own torch model of nets using every tensor op."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnncost

ROOT = Path(__file__).resolve().parents[2]


def test_every_tool_counts_the_tensor_ops_as_its_convention_says() -> None:
    pytest.importorskip("torch")
    import tools_live
    tools_live.require()
    from tensor_op_nets import nets  # tests/support
    for net in [*nets(), cnncost.load(ROOT / "docs" / "examples" / "patch-tokens.yaml")]:
        tools_live.assert_tools_count_as_their_conventions(net)
