"""Whole-batch figures per row and in total: exact ints, no formatting (that is `formatting`)."""
from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from typing import Any

from .conventions import FLOP_CONVENTION, Options
from .engine import Analysis, LayerCost
from .shapes import Shape, numel

NUMERIC_COLUMNS = ("activations", "params", "macs", "flops", "activation_memory_bytes",
                   "param_memory_bytes", "memory_bytes")
# Set by cnncost.counting (table(count_as=..., freeze=...)); a row's key appears only when set.
COUNTING_COLUMNS = ("ops", "backward_flops", "training_flops")


def counting_record(row: Row) -> dict[str, Any]:
    """The counting columns a row has (none unless cnncost.counting set them)."""
    return {key: getattr(row, key) for key in COUNTING_COLUMNS if getattr(row, key) is not None}


@dataclass(frozen=True)
class Row:
    """One displayed row, for the whole batch (params are per model)."""

    name: str
    type: str
    depth: int
    attrs: str
    input_shape: Shape
    output_shape: Shape
    activations: int
    params: int
    macs: int
    flops: int
    activation_memory_bytes: int
    param_memory_bytes: int
    saved_bytes: int | None = None  # only under the 'autograd' memory convention
    # cnncost.counting: a peer tool's count (table(count_as=...)) and one training step's FLOPs
    ops: int | None = None
    backward_flops: int | None = None
    training_flops: int | None = None

    @property
    def memory_bytes(self) -> int:
        return self.activation_memory_bytes + self.param_memory_bytes

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["input_shape"], out["output_shape"] = list(self.input_shape), list(self.output_shape)
        out["memory_bytes"] = self.memory_bytes
        if self.saved_bytes is None:
            del out["saved_bytes"]
        else:
            out["saved_bytes"] = out.pop("saved_bytes")  # after the lecture's keys
        for key in COUNTING_COLUMNS:
            value = out.pop(key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Report:
    """The table of one architecture under one set of options.

    >>> import cnncost
    >>> r = cnncost.table("alexnet", batch=128)
    >>> r.rows[1].name, r.rows[1].output_shape, r.rows[1].params
    ('conv1', (96, 55, 55), 34944)
    """

    architecture: str
    options: Options
    depth: int | None
    rows: tuple[Row, ...]
    totals: Row
    step: Any = None  # cnncost.memory.StepMemory under the 'autograd' memory convention
    counting: dict[str, Any] | None = None  # top-level keys cnncost.counting adds ("count_as", ...)

    @property
    def batch(self) -> int:
        return self.options.batch

    def to_dict(self) -> dict[str, Any]:
        from .formatting import row_record
        out = {
            "architecture": self.architecture,
            "batch": self.options.batch,
            "dtype": self.options.dtype,
            "bytes_per_element": self.options.bytes_per_element,
            "optimizer": self.options.optimizer,
            "param_copies": self.options.param_copies,
            "activation_count": self.options.activations,
            "flop_convention": FLOP_CONVENTION,
            "depth": self.depth,
            "layers": [row_record(row) | counting_record(row) for row in self.rows],
            "total": {key: getattr(self.totals, key) for key in ("input_shape", "output_shape") + NUMERIC_COLUMNS}
            | {"input_shape": list(self.totals.input_shape), "output_shape": list(self.totals.output_shape)},
        }
        out["total"] |= counting_record(self.totals)
        if self.counting:
            out |= self.counting
        if self.step is not None:
            out["memory_convention"] = "autograd"
            out["total"]["saved_bytes"] = self.totals.saved_bytes
            out["training_step"] = self.step_breakdown()
        return out

    def step_breakdown(self) -> dict[str, Any] | None:
        """The peak moment of the step at this batch: what takes how much, in bytes."""
        if self.step is None:
            return None
        moment = self.step.peak(self.batch)
        return {"mode": self.step.mode, "peak_bytes": moment.at(self.batch), "phase": moment.phase,
                "breakdown": {part: size.at(self.batch) for part, size in moment.parts.items()}}

    def to_json(self, indent: int | None = 2) -> str:
        """Exact ints of any size; never NaN or Infinity."""
        from .formatting import dumps
        return dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        from .formatting import csv_table
        return csv_table(self)

    def to_markdown(self) -> str:
        from .formatting import render
        return render(self, "markdown")

    def to_text(self) -> str:
        from .formatting import render
        return render(self, "text")

    def to_dataframe(self) -> Any:
        """A pandas DataFrame with one row per displayed row; a count column is int64 where its
        values and its sum fit in int64, else Python ints (dtype object), never float or uint64."""
        import pandas as pd
        from .formatting import count_column, row_record
        records = [row_record(row) | counting_record(row) for row in self.rows]
        counts = NUMERIC_COLUMNS + (("saved_bytes",) if self.step is not None else ()) + COUNTING_COLUMNS
        columns = list(records[0]) if records else list(counts)
        return pd.DataFrame({key: (count_column([r[key] for r in records]) if key in counts + ("depth",)
                                   else pd.Series([r[key] for r in records], dtype=object))
                             for key in columns})

    def _repr_html_(self) -> str:
        from .formatting import render
        return render(self, "html")

    def __str__(self) -> str:
        return self.to_text()


def build_report(analysis: Analysis, options: Options, depth: int | None = None, step: Any = None) -> Report:
    """Scale per-sample counts to the batch and collapse blocks deeper than `depth`. `step` (a
    `cnncost.memory.StepMemory`, for the 'autograd' memory convention) adds saved bytes.

    One pass over the nodes with plain ints; each Row is made directly (`_row`), not through the
    frozen dataclass's __init__, which costs more than the arithmetic (a table of 70,000 rows)."""
    from ._gcpause import paused_gc
    with paused_gc():
        return _build(analysis, options, depth, step)


def _build(analysis: Analysis, options: Options, depth: int | None, step: Any) -> Report:
    leaves = _counted_leaves(analysis, options)
    costs = _collapse(analysis, leaves, depth)
    batch, size, copies = options.batch, options.bytes_per_element, options.param_copies
    saved = _saved_per_row(analysis, costs, step, batch) if step is not None else None
    rows = []
    for i, cost in enumerate(costs):
        activations = cost.activations * batch
        macs = cost.macs * batch
        path = cost.path
        rows.append(_row(path, cost.type, path.count("."), cost.attrs, cost.input_shape, cost.output_shape,
                         activations, cost.params, macs, 2 * macs,
                         activations * size * (1 if path == "input" else 2), cost.params * size * copies,
                         None if saved is None else saved[i]))
    activations = sum(leaf.activations for leaf in leaves if leaf.path != "input") * batch
    params = sum(leaf.params for leaf in leaves)
    macs = sum(leaf.macs for leaf in leaves) * batch
    # The input is stored once (no gradient), so its memory is added separately.
    input_row = rows[0]
    totals = _row("total", "total", 0, "", analysis.leaves[0].input_shape, analysis.output_shape,
                  activations + input_row.activations, params, macs, 2 * macs,
                  activations * size * 2 + input_row.activation_memory_bytes, params * size * copies,
                  None if step is None else step.trace.saved().at(batch))
    return Report(analysis.name, options, depth, tuple(rows), totals, step)


_FIELDS = ("name", "type", "depth", "attrs", "input_shape", "output_shape", "activations", "params", "macs",
           "flops", "activation_memory_bytes", "param_memory_bytes", "saved_bytes")
_new = object.__new__
_set = object.__setattr__


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Row) if f.default is not dataclasses.MISSING}


def _row(*values: Any) -> Row:
    """Row(*values) without the frozen dataclass's per-field __setattr__ (the same object: every
    field set, those not given at their defaults)."""
    row = _new(Row)
    fields = dict(_DEFAULTS)
    fields.update(zip(_FIELDS, values))
    _set(row, "__dict__", fields)
    return row


def _saved_per_row(analysis: Analysis, costs: list[LayerCost], step: Any, batch: int) -> list[int]:
    """Each row's saved bytes: those of its leaf, or of every leaf under a collapsed block."""
    per_sample, fixed = step.trace._saved_columns()
    nodes = analysis.leaves
    if len(costs) == len(nodes):  # one row per node (no collapsing): step i is node i + 1
        return [0] + [a * batch + c for a, c in zip(per_sample, fixed)]
    names = {cost.path: i for i, cost in enumerate(costs)}
    out = [0] * len(costs)
    for path, a, c in zip((s.path for s in step.trace.steps), per_sample, fixed):
        owner = path
        while owner not in names and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        if owner in names:
            out[names[owner]] += a * batch + c
    return out


def _counted_leaves(analysis: Analysis, options: Options) -> list[LayerCost]:
    """Under 'lecture', folded layers store nothing and each outermost multi-branch block keeps
    only its output tensor, charged to its last leaf."""
    leaves = list(analysis.leaves)
    if options.activations == "all":
        return leaves
    leaves = [leaf if leaf.tabulated else dataclasses.replace(leaf, activations=0) for leaf in leaves]
    modules = [b for b in analysis.blocks if not b.grouping and b.stop > b.first]
    covered_until = 0
    for block in sorted(modules, key=lambda b: (b.first, -b.stop)):
        if block.first >= covered_until:  # not inside an outer module
            covered_until = block.stop
            for i in range(block.first, block.stop):
                leaves[i] = dataclasses.replace(leaves[i], activations=0)
            last = block.stop - 1
            leaves[last] = dataclasses.replace(leaves[last], activations=numel(block.output_shape))
    return leaves


def _collapse(analysis: Analysis, leaves: list[LayerCost], depth: int | None) -> list[LayerCost]:
    """Leaves deeper than `depth` are summed into their ancestor block at that depth."""
    if depth is None:
        return leaves
    spans = {block.path: block for block in analysis.blocks}
    rows: list[LayerCost] = []
    for key, group in itertools.groupby(leaves, key=lambda leaf: _ancestor(leaf.path, depth)):
        members = list(group)
        block = spans.get(key)
        if block is None:
            rows.extend(members)
            continue
        rows.append(LayerCost(block.path, block.type, f"{len(members)} layers", block.input_shape,
                              block.output_shape, sum(m.activations for m in members),
                              sum(m.params for m in members), sum(m.macs for m in members)))
    return rows


def _ancestor(path: str, depth: int) -> str:
    return ".".join(path.split(".")[:depth + 1])
