"""The three figures an import test compares with PyTorch (params, MACs per image, saved bytes at
batch 2 on CPU): cnncost's, from a Net; PyTorch's own, measured by tests/fixtures/onnx/make_onnx.py's
`measure` or by FlopCounterMode on the module's run (`measured_run`); and the assertion that an
imported module's figures equal the real module's (`assert_imports_exactly`, through check_against)."""
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


def measured_run(model: Any, *xs: Any) -> tuple[int, int, int]:
    """(params, MACs per sample, saved bytes) of the real module run in train mode on the inputs
    `xs` (one batch each, CPU): FlopCounterMode's FLOPs / 2 and autograd's saved tensors."""
    from torch.utils.flop_counter import FlopCounterMode

    from cnncost.torch_backend.measure import saved_tensors
    batch = len(xs[0])
    model.train()
    params = sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter:
        model(*xs)
    saved = saved_tensors(model, xs if len(xs) > 1 else xs[0]).total()
    return params, counter.get_total_flops() // 2 // batch, saved


def assert_imports_exactly(model: Any, shape: tuple[int, ...], tracer: str, *, batches: tuple[int, ...] = (2,),
                           sdpa_macs: int = 0, rows: bool = True, nonzero: bool = True) -> cnncost.Net:
    """Imports `model` at `shape` with `tracer`; at each of `batches`, check_against's totals of params,
    MACs and saved bytes equal the real module's (measured: parameter count, FlopCounterMode's MACs,
    autograd's saved tensors, CPU fp32), and are above 0 (`nonzero`); `rows`: every row matches too
    (not where export decomposes an op into rows the reference does not have). `sdpa_macs`: the MACs
    of fused F.scaled_dot_product_attention calls at batch 2, which FlopCounterMode in torch 2.13 does
    not count on CPU (its fused CPU kernel has no formula there; the math path is counted): the
    measured MACs lack them, and the rows are not compared. Returns the imported net."""
    from cnncost.importers.torch_trace import from_torch
    from cnncost.torch_backend.against import check_against
    assert not sdpa_macs or batches == (2,), "sdpa_macs is a batch-2 figure"
    net = from_torch(model, shape, tracer=tracer)
    for batch in batches:
        result = check_against(net, model, batch=batch)
        if rows and not sdpa_macs:
            assert result.ok, result.summary()
        for q in ("params", "macs", "saved_bytes"):
            ours, theirs = result.totals[q]
            assert ours == theirs + (sdpa_macs if q == "macs" else 0), (q, batch)
            assert theirs > 0 or not nonzero, (q, batch)
    return net


def row_types(net: cnncost.Net) -> set[str]:
    """The layer types the net compiles to (which rows an import made)."""
    return {n.type for n in cnncost.compile(net).nodes}


def assert_saves_as_torch_in_bf16(model: Any, shape: tuple[int, ...]) -> None:
    """The imported net's autograd rules against its rebuilt torch modules under bf16 autocast
    (batch 2, CPU): every module's saved bytes and the total agree."""
    from cnncost.importers.torch_trace import from_torch
    from cnncost.torch_backend.saved_check import compare_saved
    result = compare_saved(from_torch(model, shape), batch=2, dtype="bf16")
    assert result.mismatches() == {} and result.predicted == result.measured


def assert_saves_what_torch_saves(model: Any, net: cnncost.Net, shape: tuple[int, ...], dtype: str,
                                  batch: int = 3) -> None:
    """The imported `net`'s saved bytes at `batch` (CPU; fp32, or bf16 autocast) equal what autograd
    saves running `model` (its activations and input), and its rebuilt torch modules save what its
    memory rules say."""
    import torch

    from cnncost.torch_backend.measure import saved_tensors
    from cnncost.torch_backend.saved_check import compare_saved
    name = type(model).__name__
    kinds = saved_tensors(model, torch.randn(batch, *shape), torch.bfloat16 if dtype == "bf16" else None).by_kind()
    ours = cnncost.table(net, batch=batch, memory="autograd", device="cpu", dtype=dtype).totals.saved_bytes
    assert ours == kinds["activation"] + kinds["input"], name
    result = compare_saved(net, batch=batch, dtype=dtype)
    assert result.mismatches() == {} and result.predicted == result.measured, name
