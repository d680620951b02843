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

    @property
    def batch(self) -> int:
        return self.options.batch

    def to_dict(self) -> dict[str, Any]:
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
            "layers": [row.to_dict() for row in self.rows],
            "total": {key: getattr(self.totals, key) for key in ("input_shape", "output_shape") + NUMERIC_COLUMNS}
            | {"input_shape": list(self.totals.input_shape), "output_shape": list(self.totals.output_shape)},
        }
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
        return json.dumps(self.to_dict(), indent=indent)

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
        """A pandas DataFrame with one row per displayed row; count columns stay int64 or object ints."""
        import pandas as pd
        records = [row.to_dict() for row in self.rows]
        frame = pd.DataFrame.from_records(records)
        for column in NUMERIC_COLUMNS + (("saved_bytes",) if self.step is not None else ()):
            values = frame[column]
            # int64 holds all but absurd batches; beyond it keep Python ints (object) rather than floats.
            if max(abs(v) for v in values) < 2**63:
                frame[column] = values.astype("int64")
        return frame

    def _repr_html_(self) -> str:
        from .formatting import render
        return render(self, "html")

    def __str__(self) -> str:
        return self.to_text()


def build_report(analysis: Analysis, options: Options, depth: int | None = None, step: Any = None) -> Report:
    """Scale per-sample counts to the batch and collapse blocks deeper than `depth`. `step` (a
    `cnncost.memory.StepMemory`, for the 'autograd' memory convention) adds saved bytes."""
    leaves = _counted_leaves(analysis, options)
    rows = [_scale(cost, options, is_input=(cost.path == "input"))
            for cost in _collapse(analysis, leaves, depth)]
    total = _scale(LayerCost("total", "total", "", analysis.leaves[0].input_shape, analysis.output_shape,
                             sum(leaf.activations for leaf in leaves if leaf.path != "input"),
                             sum(leaf.params for leaf in leaves), sum(leaf.macs for leaf in leaves)),
                   options, is_input=False)
    # The input is stored once (no gradient), so its memory is added separately.
    input_row = rows[0]
    totals = dataclasses.replace(total, activations=total.activations + input_row.activations,
                                 activation_memory_bytes=total.activation_memory_bytes
                                 + input_row.activation_memory_bytes)
    if step is not None:
        rows, totals = _with_saved(rows, totals, step, options.batch)
    return Report(analysis.name, options, depth, tuple(rows), totals, step)


def _with_saved(rows: list[Row], totals: Row, step: Any, batch: int) -> tuple[list[Row], Row]:
    """Each row's saved bytes: those of its leaf, or of every leaf under a collapsed block."""
    saved = {path: size.at(batch) for path, size in step.trace.saved_by_path().items()}
    names = {row.name for row in rows}

    def owner(path: str) -> str:
        while path not in names and "." in path:
            path = path.rsplit(".", 1)[0]
        return path

    per_row: dict[str, int] = {}
    for path, size in saved.items():
        per_row[owner(path)] = per_row.get(owner(path), 0) + size
    rows = [dataclasses.replace(row, saved_bytes=per_row.get(row.name, 0)) for row in rows]
    return rows, dataclasses.replace(totals, saved_bytes=step.trace.saved().at(batch))


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


def _scale(cost: LayerCost, options: Options, is_input: bool) -> Row:
    batch, size = options.batch, options.bytes_per_element
    activations = cost.activations * batch
    return Row(
        name=cost.path, type=cost.type, depth=cost.depth, attrs=cost.attrs,
        input_shape=cost.input_shape, output_shape=cost.output_shape,
        activations=activations, params=cost.params,
        macs=cost.macs * batch, flops=2 * cost.macs * batch,
        activation_memory_bytes=activations * size * (1 if is_input else 2),
        param_memory_bytes=cost.params * size * options.param_copies,
    )
