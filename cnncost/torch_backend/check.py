"""Engine vs torch, per layer and in total.

Exact quantities (a difference is a bug in the engine or in the builder): output shapes,
parameters, conv/linear MACs, and FLOPs as `FlopCounterMode` counts them. FlopCounterMode counts
2 FLOPs per multiply-add of convolution and matrix products (mm, addmm, bmm...) and nothing else:
no bias adds, norms, pools, activations, LRN or merges. That is the engine's FLOP convention
(2 x MACs of conv and linear), so the two are compared like with like and must agree exactly.

Saved bytes, per layer and in total (the autograd memory model against the storages autograd
really saves for backward), are exact where the model is claimed exact: on CPU, under a PyTorch
release its rules were measured on (`memory.tensors.MEASURED_RELEASES`), for every dtype check
runs. Elsewhere (CUDA: its kernels save otherwise in places, docs/memory.md) they are shown with
their relative error, not as pass/fail, like the lecture's estimates (1 x activations against
the saved bytes; on CUDA 2 x activations + k x params against the peak of a real training step).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch

from ..api import load
from ..conventions import Options
from ..errors import CnnCostError, escape, format_shape
from ..formatting import finite_ratio, human_bytes, sci
from ..counting.training import sdpa_fused
from ..graph import Graph, GraphNode, compile
from ..net import Net
from ..report import build_report
from ..shapes import Shape, numel
from .build import Network, build
from .measure import SavedBytes, TrainPeak, probe, saved_tensors, train_step_peak
from ..memory.tensors import MEASURED_RELEASES, torch_release
from .example_inputs import example_inputs

MERGE_KINDS = ("concat", "add", "mul")  # rows `<block>.<kind>` that a block's merge emits

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
        return finite_ratio(self.diff, self.torch)

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
          init: bool = True, allow_large: bool = False, max_bytes: int | None = None) -> CheckResult:
    """Build `arch` in PyTorch, run it, and compare every figure with the engine's.

    `memory=False` skips the saved-tensor pass and the CUDA training step (exact checks only);
    `init=False` skips weight initialisation (faster; values do not matter for any figure).
    Before anything is allocated, every field and tensor must fit PyTorch's int64 sizes and the
    run's estimated memory (the lecture's rule, 2 x activations + k x params, at the stored dtype)
    must stay below `max_bytes` (default 8 GiB, env CNNCOST_CHECK_MAX_BYTES; on CUDA also the free
    memory), unless `allow_large`. PyTorch's own failures are raised as CnnCostError.

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
        net = net.with_input(input)
    analysis = compile(net)
    half = TORCH_DTYPES[options.dtype] if options.dtype in AUTOCAST else None
    store = torch.float32 if half else TORCH_DTYPES[options.dtype]
    check_torch_limits(analysis, batch, net.source or None)
    if not allow_large:
        check_size(analysis, options, device, store.itemsize, max_bytes, net.source or None,
                   train_step=memory and device.startswith("cuda"))
    with _torch_errors(f"PyTorch could not build {escape(net.name, 100)}", net.source or None):
        model = build(net, init=init)
        model.to(device=device, dtype=store)
        xs = example_inputs(analysis, batch, store, device)
        x = xs if len(xs) > 1 else xs[0]
    with _torch_errors(f"PyTorch could not run {escape(net.name, 100)} at batch {batch}", net.source or None):
        seen = probe(model, x, half)
        flops = seen.flops
        saved = saved_tensors(model, x, half) if memory else None
        peak = train_step_peak(model, x, options.optimizer, half) if memory and device.startswith("cuda") else None
    predicted = _predicted_memory(net, options, device, batch) if memory else None
    # a rebuild cannot share a module's parameters (a `shared` row gets buffer copies: no weight
    # gradient, no autocast cache hit), so what it saves there is information, not a reference
    shares = any(node.type == "shared" for node in analysis.nodes)
    gated = saved_bytes_exact(device) and not shares
    rows = _layer_rows(analysis, model, batch, seen, flops.by_path, saved, predicted, gated)
    rows += _total_rows(analysis, options, model, seen, flops.total, saved, peak, predicted, gated)
    notes = [f"torch {torch.__version__} on {device}; " + ("mixed precision: fp32 params, autocast to "
             f"{options.dtype}" if half else f"params and activations in {options.dtype}"),
             "FLOPs: FlopCounterMode, 2 per multiply-add of conv and matmul ops only "
             "(no bias, norm, pool, activation, LRN or merge FLOPs), the engine's convention; an attention "
             "that runs PyTorch's fused CPU kernel counts 0 (FlopCounterMode has no formula for it)",
             "saved bytes: ours = cnncost.memory's autograd model (--memory autograd); torch = storages "
             "saved for backward (activations, input and autocast weight copies; parameters and buffers "
             "listed apart), each storage counted once, charged to the module that saved it first; "
             + ("exact on CPU (a difference is a mismatch); " if gated else
                "not checked for exactness here (the model is claimed exact on CPU under torch "
                + ", ".join(f"{a}.{b}" for a, b in MEASURED_RELEASES) + "); ")
             + "lecture_saved_bytes = the lecture's 1 x activations (incl. input) against the same measurement"]
    if shares and memory:
        notes.append("saved bytes not gated: the rebuild's shared calls hold copies of their parameters as buffers "
                     "(PyTorch then saves otherwise than with the shared tensors); check --against compares "
                     "with the real network's sharing")
    if peak:
        notes.append("train peak: ours = the autograd model's step peak (train_peak_bytes) and the lecture's "
                     "2 x activations + k x params (lecture_train_peak_bytes); torch = max_memory_allocated "
                     "over one training step after a warm-up step (includes cuDNN workspaces and "
                     "optimizer temporaries)")
    return CheckResult(net.name, batch, device, options.dtype, options.optimizer, rows, notes, saved, peak,
                       flops.by_op)


def saved_bytes_exact(device: str) -> bool:
    """Whether the autograd model's saved bytes are claimed exact for this run: on CPU under a
    PyTorch release whose saved tensors were measured (on CUDA, kernels such as dropout's and
    attention's save otherwise and are not measured)."""
    return device == "cpu" and torch_release(torch.__version__) in MEASURED_RELEASES


def _device(device: str) -> str:
    """cpu, cuda or cuda:N (an existing one); any other device is refused by name."""
    if not isinstance(device, str):
        raise CnnCostError(f"device must be a string like 'cpu' or 'cuda', got {device!r}")
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit() or len(index) > 5)):
        reasons = {"meta": "meta tensors have shapes but no data or memory: every measured figure would be "
                           "meaningless",
                   "mps": "Apple's MPS backend is not supported: its FLOP counting and memory statistics "
                          "differ; use cpu"}
        raise CnnCostError(f"device '{escape(device, 60)}' is refused: "
                           + reasons.get(kind.lower(), "cnncost check runs on cpu or cuda only"))
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise CnnCostError(f"device '{device}' requested but torch.cuda.is_available() is False")
        if index and int(index) >= torch.cuda.device_count():
            raise CnnCostError(f"device '{device}' requested but there are {torch.cuda.device_count()} CUDA devices")
    return device


INT64_MAX = 2**63 - 1
_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
DEFAULT_MAX_BYTES = 8 * 2**30
MAX_BYTES_ENV = "CNNCOST_CHECK_MAX_BYTES"


def _fields(value: Any) -> Iterator[Any]:
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from _fields(item)
    else:
        yield value


def check_torch_limits(graph: Any, batch: int, source: str | None = None) -> None:
    """Every int field of every layer, and every tensor's size at this batch, within int64, which
    is all PyTorch can index; else a one-line CnnCostError naming the layer."""
    for node in graph.nodes:
        layer = getattr(node, "layer", None)
        if layer is not None and dataclasses.is_dataclass(layer):
            for f in dataclasses.fields(layer):
                for value in _fields(getattr(layer, f.name, None)):
                    if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX - 1 <= value <= INT64_MAX:
                        raise CnnCostError(f"field '{f.name}' = {sci(value)} is beyond PyTorch's int64 limit "
                                           f"({INT64_MAX:,})", path=node.path, type_name=node.type, source=source)
        shapes = (node.output_shape, *(getattr(node, "input_shapes", ()) or (node.input_shape,)))
        for shape in shapes:
            elements = batch * numel(shape)
            if elements > INT64_MAX:
                raise CnnCostError(f"a tensor of {sci(elements)} elements (batch {batch} x "
                                   f"{format_shape(shape)}) is beyond PyTorch's int64 limit",
                                   path=node.path, type_name=node.type, source=source)


def estimate_bytes(graph: Any, options: Options, element_size: int, train_step: bool = False) -> int:
    """What a check run may hold at once, from the engine's figures at the stored element size:
    the parameters and every activation of the batch (the input included) for the forward passes;
    for a training step (CUDA, with memory figures) the lecture's rule, 2 x activations + k x params
    (values, gradients, optimizer state)."""
    totals = build_report(graph, options).totals
    if train_step:
        return (2 * totals.activations + options.param_copies * totals.params) * element_size
    return (totals.activations + totals.params) * element_size


def check_size(graph: Any, options: Options, device: str, element_size: int, max_bytes: int | None = None,
               source: str | None = None, train_step: bool = False) -> int:
    """Refuse a run whose estimate exceeds `max_bytes` (or, on CUDA, the device's free memory)."""
    need = estimate_bytes(graph, options, element_size, train_step)
    limit = max_bytes
    if limit is None:
        text = os.environ.get(MAX_BYTES_ENV)
        limit = DEFAULT_MAX_BYTES
        if text:
            from ..reading import parse_size
            try:
                limit = parse_size(text)
            except CnnCostError as error:
                raise CnnCostError(f"{MAX_BYTES_ENV}: {error.problem}") from None
    where = f"the {human_bytes(limit)} limit of cnncost check"
    if device.startswith("cuda") and need <= limit:
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        if need > free:
            limit, where = free, f"the {human_bytes(free)} free on {device}"
    if need > limit:
        rule = (f"2 x activations + {options.param_copies} x params" if train_step
                else "activations + params")
        raise CnnCostError(f"the check needs about {human_bytes(need)} at batch {options.batch} ({rule}), above "
                           f"{where}; use a smaller --batch or --input, or --allow-large "
                           "(check(..., allow_large=True)) to run it anyway", source=source)
    return need


@contextlib.contextmanager
def _torch_errors(what: str, source: str | None) -> Iterator[None]:
    """PyTorch's failures on sizes, memory and values as one-line CnnCostErrors; anything else
    (a bug) goes on to the command line's boundary."""
    try:
        yield
    except CnnCostError:
        raise
    except _OOM:
        raise CnnCostError(f"{what}: out of memory (the estimate before the run was below the limit)",
                           source=source) from None
    except (RuntimeError, ValueError, OverflowError, MemoryError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CnnCostError(f"{what}: {escape(first, 300)}", source=source) from None


def _predicted_memory(net: Net, options: Options, device: str, batch: int) -> tuple[dict[str, int], int]:
    """The autograd model's saved bytes per module path, and its training-step peak."""
    from ..memory import Precision, Setup, step_memory, trace
    traced = trace(net, precision=Precision(options.memory_dtype, "cuda" if device.startswith("cuda") else "cpu",
                                            torch_release(torch.__version__)))
    return traced.saved_by_module(batch), step_memory(traced, Setup(options.optimizer)).peak(batch).at(batch)


def counted_flops(node: GraphNode, batch: int) -> int:
    """2 x MACs, as FlopCounterMode counts them on this PyTorch; 0 for an attention whose fused CPU
    kernel it has no formula for (per-sample rank 3 q, k, v of one head size; torch >= 2.14 rank 2 too)."""
    new = torch_release(torch.__version__) >= (2, 14)
    if node.type == "attention" and sdpa_fused(node, (2, 3) if new else (3,), broadcast=new):
        return 0
    return 2 * node.macs_at(batch)


def _layer_rows(analysis: Graph, model: Network, batch: int, seen, flops: dict[str, int],
                saved: SavedBytes | None, predicted: tuple[dict[str, int], int] | None,
                saved_exact: bool) -> list[CheckRow]:
    modules = dict(model.named_modules())
    saved_by_path = saved.by_path(SAVED_BASIS) if saved else {}
    rows: list[CheckRow] = []
    for leaf in analysis.nodes[1:]:
        path, kind = leaf.path, leaf.type
        owner = path  # merges are modules of their own: a row's module is at its path
        module = modules.get(owner)
        if kind in MERGE_KINDS:  # the block's own work: what is not inside any of its children
            own_params = sum(p.numel() for p in module.parameters(recurse=False)) if module is not None else None
            own_flops = flops.get(owner, 0) - sum(
                flops.get(f"{owner}.{name}", 0) for name in (module._modules if module is not None else ()))
            torch_values: tuple[Any, ...] = (seen.shapes.get(owner), own_params, 0 if module is not None else None,
                                             own_flops)
        else:
            torch_values = (seen.shapes.get(path), seen.params.get(path), seen.macs.get(path),
                            flops.get(path, 0) if module is not None else None)
        ours = (leaf.output_shape, leaf.params, leaf.macs_at(batch),
                counted_flops(leaf, batch))
        rows += [CheckRow(path, kind, q, o, t, True) for q, o, t in zip(EXACT, ours, torch_values)]
        if saved is not None and predicted is not None:
            rows.append(CheckRow(path, kind, "saved_bytes", predicted[0].get(owner, 0),
                                 saved_by_path.get(owner, 0), saved_exact))
    return rows


def _total_rows(analysis: Graph, options: Options, model: Network, seen, flop_total: int,
                saved: SavedBytes | None, peak: TrainPeak | None,
                predicted: tuple[dict[str, int], int] | None, saved_exact: bool) -> list[CheckRow]:
    report = build_report(analysis, options)
    totals, size = report.totals, options.bytes_per_element

    def row(quantity: str, ours: Any, measured: Any, exact: bool = True) -> CheckRow:
        return CheckRow("total", "total", quantity, ours, measured, exact)

    rows = [row("shape", analysis.output_shape, seen.shapes.get("")),
            row("params", totals.params, sum(p.numel() for p in model.parameters())),
            row("macs", totals.macs, sum(seen.macs.values())),
            row("flops", totals.flops - sum(2 * n.macs_at(options.batch)
                                            - counted_flops(n, options.batch) for n in analysis.nodes[1:]),
                flop_total)]
    if saved is not None and predicted is not None:
        rows.append(row("saved_bytes", sum(predicted[0].values()), saved.total(SAVED_BASIS), saved_exact))
        rows.append(row("lecture_saved_bytes", totals.activations * size, saved.total(SAVED_BASIS), False))
        if options.dtype not in AUTOCAST:  # under autocast the weights' low-precision copies are saved instead
            rows.append(row("saved_param_bytes", totals.params * size, saved.total(("parameter",)), False))
    if peak is not None and predicted is not None:
        rows.append(row("forward_retained_bytes", totals.activations * size, peak.after_forward - peak.start, False))
        rows.append(row("train_peak_bytes", predicted[1], peak.peak, False))
        rows.append(row("lecture_train_peak_bytes", totals.memory_bytes, peak.peak, False))
    return rows
