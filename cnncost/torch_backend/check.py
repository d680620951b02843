"""Engine vs torch, per layer and in total.

Exact quantities (a difference is a bug in the engine or in the builder): output shapes,
parameters, conv/linear MACs, and FLOPs as `FlopCounterMode` counts them. FlopCounterMode counts
2 FLOPs per multiply-add of convolution and matrix products (mm, addmm, bmm...) and nothing else:
no bias adds, norms, pools, activations, LRN or merges. That is the engine's FLOP convention
(2 x MACs of conv and linear), so the two are compared like with like and must agree exactly.

Memory figures are estimates and are shown with their relative error, never as pass/fail:
the engine's forward activations (1 x activations, the half of its 2 x convention kept while the
forward pass runs) against the bytes autograd really saves for backward, and on CUDA its training
memory (2 x activations + k x params) against the peak of a real training step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from ..api import load
from ..conventions import Options
from ..engine import MERGE_KINDS, Analysis, analyze, module_path
from ..errors import CnnCostError
from ..net import Net
from ..report import build_report
from ..shapes import Shape
from .build import Network, build
from .measure import SavedBytes, TrainPeak, probe, saved_tensors, train_step_peak

TORCH_DTYPES = {"fp32": torch.float32, "fp64": torch.float64, "bf16": torch.bfloat16, "fp16": torch.float16}
AUTOCAST = {"bf16", "fp16"}  # run as mixed precision: fp32 params, autocast to the half type
EXACT = ("shape", "params", "macs", "flops")

# What the autograd model predicts: activations, the input batch and autocast's weight copies.
SAVED_BASIS = ("activation", "input", "parameter-cast")


@dataclass(frozen=True)
class CheckRow:
    """One compared figure. `exact` rows pass or fail; the others carry a relative error."""

    path: str
    type: str
    quantity: str
    ours: Any
    torch: Any
    exact: bool

    @property
    def diff(self) -> int | None:
        if isinstance(self.ours, int) and isinstance(self.torch, int):
            return self.torch - self.ours
        return None

    @property
    def rel_error(self) -> float | None:
        """(torch - ours) / torch: how far the estimate is from what was measured."""
        if self.diff is None or not self.torch:
            return None
        return self.diff / self.torch

    @property
    def status(self) -> str:
        if not self.exact:
            return "info"
        return "ok" if self.ours == self.torch else "mismatch"

    def to_dict(self) -> dict[str, Any]:
        as_json = (lambda v: list(v) if isinstance(v, tuple) else v)
        return {"path": self.path, "type": self.type, "quantity": self.quantity,
                "ours": as_json(self.ours), "torch": as_json(self.torch), "diff": self.diff,
                "rel_error": self.rel_error, "status": self.status}


@dataclass
class CheckResult:
    """Per-layer rows (in engine order) and total rows (path 'total')."""

    architecture: str
    batch: int
    device: str
    dtype: str
    optimizer: str
    rows: list[CheckRow]
    notes: list[str] = field(default_factory=list)
    saved: SavedBytes | None = None
    peak: TrainPeak | None = None
    flops_by_op: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def mismatches(self) -> list[CheckRow]:
        return [row for row in self.rows if row.status == "mismatch"]

    @property
    def totals(self) -> list[CheckRow]:
        return [row for row in self.rows if row.path == "total"]

    def total(self, quantity: str) -> CheckRow:
        return next(row for row in self.totals if row.quantity == quantity)

    def to_dict(self) -> dict[str, Any]:
        return {"architecture": self.architecture, "batch": self.batch, "device": self.device,
                "dtype": self.dtype, "optimizer": self.optimizer, "ok": self.ok,
                "rows": [row.to_dict() for row in self.rows], "notes": self.notes,
                "saved_bytes_by_kind": self.saved.by_kind() if self.saved else None,
                "saved_bytes_by_dtype": self.saved.by_dtype() if self.saved else None,
                "flops_by_op": self.flops_by_op}


def check(arch: str | os.PathLike[str] | Net, *, batch: int = 2, device: str = "cpu", dtype: str = "fp32",
          input: Shape | None = None, optimizer: str = "adam", memory: bool = True,
          init: bool = True) -> CheckResult:
    """Build `arch` in PyTorch, run it, and compare every figure with the engine's.

    `memory=False` skips the saved-tensor pass and the CUDA training step (exact checks only);
    `init=False` skips weight initialisation (faster; values do not matter for any figure).

    >>> from cnncost.torch_backend import check
    >>> result = check("inception", batch=1)
    >>> result.ok, result.total("params").torch
    (True, 163696)
    """
    options = Options(batch=batch, dtype=dtype, optimizer=optimizer)
    if options.dtype not in TORCH_DTYPES:
        raise CnnCostError(f"cnncost check cannot run dtype '{options.dtype}' in PyTorch; "
                           f"use one of {', '.join(TORCH_DTYPES)}")
    device = _device(device)
    net = load(arch)
    if input is not None:
        net = net.with_input(tuple(input))
    analysis = analyze(net)
    model = build(net, init=init)
    half = TORCH_DTYPES[options.dtype] if options.dtype in AUTOCAST else None
    store = torch.float32 if half else TORCH_DTYPES[options.dtype]
    model.to(device=device, dtype=store)
    x = torch.randn(batch, *net.input, device=device, dtype=store)
    try:
        seen = probe(model, x, half)
        flops = seen.flops
        saved = saved_tensors(model, x, half) if memory else None
        peak = train_step_peak(model, x, options.optimizer, half) if memory and device.startswith("cuda") else None
    except ValueError as error:  # e.g. "Expected more than 1 value per channel when training"
        raise CnnCostError(f"PyTorch could not run {net.name} at batch {batch}: {error}") from None
    predicted = _predicted_memory(net, options, device, batch) if memory else None
    rows = _layer_rows(analysis, model, batch, seen, flops.by_path, saved, predicted)
    rows += _total_rows(analysis, options, model, seen, flops.total, saved, peak, predicted)
    notes = [f"torch {torch.__version__} on {device}; " + ("mixed precision: fp32 params, autocast to "
             f"{options.dtype}" if half else f"params and activations in {options.dtype}"),
             "FLOPs: FlopCounterMode, 2 per multiply-add of conv and matmul ops only "
             "(no bias, norm, pool, activation, LRN or merge FLOPs), the engine's convention",
             "saved bytes: ours = cnncost.memory's autograd model (--memory autograd); torch = storages "
             "saved for backward (activations, input and autocast weight copies; parameters and buffers "
             "listed apart), each storage counted once, charged to the module that saved it first; "
             "lecture_saved_bytes = the lecture's 1 x activations (incl. input) against the same measurement"]
    if peak:
        notes.append("train peak: ours = the autograd model's step peak (train_peak_bytes) and the lecture's "
                     "2 x activations + k x params (lecture_train_peak_bytes); torch = max_memory_allocated "
                     "over one training step after a warm-up step (includes cuDNN workspaces and "
                     "optimizer temporaries)")
    return CheckResult(net.name, batch, device, options.dtype, options.optimizer, rows, notes, saved, peak,
                       flops.by_op)


def _device(device: str) -> str:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CnnCostError(f"device '{device}' requested but torch.cuda.is_available() is False")
    try:
        torch.device(device)
    except RuntimeError:
        raise CnnCostError(f"unknown device '{device}'; use cpu or cuda") from None
    return device


def _predicted_memory(net: Net, options: Options, device: str, batch: int) -> tuple[dict[str, int], int]:
    """The autograd model's saved bytes per module path, and its training-step peak."""
    from ..memory import Precision, step_memory, trace
    traced = trace(net, precision=Precision(options.dtype, "cuda" if device.startswith("cuda") else "cpu"))
    return traced.saved_by_module(batch), step_memory(traced, options.optimizer).peak(batch).at(batch)


def _layer_rows(analysis: Analysis, model: Network, batch: int, seen, flops: dict[str, int],
                saved: SavedBytes | None, predicted: tuple[dict[str, int], int] | None) -> list[CheckRow]:
    modules = dict(model.named_modules())
    saved_by_path = saved.by_path(SAVED_BASIS) if saved else {}
    rows: list[CheckRow] = []
    for leaf in analysis.leaves[1:]:
        path, kind = leaf.path, leaf.type
        owner = module_path(path, kind)
        module = modules.get(owner)
        if kind in MERGE_KINDS:  # the block's own work: what is not inside any of its children
            own_params = sum(p.numel() for p in module.parameters(recurse=False)) if module is not None else None
            own_flops = flops.get(owner, 0) - sum(
                flops.get(f"{owner}.{name}", 0) for name in (module._modules if module is not None else ()))
            torch_values = (seen.shapes.get(owner), own_params, 0 if module is not None else None, own_flops)
        else:
            torch_values = (seen.shapes.get(path), seen.params.get(path), seen.macs.get(path),
                            flops.get(path, 0) if module is not None else None)
        ours = (leaf.output_shape, leaf.params, leaf.macs * batch, 2 * leaf.macs * batch)
        rows += [CheckRow(path, kind, q, o, t, True) for q, o, t in zip(EXACT, ours, torch_values)]
        if saved is not None and predicted is not None:
            rows.append(CheckRow(path, kind, "saved_bytes", predicted[0].get(owner, 0),
                                 saved_by_path.get(owner, 0), False))
    return rows


def _total_rows(analysis: Analysis, options: Options, model: Network, seen, flop_total: int,
                saved: SavedBytes | None, peak: TrainPeak | None,
                predicted: tuple[dict[str, int], int] | None) -> list[CheckRow]:
    report = build_report(analysis, options)
    totals, size = report.totals, options.bytes_per_element

    def row(quantity: str, ours: Any, measured: Any, exact: bool = True) -> CheckRow:
        return CheckRow("total", "total", quantity, ours, measured, exact)

    rows = [row("shape", analysis.output_shape, seen.shapes.get("")),
            row("params", totals.params, sum(p.numel() for p in model.parameters())),
            row("macs", totals.macs, sum(seen.macs.values())),
            row("flops", totals.flops, flop_total)]
    if saved is not None and predicted is not None:
        rows.append(row("saved_bytes", sum(predicted[0].values()), saved.total(SAVED_BASIS), False))
        rows.append(row("lecture_saved_bytes", totals.activations * size, saved.total(SAVED_BASIS), False))
        if options.dtype not in AUTOCAST:  # under autocast the weights' low-precision copies are saved instead
            rows.append(row("saved_param_bytes", totals.params * size, saved.total(("parameter",)), False))
    if peak is not None and predicted is not None:
        rows.append(row("forward_retained_bytes", totals.activations * size, peak.after_forward - peak.start, False))
        rows.append(row("train_peak_bytes", predicted[1], peak.peak, False))
        rows.append(row("lecture_train_peak_bytes", totals.memory_bytes, peak.peak, False))
    return rows
