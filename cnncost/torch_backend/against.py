"""`check SPEC --against SOURCE`: a spec compared layer by layer with the real network it stands for.

`cnncost check SPEC` compares a spec with cnncost's own rebuild of that spec, so a wrong spec passes.
This compares it with the reference network itself (`torchvision:NAME`, `timm:NAME`,
`package.module:callable`, an nn.Module, or a `.onnx` file):

1. the reference is imported (`cnncost.importers`), which gives one row per module call and
   functional op, at the module's path, with shapes measured by tracing the real module;
2. for a torch reference the real network is also run: its parameters, its MACs
   (FlopCounterMode's FLOPs / 2, per call) and the bytes autograd saves at the batch (train mode, CPU fp32) are
   measured, and the imported reference must equal them (else the reference row is reported as
   unreliable, and the check fails naming it);
3. spec rows are matched with reference rows by path, then by their place in the graph (type,
   figures and the rows they read), then by order (`row_matching`): a spec that lists its layers
   in another order than the model runs them, or names its ops its own way, still pairs each row
   with its counterpart; each pair is compared on output shape, params, MACs and saved bytes (the
   autograd model's, per row), and the totals on params, MACs and saved bytes (the real network's
   measured total). An opaque row's unknown figures are not compared, and a total they enter is
   unknown (None).

The result names the first row that differs and how (`CheckAgainst.first`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnCostError, format_shape
from ..graph import compile
from ..layers.embedding import ids_inputs
from ..net import Net
from ..shapes import Shape
from .row_matching import RowPair, match, structural_keys

QUANTITIES = ("shape", "params", "macs", "saved_bytes")


@dataclass(frozen=True)
class Difference:
    """One figure of one row that differs (or a row with no counterpart: quantity 'row')."""

    spec_path: str | None
    reference_path: str | None
    quantity: str
    spec: Any
    reference: Any

    def describe(self) -> str:
        if self.quantity == "row":
            if self.spec_path is None:
                return f"the reference's layer '{self.reference_path}' ({self.reference}) has no counterpart in the spec"
            return f"the spec's layer '{self.spec_path}' ({self.spec}) has no counterpart in the reference"
        where = f"layer '{self.spec_path}'" + (f" (reference '{self.reference_path}')"
                                                if self.reference_path != self.spec_path else "")
        show = (lambda v: format_shape(v) if isinstance(v, tuple) else f"{v:,}" if isinstance(v, int) else str(v))
        return f"{where}: {self.quantity} {show(self.spec)} in the spec, {show(self.reference)} in the reference"


@dataclass
class CheckAgainst:
    """The comparison: matched rows, every difference in spec order, totals, notes."""

    spec_name: str
    reference_name: str
    batch: int
    pairs: list[RowPair]
    differences: list[Difference]
    totals: dict[str, tuple[Any, Any]]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def totals_equal(self) -> dict[str, bool | None]:
        """Per total, whether spec and reference agree (None: one side is unknown)."""
        return {q: None if a is None or b is None else a == b for q, (a, b) in self.totals.items()}

    @property
    def first(self) -> Difference | None:
        return self.differences[0] if self.differences else None

    def summary(self) -> str:
        if self.ok:
            names = {"params": "params", "macs": "MACs", "saved_bytes": "saved bytes"}
            equal = [names[q] for q, same in self.totals_equal.items() if same]
            unknown = [names[q] for q, same in self.totals_equal.items() if same is None]
            return (f"{self.spec_name} matches {self.reference_name}: {len(self.pairs)} layers, "
                    f"{_listed(equal)} at batch {self.batch} equal"
                    + (f"; {_listed(unknown)} unknown (opaque rows)" if unknown else ""))
        return (f"{self.spec_name} differs from {self.reference_name}: {self.first.describe()}"  # type: ignore[union-attr]
                + (f" (and {len(self.differences) - 1} more difference(s))" if len(self.differences) > 1 else ""))

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return list(v) if isinstance(v, tuple) else v
        return {"spec": self.spec_name, "reference": self.reference_name, "batch": self.batch, "ok": self.ok,
                "first_difference": self.first.describe() if self.first else None,
                "differences": [{"spec_path": d.spec_path, "reference_path": d.reference_path, "quantity": d.quantity,
                                 "spec": plain(d.spec), "reference": plain(d.reference)} for d in self.differences],
                "totals": {k: {"spec": plain(a), "reference": plain(b), "equal": self.totals_equal[k]}
                           for k, (a, b) in self.totals.items()},
                "rows": [{"spec_path": p.spec_path, "reference_path": p.reference_path, "matched_by": p.matched_by,
                          "spec": _shown(p.spec), "reference": _shown(p.reference)} for p in self.pairs],
                "notes": self.notes}


def _listed(names: list[str]) -> str:
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


ROW_FIELDS = ("path", "type", "shape", "params", "macs", "saved_bytes")


def _shown(row: dict[str, Any] | None) -> dict[str, Any]:
    """A row as JSON shows it: its figures, and the names of those that are unknown (not 0)."""
    if row is None:
        return {}
    out = {k: list(row[k]) if isinstance(row[k], tuple) else row[k] for k in ROW_FIELDS}
    for q in row["unknown"]:
        out[q] = None
    if row["unknown"]:
        out["unknown"] = sorted(row["unknown"])
    return out


def check_against(spec: Any, source: Any, *, batch: int = 2, input: Shape | None = None, train: bool = True,
                  allow_unknown: bool = False, saved: bool = True, measure: bool = True) -> CheckAgainst:
    """Compare `spec` (a name, YAML or Python spec file, Net or ONNX file) with the network `source`
    (a torch source string, `FILE.py:callable`, an nn.Module or an ONNX file), at the spec's input
    (or `input`) and `batch`.

    `train` traces and runs the reference in training mode (dropout, stochastic depth, auxiliary
    heads); `allow_unknown` imports what cnncost does not know on either side as opaque rows (their
    unknown figures are not compared); `saved=False` leaves out saved bytes; `measure=False` skips
    running the real network (the imported reference alone)."""
    from ..resolve import resolve
    net = resolve(spec, input=input, allow_unknown=allow_unknown)
    if input is not None:
        net = net.with_input(input)
    if net.more_inputs:  # the reference is run on one random input
        raise CnnCostError(f"check --against compares nets with one input; {net.name} has "
                           f"{len(net.named_inputs)} ({', '.join(n for n, _ in net.named_inputs)})")
    shape = tuple(net.input)
    module, reference, name = _reference(source, shape, allow_unknown, train)
    notes: list[str] = []
    spec_rows = _rows(net, batch, saved)
    ref_rows = _rows(reference, batch, saved)
    pairs = match(spec_rows, ref_rows)
    differences: list[Difference] = []
    for pair in pairs:
        if pair.spec is None or pair.reference is None:
            differences.append(Difference(pair.spec_path, pair.reference_path, "row",
                                          pair.spec and pair.spec["type"], pair.reference and pair.reference["type"]))
            continue
        for q in QUANTITIES:
            if q == "saved_bytes" and not saved:
                continue
            if q in pair.spec["unknown"] or q in pair.reference["unknown"]:
                continue  # an opaque row's figure is unknown: nothing to compare
            if pair.spec[q] != pair.reference[q]:
                differences.append(Difference(pair.spec_path, pair.reference_path, q, pair.spec[q], pair.reference[q]))
    totals = {q: (_total(spec_rows, q), _total(ref_rows, q)) for q in ("params", "macs") + (("saved_bytes",) if saved else ())}
    if module is not None and measure:
        real = _measure(module, shape, batch, train, saved, ids_inputs(compile(reference)).get(0))
        notes.append(f"reference measured on the real network at batch {batch} ({'train' if train else 'eval'} mode, "
                     "CPU fp32): parameters, MACs by FlopCounterMode (FLOPs / 2)"
                     + (", saved bytes by autograd's saved-tensor hooks" if saved else ""))
        for q, value in real.items():
            imported = totals[q][1]
            if imported is not None and value != imported:
                differences.insert(0, Difference(None, "(total)", f"{q} of the imported reference",
                                                 imported, value))
                notes.append(f"the imported reference's {q} ({imported:,}) differ from the real network's "
                             f"({value:,}): the import is not exact for this network")
            totals[q] = (totals[q][0], value)
    for q, (a, b) in totals.items():
        if a is not None and b is not None and a != b and not any(d.quantity == q for d in differences):
            differences.append(Difference("(total)", "(total)", q, a, b))
    for side, side_net in (("spec", net), ("reference", reference)):
        notes += [f"the {side}: {line}" for line in side_net.warnings]
    for side, rows in (("spec", spec_rows), ("reference", ref_rows)):
        opaque = [r["path"] for r in rows if r["unknown"]]
        if opaque:
            notes.append(f"the {side}'s opaque row(s) {', '.join(opaque[:5])}{', ...' if len(opaque) > 5 else ''} "
                         "have unknown figures: not compared, and the totals they enter are unknown")
    return CheckAgainst(net.name, str(name), batch, pairs, differences, totals, notes)


def _reference(source: Any, shape: Shape, allow_unknown: bool, train: bool) -> tuple[Any, Net, str]:
    """(the module to run or None, the imported reference Net, its name) for a reference argument."""
    from ..importers.sources import resolve_module
    from ..resolve import kind_of
    kind = kind_of(source)  # the reference must stay a module (it is run), so it is not resolved to a Net
    module: Any = None
    if kind == "torch":
        module, _, name = resolve_module(source)
    elif kind == "module":
        module, name = source, type(source).__name__
    elif kind == "python":
        from ..pyspec import load_python_object, split_python_spec
        obj = load_python_object(source, input=shape)
        if isinstance(obj, Net):
            return None, obj, obj.name
        module, name = obj, split_python_spec(source)[1].rpartition(".")[2]  # type: ignore[index]
    elif kind == "onnx" and isinstance(source, (str, os.PathLike)):
        from ..importers.onnx_graph import from_onnx
        return None, from_onnx(os.fspath(source), allow_unknown=allow_unknown, input=shape), os.fspath(source)
    else:
        raise CnnCostError(f"--against needs a network: torchvision:NAME, timm:NAME, package.module:callable, "
                           f"FILE.py:callable or a .onnx file; got {source!r}")
    from ..importers.torch_trace import from_torch
    return module, from_torch(module, shape, name=name, allow_unknown=allow_unknown, train=train), name


def _total(rows: list[dict[str, Any]], quantity: str) -> int | None:
    """The sum over the rows, or None (unknown) when an opaque row's figure is unknown."""
    if any(quantity in r["unknown"] for r in rows):
        return None
    return sum(r[quantity] for r in rows)


def _rows(net: Net, batch: int, saved: bool) -> list[dict[str, Any]]:
    """One dict per compared node: path, type, figures, the names of its unknown figures, and the
    rows it reads (`inputs`: row indices, negative for a network input) for the structural match."""
    graph = compile(net)
    by_path: dict[str, int] = {}
    if saved:
        import torch
        from ..memory import Precision, trace
        from ..memory.tensors import torch_release
        precision = Precision("fp32", "cpu", torch_release(torch.__version__))  # the release that measures the reference
        by_path = {path: b.at(batch) for path, b in trace(graph, precision=precision).saved_by_path().items()}
    rows: list[dict[str, Any]] = []
    row_of: dict[int, tuple[int, ...]] = {}  # graph node -> the rows it stands for (an identity: its inputs')
    for k, node in enumerate(graph.nodes):
        if node.type == "input":
            row_of[k] = (-1 - k,)
            continue
        reads = tuple(r for i in node.inputs for r in row_of.get(i, ()))
        if node.type == "identity":  # nothing to compare (no tensor, no counts): an alias or a placeholder
            row_of[k] = reads
            continue
        unknown = _unknown(node)
        row_of[k] = (len(rows),)
        rows.append({"path": node.path, "type": node.type, "shape": tuple(node.output_shape), "params": node.params,
                     "macs": node.macs_at(batch), "saved_bytes": by_path.get(node.path, 0), "unknown": unknown,
                     "inputs": reads})
    structural_keys(rows)
    return rows


def _unknown(node: Any) -> frozenset[str]:
    """The compared figures an opaque node cannot give (`Layer.counts_unknown`)."""
    names = getattr(node.layer, "counts_unknown", ()) or ()
    return frozenset(q for q in ("macs", "saved_bytes") if q in names)


def _measure(module: Any, shape: Shape, batch: int, train: bool, saved: bool,
             ids: int | None = None) -> dict[str, int]:
    """The real network's parameters, MACs (FlopCounterMode's FLOPs / 2 over one forward, whole
    batch: convolutions whatever holds their weights, matrix products) and saved bytes; its input
    random ids below `ids` where it holds ids (an input only embeddings read), else random floats."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from .measure import saved_tensors
    states = [m.training for m in module.modules()]
    torch.manual_seed(0)
    x = torch.randn(batch, *shape) if ids is None else torch.randint(0, ids, (batch, *shape))
    buffers = {k: v.clone() for k, v in module.state_dict().items()}
    counter = FlopCounterMode(display=False)
    try:
        module.train(train)
        with torch.no_grad(), counter:
            module(x)
    finally:
        for m, state in zip(module.modules(), states):
            m.training = state
    out = {"params": sum(p.numel() for p in {id(p): p for p in module.parameters()}.values()),
           "macs": counter.get_total_flops() // 2}
    if saved and train:  # saved_tensors runs a train-mode pass
        out["saved_bytes"] = saved_tensors(module, x).total()
    module.load_state_dict(buffers)  # a train-mode pass moved the running statistics
    for m, state in zip(module.modules(), states):
        m.training = state
    return out
