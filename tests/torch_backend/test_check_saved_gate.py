"""`check` gates on saved bytes where the autograd model is claimed exact (CPU, a measured torch
release) and reports them as information elsewhere."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from cnncost.cli.check_output import render  # noqa: E402
check_module = pytest.importorskip("cnncost.torch_backend.check")
from cnncost.torch_backend.check import check, saved_bytes_exact  # noqa: E402


def test_saved_bytes_rows_are_exact_on_cpu() -> None:
    result = check("inception", batch=1, init=False)
    saved = [row for row in result.rows if row.quantity == "saved_bytes"]
    assert saved and all(row.exact and row.status == "ok" for row in saved)
    assert result.ok


def test_a_saved_bytes_difference_is_a_mismatch_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    predicted = check_module._predicted_memory

    def one_byte_more(*args, **kwargs):
        by_path, peak = predicted(*args, **kwargs)
        first = next(iter(by_path))
        return {**by_path, first: by_path[first] + 1}, peak

    monkeypatch.setattr(check_module, "_predicted_memory", one_byte_more)
    result = check("inception", batch=1, init=False)
    bad = {(row.path == "total", row.quantity) for row in result.mismatches}
    assert bad == {(False, "saved_bytes"), (True, "saved_bytes")} and not result.ok
    assert "MISMATCH saved_bytes" in render(result, "text")


def test_saved_bytes_are_information_on_cuda_or_an_unmeasured_release(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not saved_bytes_exact("cuda") and not saved_bytes_exact("cuda:0")
    monkeypatch.setattr(torch, "__version__", "2.99.0")
    assert not saved_bytes_exact("cpu")
