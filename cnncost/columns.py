"""The column registry: every figure a report, a comparison, a zoo frame, a sweep or a search
shows, declared once (torchinfo's column enum, torch's flop_counter registry).

A `Column` says how its value follows from the cost pass's *quantities* (`cnncost.costs`): a
`formula` over a `q` whose attributes are the per-sample sums of the nodes a row stands for
(`stored`, `input`, `params`, `macs`, `backward`, `saved_per_sample`, `saved_per_step`, `ops`)
and the configuration (`batch`, `element_bytes`, `param_copies`). The same formula runs on Python
ints for a table row or its total and on numpy arrays for a sweep, so a sweep equals the table by
construction. Every output reads the registry: keys and order of JSON, CSV and DataFrames, text
headers and formats, what compare and zoo_frame show, a sweep's columns and a search's budgets.

Per sample, per batch, per model or per step is what the formula says: `macs * batch` for a
whole batch, `params` alone per model, `saved_per_sample * batch + saved_per_step` for saved bytes;
per image (`Report.to_dataframe(per_image=True)`) every formula runs at batch 1, or `per_image`.
Rows and totals never sum figures: the quantities are summed (over a row's nodes, over all nodes)
and each figure's formula applied to the sums, so the input counted once in memory, a collapsed
block and the total all follow from the one formula.

Order: `COLUMNS` is the declaration order (text columns: counts, then bytes; a sweep's columns;
the order of `unknown` lists); records (JSON, CSV, DataFrame) go section by section (`SECTIONS`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

SECTIONS = ("lecture", "autograd", "extra")  # records: the lecture's figures, saved bytes, then the rest
STYLES = ("si", "grouped", "bytes", "seconds", "text")  # text: '1.14 G', '62,378,344', a binary unit per
# column, '12.3 ms' (a float: the time model's), a word (what bounds a row)


@dataclass(frozen=True)
class Column:
    """One figure. `formula(q)` is exact integer arithmetic: sums and products of the quantities
    (non-decreasing in each, which a sweep relies on to bound int64; else `monotone=False`)."""

    name: str  # the JSON, CSV, DataFrame and sweep key
    formula: Callable[[Any], Any]
    style: str = "si"  # how a human table prints it (STYLES)
    header: str | None = None  # the human table's header; None: not in the human table
    section: str = "lecture"
    needs: tuple[str, ...] = ()  # optional quantities it reads: present only where those are
    unknown_if: tuple[str, ...] = ()  # unknown when a layer does not know one of these (or itself)
    unknowable: bool = False  # a layer may not know it (`counts_unknown`)
    summary: int | None = None  # position among compare's and zoo_frame's totals; None: not there
    hidden_by: str | None = None  # human table: not shown when this other figure is present
    per_image: Callable[[Any], Any] | None = None  # per image, where not the formula at batch 1
    per_image_only: bool = False  # a column of per-image DataFrames only
    per_row: bool = True  # False: a whole-step figure (sweeps and searches)
    in_sweep: bool = True  # False: needs the graph at a batch (a tool's count)
    monotone: bool = True
    unit: str = "count"  # count, params, MACs, FLOPs, bytes, or the tool's unit
    compare_text: bool = True  # in the human table of a comparison (when a summary figure)
    label: str = ""  # what a sentence calls it ('backward FLOPs'); default its header, else its name
    training: bool = False  # a figure of training (left out of inference reports: `costs.present_columns`)

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.header or self.name)
        if self.style not in STYLES:
            raise ValueError(f"column {self.name!r}: style must be one of {STYLES}")
        if self.section not in SECTIONS:
            raise ValueError(f"column {self.name!r}: section must be one of {SECTIONS}")


COLUMNS: dict[str, Column] = {}


def register(column: Column) -> Column:
    """Add a figure to every output (after the others of its section); its name must be new."""
    if column.name in COLUMNS:
        raise ValueError(f"a column named {column.name!r} is already registered")
    COLUMNS[column.name] = column
    return column


def unregister(name: str) -> None:
    """Remove a figure added with `register` (a test's own figure)."""
    del COLUMNS[name]


def _activation_bytes(q: Any) -> Any:
    """The lecture's rule: 2 x activations (forward value and gradient), the input once."""
    return (2 * q.stored + q.input) * (q.batch * q.element_bytes)  # the configuration's factors first


def _param_bytes(q: Any) -> Any:
    return q.params * (q.element_bytes * q.param_copies)


def _once(v: Any) -> Any:
    """A per-forward quantity, 0 where the net has none (`Quantities.fixed_macs`)."""
    return 0 if v is None else v


def _macs(q: Any) -> Any:
    """Per sample x batch, plus what is done once per forward whatever the batch."""
    return q.macs * q.batch + _once(q.fixed_macs)


def _backward(q: Any) -> Any:
    return q.backward * q.batch + _once(q.fixed_backward)


_MACS = ("macs", "flops")
for _column in (
    Column("activations", lambda q: (q.stored + q.input) * q.batch, header="activations", summary=3,
           compare_text=False),
    Column("params", lambda q: q.params, "grouped", "params", summary=0, unit="params"),
    Column("macs", _macs, header="MACs", unknowable=True, unknown_if=_MACS, summary=1, unit="MACs",
           per_image=lambda q: q.macs),
    Column("flops", lambda q: 2 * _macs(q), header="FLOPs", unknowable=True, unknown_if=_MACS,
           summary=2, unit="FLOPs", per_image=lambda q: 2 * q.macs),
    Column("activation_memory_bytes", _activation_bytes, "bytes", "act. mem", hidden_by="saved_bytes",
           summary=4, unit="bytes", training=True),
    Column("param_memory_bytes", _param_bytes, "bytes", "param mem", hidden_by="saved_bytes", summary=5,
           compare_text=False, unit="bytes", training=True),
    Column("memory_bytes", lambda q: _activation_bytes(q) + _param_bytes(q), "bytes", "memory",
           hidden_by="saved_bytes", summary=6, unit="bytes", training=True),
    Column("ops", lambda q: q.ops, header="ops", section="extra", needs=("ops",), unknowable=True,
           unknown_if=_MACS, in_sweep=False, unit="ops"),
    Column("backward_flops", _backward, section="extra", unknowable=True, unknown_if=_MACS,
           unit="FLOPs", label="backward FLOPs", per_image=lambda q: q.backward, training=True),
    Column("training_flops", lambda q: 2 * _macs(q) + _backward(q) + _once(q.recompute) * q.batch, section="extra",
           unknowable=True, unknown_if=_MACS, unit="FLOPs", label="training FLOPs",
           per_image=lambda q: 2 * q.macs + q.backward + _once(q.recompute), training=True),
    Column("recompute_flops", lambda q: q.recompute * q.batch, section="extra", needs=("recompute",), unknowable=True,
           unknown_if=_MACS, in_sweep=False, unit="FLOPs", label="recompute FLOPs", per_image=lambda q: q.recompute, training=True),
    Column("fixed_macs", lambda q: q.fixed_macs, section="extra", needs=("fixed_macs",), unknowable=True,
           unknown_if=_MACS, in_sweep=False, unit="MACs", label="MACs once per forward"),
    Column("saved_bytes", lambda q: q.saved_per_sample * q.batch + q.saved_per_step, "bytes", "saved",
           section="autograd", needs=("saved",), unknowable=True, per_image=lambda q: q.saved_per_sample,
           unit="bytes", label="saved bytes"),
    Column("saved_bytes_per_step", lambda q: q.saved_per_step, "bytes", section="extra", needs=("saved",),
           per_image_only=True, in_sweep=False, unit="bytes"),
    Column("peak_bytes", lambda q: q.peak, "bytes", section="autograd", needs=("saved",), per_row=False,
           unit="bytes"),
    # inference (memory/inference.py): bytes held while the row runs, everything included; a
    # collapsed block and the total: the largest of their rows (the total is the pass's peak)
    Column("live_bytes", lambda q: q.live, "bytes", "live", section="extra", needs=("live",), in_sweep=False,
           unit="bytes", label="live bytes"),
):
    register(_column)


def _bound(q: Any) -> Any:
    """What holds most of a row's time (expected estimate): compute, memory or launch; per row
    for a table's `Elementwise` lists."""
    def one(compute: float, memory: float, launch: float) -> str:
        if not (compute or memory or launch):
            return ""
        return "compute" if compute >= memory and compute >= launch else "memory" if memory >= launch else "launch"
    if isinstance(q.compute_seconds, list):
        return [one(*t) for t in zip(q.compute_seconds, q.memory_seconds, q.launch_seconds)]
    return one(q.compute_seconds, q.memory_seconds, q.launch_seconds)


# The time model's per-row figures (a table with --hardware; `cnncost.timing`): seconds at the report's
# batch (floats), expected estimate; a lower bound where a layer's MACs are unknown
for _column in (
    Column("forward_seconds", lambda q: q.forward_seconds, "seconds", "fwd time", section="extra",
           needs=("timing",), unknowable=True, unknown_if=_MACS, in_sweep=False, unit="seconds",
           label="forward seconds"),
    Column("backward_seconds", lambda q: q.backward_seconds, "seconds", "bwd time", section="extra",
           needs=("timing",), unknowable=True, unknown_if=_MACS, in_sweep=False, unit="seconds",
           label="backward seconds"),
    Column("bound", _bound, "text", "bound", section="extra", needs=("timing",), in_sweep=False, unit="bound",
           monotone=False, label="what bounds the time"),
):
    register(_column)


def row_columns(present: Callable[[Column], bool] | None = None) -> tuple[Column, ...]:
    """The per-row figures in record order (section by section), those `present` accepts."""
    return tuple(c for section in SECTIONS for c in COLUMNS.values()
                 if c.section == section and c.per_row and (present is None or present(c)))


def summary_columns() -> tuple[Column, ...]:
    """The totals compare and zoo_frame show, in their order; registered figures without a
    position after them."""
    placed = sorted((c for c in COLUMNS.values() if c.summary is not None and c.per_row), key=lambda c: c.summary or 0)  # (not None: filtered)
    extra = [c for c in COLUMNS.values() if c.summary is None and c.per_row and not c.needs
             and c.section == "lecture"]
    return tuple(placed + extra)


def sweep_columns(autograd: bool) -> tuple[Column, ...]:
    """A sweep's count columns, in declaration order (under autograd also saved and peak bytes)."""
    return tuple(c for c in COLUMNS.values() if c.in_sweep and (autograd or not c.needs))


def unknown_names(declared: Any) -> tuple[str, ...]:
    """A layer's `counts_unknown` widened to the figures that derive from them (MACs unknown:
    FLOPs, ops, backward and training FLOPs too), in declaration order; other names after."""
    names = set(declared or ())
    names |= {c.name for c in COLUMNS.values() if c.unknowable and names & set(c.unknown_if)}
    return ordered_union([names])


def ordered_union(parts: Any) -> tuple[str, ...]:
    """The names in any of `parts`: the unknowable figures in declaration order, others sorted after."""
    names: set[str] = set().union(*parts) if parts else set()
    first = tuple(c.name for c in COLUMNS.values() if c.unknowable and c.name in names)
    return first + tuple(sorted(names - set(first)))


# --- choosing the columns an output shows (`cnncost.table(columns=...)`, `--columns`) ---

ROW_IDENTITY = {"name": "the row's path (always shown, first)", "type": "the layer type",
                "depth": "the row's depth in the block tree", "attrs": "kernel/stride/padding and options",
                "input_shape": "its input's per-sample shape", "output_shape": "its output's per-sample shape"}


NEEDS_HINT = {"saved": "memory='autograd', --memory autograd", "ops": "count_as=, --count-as",
              "timing": "hardware=, --hardware", "live": "mode='inference', --mode inference",
              "recompute": "checkpoint=, --checkpoint"}  # which option adds a `needs` quantity


def column_names(names: Any) -> tuple[str, ...]:
    """'params, macs' or ['params', 'macs'] as ('params', 'macs'): in the order given, each once."""
    parts = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for part in parts:
        name = str(part).strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def select_columns(names: Any, available: Any, what: str = "this report") -> tuple[str, ...]:
    """The columns `names` asks for, checked against `available` (the names an output can show);
    an unknown name or one the output lacks: one line naming it (with the closest names)."""
    from .errors import CnnCostError, escape
    chosen = column_names(names)
    if not chosen:
        raise CnnCostError("columns: name at least one column (`--columns help` lists them)")
    offered = tuple(available)
    for name in chosen:
        if name in offered:
            continue
        import difflib
        close = difflib.get_close_matches(name, list(ROW_IDENTITY) + list(COLUMNS), n=3, cutoff=0.6)
        if name in ROW_IDENTITY or name in COLUMNS:
            needs = COLUMNS[name].needs if name in COLUMNS else ()
            given = "".join(f" (given by {NEEDS_HINT[n]})" for n in needs[:1] if n in NEEDS_HINT)
            raise CnnCostError(f"column '{name}' is not in {what}{given}; its columns: {', '.join(offered)}")
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise CnnCostError(f"unknown column '{escape(name, 60)}'{hint} (`--columns help` lists them)")
    return chosen


def columns_help() -> str:
    """Every name `--columns` takes, one a line, with what it holds (`--columns help`)."""
    lines = ["Columns (comma-separated, in the order to show; the layer's name always comes first):"]
    width = max(len(name) for name in (*ROW_IDENTITY, *COLUMNS))
    lines += [f"  {name:<{width}}  {text}" for name, text in ROW_IDENTITY.items()]
    lines += [f"  {c.name:<{width}}  {c.label}{'' if c.unit in c.label else f' ({c.unit})'}"
              for c in COLUMNS.values() if c.per_row and not c.per_image_only]
    lines += ["A report has the figures its options give: saved_bytes with --memory autograd, ops with --count-as,",
              "the times and bound with --hardware, live_bytes with --mode inference."]
    return "\n".join(lines)
