"""The three figures an import test compares with PyTorch: cnncost's, from a Net, and PyTorch's own,
measured by tests/fixtures/onnx/make_onnx.py's `measure` (params, MACs per image, saved bytes at
batch 2 on CPU)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cnncost

_MAKE_ONNX = Path(__file__).resolve().parents[1] / "fixtures" / "onnx" / "make_onnx.py"
_models: Any = None


def figures(net: Any) -> tuple[int, int, int]:
    """(params, MACs per image, saved bytes at batch 2 on CPU)."""
    totals = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    return totals.params, totals.macs // 2, totals.saved_bytes


def measured(model: Any, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The same three figures, measured on the real module."""
    global _models
    if _models is None:
        spec = importlib.util.spec_from_file_location("make_onnx_models", _MAKE_ONNX)
        _models = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_models)  # type: ignore[union-attr]
    m = _models.measure(model, shape)
    return m["params"], m["macs"], m["saved_b2"]
