"""`check SPEC --against SOURCE`: a spec compared layer by layer with the real network it stands for.

`cnncost check SPEC` compares a spec with cnncost's own rebuild of that spec, so a wrong spec passes.
This compares it with the reference network itself (`torchvision:NAME`, `timm:NAME`,
`package.module:callable`, an nn.Module, or a `.onnx` file):

1. the reference is imported (`cnncost.importers`), which gives one row per module call and
   functional op, at the module's path, with shapes measured by tracing the real module;
2. for a torch reference the real network is also run: its parameters, its conv/linear MACs
   (forward hooks, per call) and the bytes autograd saves at the batch (train mode, CPU fp32) are
   measured, and the imported reference must equal them (else the reference row is reported as
   unreliable, and the check fails naming it);
3. spec rows are matched with reference rows by path (call suffixes `@k` ignored), and the rows in
   between two path matches by order (by type and shape where the counts differ); each pair is
   compared on output shape, params, MACs and saved bytes (the autograd model's, per row), and the
   totals on params, MACs and saved bytes (the real network's measured total).

The result names the first row that differs and how (`CheckAgainst.first`).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnCostError, format_shape
from ..graph import compile
from ..net import Net
from ..shapes import Shape

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
class RowPair:
    spec_path: str | None
    reference_path: str | None
    spec: dict[str, Any] | None
    reference: dict[str, Any] | None
    matched_by: str  # "path", "order" or "" (unmatched)


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
    def first(self) -> Difference | None:
        return self.differences[0] if self.differences else None

    def summary(self) -> str:
        if self.ok:
            return (f"{self.spec_name} matches {self.reference_name}: {len(self.pairs)} layers, "
                    f"params, MACs and saved bytes at batch {self.batch} equal")
        return (f"{self.spec_name} differs from {self.reference_name}: {self.first.describe()}"  # type: ignore[union-attr]
                + (f" (and {len(self.differences) - 1} more difference(s))" if len(self.differences) > 1 else ""))

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return list(v) if isinstance(v, tuple) else v
        return {"spec": self.spec_name, "reference": self.reference_name, "batch": self.batch, "ok": self.ok,
                "first_difference": self.first.describe() if self.first else None,
                "differences": [{"spec_path": d.spec_path, "reference_path": d.reference_path, "quantity": d.quantity,
                                 "spec": plain(d.spec), "reference": plain(d.reference)} for d in self.differences],
                "totals": {k: {"spec": plain(a), "reference": plain(b)} for k, (a, b) in self.totals.items()},
                "rows": [{"spec_path": p.spec_path, "reference_path": p.reference_path, "matched_by": p.matched_by,
                          "spec": {k: plain(v) for k, v in (p.spec or {}).items()},
                          "reference": {k: plain(v) for k, v in (p.reference or {}).items()}} for p in self.pairs],
                "notes": self.notes}


def check_against(spec: Any, source: Any, *, batch: int = 2, input: Shape | None = None, train: bool = True,
                  allow_unknown: bool = False, saved: bool = True, measure: bool = True) -> CheckAgainst:
    """Compare `spec` (a name, YAML file, Net or ONNX file) with the network `source` (a torch source
    string, an nn.Module or an ONNX file), at the spec's input (or `input`) and `batch`.

    `train` traces and runs the reference in training mode (dropout, stochastic depth, auxiliary
    heads); `saved=False` leaves out saved bytes; `measure=False` skips running the real network
    (the imported reference alone)."""
    from ..importers.sources import is_torch_source, resolve_module
    from ..resolve import kind_of, resolve
    net = resolve(spec)
    if input is not None:
        net = net.with_input(input)
    if net.more_inputs:  # the reference is run on one random input
        raise CnnCostError(f"check --against compares nets with one input; {net.name} has "
                           f"{len(net.named_inputs)} ({', '.join(n for n, _ in net.named_inputs)})")
    shape = tuple(net.input)
    module = None
    kind = kind_of(source)  # the reference must stay a module (it is run), so it is not resolved to a Net
    if is_torch_source(source):
        module, _, name = resolve_module(source)
    elif kind == "module":
        module, name = source, type(source).__name__
    elif kind == "onnx" and isinstance(source, str):
        name = source
    else:
        raise CnnCostError(f"--against needs a network: torchvision:NAME, timm:NAME, package.module:callable "
                           f"or a .onnx file; got {source!r}")
    if module is not None:
        from ..importers.torch_trace import from_torch
        reference = from_torch(module, shape, name=name, allow_unknown=allow_unknown, train=train)
    else:
        from ..importers.onnx_graph import from_onnx
        reference = from_onnx(source, allow_unknown=allow_unknown, input=shape)
    notes: list[str] = []
    spec_rows = _rows(net, batch, saved)
    ref_rows = _rows(reference, batch, saved)
    pairs = _match(spec_rows, ref_rows)
    differences: list[Difference] = []
    for pair in pairs:
        if pair.spec is None or pair.reference is None:
            differences.append(Difference(pair.spec_path, pair.reference_path, "row",
                                          pair.spec and pair.spec["type"], pair.reference and pair.reference["type"]))
            continue
        for q in QUANTITIES:
            if q == "saved_bytes" and not saved:
                continue
            if pair.spec[q] != pair.reference[q]:
                differences.append(Difference(pair.spec_path, pair.reference_path, q, pair.spec[q], pair.reference[q]))
    totals = {q: (sum(r[q] for r in spec_rows), sum(r[q] for r in ref_rows)) for q in ("params", "macs")}
    if saved:
        totals["saved_bytes"] = (sum(r["saved_bytes"] for r in spec_rows), sum(r["saved_bytes"] for r in ref_rows))
    if module is not None and measure:
        real = _measure(module, shape, batch, train, saved)
        notes.append(f"reference measured on the real network at batch {batch} ({'train' if train else 'eval'} mode, "
                     "CPU fp32): parameters, conv/linear MACs by forward hooks"
                     + (", saved bytes by autograd's saved-tensor hooks" if saved else ""))
        for q, value in real.items():
            imported = totals[q][1]
            if value != imported:
                differences.insert(0, Difference(None, "(total)", f"{q} of the imported reference",
                                                 imported, value))
                notes.append(f"the imported reference's {q} ({imported:,}) differ from the real network's "
                             f"({value:,}): the import is not exact for this network")
            totals[q] = (totals[q][0], value)
    for q, (a, b) in totals.items():
        if a != b and not any(d.quantity == q for d in differences):
            differences.append(Difference("(total)", "(total)", q, a, b))
    return CheckAgainst(net.name, str(name), batch, pairs, differences, totals, notes)


def _rows(net: Net, batch: int, saved: bool) -> list[dict[str, Any]]:
    graph = compile(net)
    by_path: dict[str, int] = {}
    if saved:
        from ..memory import Precision, trace
        by_path = {path: b.at(batch) for path, b in trace(graph, precision=Precision("fp32", "cpu")).saved_by_path().items()}
    rows = []
    for node in graph.nodes[1:]:
        if node.type == "identity":  # nothing to compare (no tensor, no counts): an alias or a placeholder
            continue
        rows.append({"path": node.path, "type": node.type, "shape": tuple(node.output_shape), "params": node.params,
                     "macs": node.macs * batch, "saved_bytes": by_path.get(node.path, 0)})
    return rows


def _match(spec: list[dict], ref: list[dict]) -> list[RowPair]:
    """Pairs in spec order. When the two share their paths (a spec imported from the reference, or
    written with its module paths), rows pair by path and the rows between two path pairs by order;
    otherwise all rows pair by order, aligned on type and output shape where a run of rows differs
    in length. Rows left over have no counterpart."""
    ref_index: dict[str, int] = {}
    for j, row in enumerate(ref):
        ref_index.setdefault(row["path"], j)
    anchors: list[tuple[int, int]] = []
    last = -1
    for i, row in enumerate(spec):
        j = ref_index.get(row["path"])
        if j is not None and j > last:
            anchors.append((i, j))
            last = j
    if len(anchors) < 0.9 * max(len(spec), 1):
        return _gap(spec, ref)
    pairs: list[RowPair] = []
    prev_i, prev_j = -1, -1
    for i, j in anchors + [(len(spec), len(ref))]:
        pairs += _gap(spec[prev_i + 1:i], ref[prev_j + 1:j])
        if i < len(spec):
            pairs.append(RowPair(spec[i]["path"], ref[j]["path"], spec[i], ref[j], "path"))
        prev_i, prev_j = i, j
    return pairs


def _gap(spec: list[dict], ref: list[dict]) -> list[RowPair]:
    if len(spec) == len(ref):
        return [RowPair(a["path"], b["path"], a, b, "order") for a, b in zip(spec, ref)]
    sig = lambda r: (r["type"], r["shape"])  # noqa: E731
    matcher = difflib.SequenceMatcher(a=[sig(r) for r in spec], b=[sig(r) for r in ref], autojunk=False)
    out: list[RowPair] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a, b = spec[i1:i2], ref[j1:j2]
        if tag == "equal" or (tag == "replace" and len(a) == len(b)):
            out += [RowPair(x["path"], y["path"], x, y, "order") for x, y in zip(a, b)]
            continue
        n = min(len(a), len(b))
        out += [RowPair(x["path"], y["path"], x, y, "order") for x, y in zip(a[:n], b[:n])]
        out += [RowPair(x["path"], None, x, None, "") for x in a[n:]]
        out += [RowPair(None, y["path"], None, y, "") for y in b[n:]]
    return out


def _measure(module: Any, shape: Shape, batch: int, train: bool, saved: bool) -> dict[str, int]:
    """The real network's parameters, conv/linear MACs (whole batch, per call) and saved bytes."""
    import torch
    from torch import nn
    from .measure import saved_tensors
    states = [m.training for m in module.modules()]
    macs = 0

    def hook(m: nn.Module, args: tuple, out: Any) -> None:
        nonlocal macs
        if isinstance(m, nn.Conv2d):
            macs += out.numel() * m.weight[0].numel()
        elif isinstance(m, nn.ConvTranspose2d):
            kh, kw = m.kernel_size
            macs += args[0].numel() * (m.out_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            macs += out.numel() * m.in_features
    torch.manual_seed(0)
    x = torch.randn(batch, *shape)
    handles = [m.register_forward_hook(hook) for m in module.modules()]
    buffers = {k: v.clone() for k, v in module.state_dict().items()}
    try:
        module.train(train)
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    out = {"params": sum(p.numel() for p in {id(p): p for p in module.parameters()}.values()), "macs": macs}
    if saved and train:  # saved_tensors runs a train-mode pass
        out["saved_bytes"] = saved_tensors(module, x).total()
    module.load_state_dict(buffers)  # a train-mode pass moved the running statistics
    for m, state in zip(module.modules(), states):
        m.training = state
    return out
