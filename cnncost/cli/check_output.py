"""What `cnncost check` prints: the per-layer comparison of the engine's figures with PyTorch's
measurements (and, `--against`, the spec's totals and differences beside the reference's) as a
table (text, markdown), CSV or JSON."""
from __future__ import annotations

from ..errors import format_shape
from ..formatting import binary_bytes, byte_unit, csv_line, dumps, fixed, grouped, in_unit, si, text_cell
from ..torch_backend.against import CheckAgainst
from ..torch_backend.check import EXACT, CheckResult, CheckRow

TABLEFMT = {"text": "simple", "markdown": "github"}
LAYER_HEADERS = ("layer", "type", "output", "params", "MACs", "FLOPs", "saved MB ours", "saved MB torch",
                 "check")


def versioned(data: dict) -> dict:
    """The JSON contract's version first (docs/output.md), then the result's own fields."""
    from ..conventions import SCHEMA_VERSION
    return {"schema_version": SCHEMA_VERSION, **{k: v for k, v in data.items() if k != "schema_version"}}


def render(result: CheckResult, fmt: str) -> str:
    if fmt == "json":
        return dumps(versioned(result.to_dict()), indent=2)
    if fmt == "csv":
        return to_csv(result).rstrip("\n")
    return to_table(result, fmt)


def to_csv(result: CheckResult) -> str:
    columns = ("path", "type", "quantity", "ours", "torch", "diff", "rel_error", "status")
    lines = [csv_line(list(columns))]
    for row in result.rows:
        data = row.to_dict()
        lines.append(csv_line([_plain(data[k]) for k in columns]))
    return "".join(lines)


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return format_shape(tuple(value))
    return "" if value is None else value


def _cell(row: CheckRow) -> str:
    ours = _show(row.ours, row.quantity)
    return ours if row.status == "ok" else f"{ours} != {_show(row.torch, row.quantity)}"


def _show(value: object, quantity: str) -> str:
    if value is None:
        return "missing"
    if isinstance(value, tuple):
        return format_shape(value)
    if quantity == "params":
        return grouped(value)  # type: ignore[arg-type]  # a count of params: an int
    return si(value) if isinstance(value, int) else str(value)


def _in(value: int | None, factor: int) -> str:
    return "" if value is None else in_unit(value, factor)


def _rel(row: CheckRow) -> str:
    """(torch - ours) / torch as a signed percentage, from the exact ints."""
    if row.diff is None or not row.torch:
        return ""
    text = fixed(100 * row.diff, row.torch, 1)
    return f"{text}%" if text.startswith("-") else f"+{text}%"


def to_table(result: CheckResult, fmt: str) -> str:
    from tabulate import tabulate
    by_path: dict[str, dict[str, CheckRow]] = {}
    for row in result.rows:
        if row.path != "total":
            by_path.setdefault(row.path, {})[row.quantity] = row
    saved_values = [v for q in by_path.values() if "saved_bytes" in q
                    for v in (q["saved_bytes"].ours, q["saved_bytes"].torch) if v is not None]
    factor, unit = byte_unit(saved_values)  # one unit per column, scaled to its largest value
    headers = [h.replace("MB", unit) for h in LAYER_HEADERS]
    body = []
    for path, quantities in by_path.items():
        saved = quantities.get("saved_bytes")
        bad = [q for q in (*EXACT, "saved_bytes") if q in quantities and quantities[q].status == "mismatch"]
        body.append([text_cell(path, fmt), text_cell(quantities["shape"].type, fmt), *(_cell(quantities[q]) for q in EXACT),
                     _in(saved.ours, factor) if saved else "", _in(saved.torch, factor) if saved else "",
                     "MISMATCH " + ",".join(bad) if bad else "ok"])
    layers = tabulate(body, headers=headers, tablefmt=TABLEFMT[fmt], disable_numparse=True)
    totals = tabulate([[row.quantity, _total(row.ours, row.quantity), _total(row.torch, row.quantity),
                        _total(row.diff, row.quantity) if row.diff is not None else "", _rel(row), row.status]
                       for row in result.totals],
                      headers=("total", "ours", "torch", "diff", "rel. error", "check"),
                      tablefmt=TABLEFMT[fmt], disable_numparse=True)
    verdict = ("all exact quantities agree" if result.ok else
               f"{len(result.mismatches)} MISMATCHES in exact quantities")
    title = (f"cnncost check {text_cell(result.architecture, fmt)}: batch {result.batch}, {result.dtype}, "
             f"{result.device}, optimizer {result.optimizer}: {verdict}")
    extra = []
    if result.saved is not None:
        kinds = ", ".join(f"{k} {binary_bytes(v)}" for k, v in result.saved.by_kind().items() if v)
        dtypes = ", ".join(f"{k} {binary_bytes(v)}" for k, v in result.saved.by_dtype().items())
        extra.append(f"Saved for backward by kind: {kinds}; by dtype: {dtypes} (KiB, MiB, GiB = 2^10, 2^20, 2^30 B)")
    notes = "\n".join(f"- {note}" for note in result.notes + extra)
    return f"{title}\n\n{layers}\n\n{totals}\n\nNotes:\n{notes}"


def _total(value: object, quantity: str) -> str:
    if value is None:
        return "missing"
    if isinstance(value, tuple):
        return format_shape(value)
    if quantity.endswith("bytes"):
        return binary_bytes(value)  # type: ignore[arg-type]  # bytes: an int
    return grouped(value) if isinstance(value, int) else str(value)


AGAINST_QUANTITIES = {"params": "params", "macs": "MACs", "saved_bytes": "saved bytes"}


def render_against(result: CheckAgainst, fmt: str) -> str:
    """`check --against`: the verdict, the totals side by side (equal or not, unknown where an opaque
    row enters them), every difference by row, the notes."""
    if fmt == "json":
        return dumps(versioned(result.to_dict()), indent=2)
    totals = [(AGAINST_QUANTITIES.get(q, q), _against_value(a, q), _against_value(b, q), _equal(result.totals_equal[q]))
              for q, (a, b) in result.totals.items()]
    differences = [(d.spec_path or "", d.reference_path or "", d.quantity, _against_value(d.spec, d.quantity),
                    _against_value(d.reference, d.quantity)) for d in result.differences]
    if fmt == "csv":
        lines = [csv_line(["section", "spec_path", "reference_path", "quantity", "spec", "reference", "equal"])]
        lines += [csv_line(["total", "", "", q, _plain(a), _plain(b), result.totals_equal[q]])
                  for q, (a, b) in result.totals.items()]
        lines += [csv_line(["difference", d.spec_path or "", d.reference_path or "", d.quantity, _plain(d.spec),
                            _plain(d.reference), False]) for d in result.differences]
        return "".join(lines).rstrip("\n")
    from tabulate import tabulate
    parts = [text_cell(result.summary(), fmt),
             tabulate(totals, headers=("total", "spec", "reference", "equal"), tablefmt=TABLEFMT[fmt],
                      disable_numparse=True, colalign=("left", "right", "right", "left"))]
    if differences:
        parts.append(tabulate([[text_cell(str(c), fmt) for c in row] for row in differences],
                              headers=("spec layer", "reference layer", "differs in", "spec", "reference"),
                              tablefmt=TABLEFMT[fmt], disable_numparse=True))
    if result.notes:
        parts.append("Notes:\n" + "\n".join(f"- {note}" for note in result.notes))
    return "\n\n".join(parts)


def _against_value(value: object, quantity: str) -> str:
    if value is None:
        return "unknown" if quantity in AGAINST_QUANTITIES else "none"
    if isinstance(value, tuple):
        return format_shape(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{grouped(value)} B" if quantity.startswith("saved_bytes") else grouped(value)
    return str(value)


def _equal(flag: bool | None) -> str:
    return "unknown" if flag is None else "yes" if flag else "NO"
