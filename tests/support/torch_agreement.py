"""One assertion for the tests that compare the engine with PyTorch through
`cnncost.torch_backend.check`: every mismatching row, saved bytes included, named in the failure."""
from __future__ import annotations

from typing import Any


def disagreements(result: Any) -> list[str]:
    """The rows where cnncost and PyTorch differ: check's mismatches, and any saved-bytes row that
    differs (information only where check does not gate saved bytes)."""
    rows = list(result.mismatches)
    rows += [r for r in result.rows if r.quantity == "saved_bytes" and r.ours != r.torch and r not in rows]
    return [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in rows]


def assert_agrees(result: Any, context: str = "") -> None:
    """Fails naming every disagreeing row, after `context` (the spec that was checked)."""
    wrong = disagreements(result)
    assert result.ok and not wrong, context + "\n" + "\n".join(wrong)
