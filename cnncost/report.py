"""Whole-batch figures per row and in total: exact ints, no formatting (that is `formatting`)."""
from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from .conventions import FLOP_CONVENTION, SCHEMA_VERSION, Options
from .engine import Analysis, LayerCost
from .shapes import Shape, numel

NUMERIC_COLUMNS = ("activations", "params", "macs", "flops", "activation_memory_bytes",
                   "param_memory_bytes", "memory_bytes")
# Set by cnncost.counting (table(count_as=..., freeze=...)); a row's key appears only when set.
COUNTING_COLUMNS = ("ops", "backward_flops", "training_flops")
# Figures a layer may not know (a layer class's `counts_unknown`, e.g. an importer's opaque node),
# in output order; MACs unknown makes every figure derived from them unknown too.
UNKNOWABLE = ("macs", "flops", "ops", "backward_flops", "training_flops", "saved_bytes")
_FROM_MACS = ("macs", "flops", "ops", "backward_flops", "training_flops")
# Columns proportional to the batch (per-sample ints x batch in the engine): divided exactly per image.
PER_SAMPLE_COLUMNS = ("activations", "macs", "flops", "activation_memory_bytes", "backward_flops",
                      "training_flops")


def counting_record(row: Row) -> dict[str, Any]:
    """The counting columns a row has (none unless cnncost.counting set them), unknown ones null;
    then, for a row with unknown figures, `unknown`: the names of those it has."""
    out = {key: getattr(row, key) for key in COUNTING_COLUMNS if getattr(row, key) is not None}
    if row.unknown:
        for key in row.unknown:
            if key in out:
                out[key] = None
        present = set(NUMERIC_COLUMNS) | set(out) | ({"saved_bytes"} if row.saved_bytes is not None else set())
        out["unknown"] = [key for key in row.unknown if key in present]
    return out


def unknown_names(unknown: Any) -> tuple[str, ...]:
    """A layer's `counts_unknown` widened to what derives from it (MACs -> FLOPs, ops, backward and
    training FLOPs), in UNKNOWABLE's order (other names after, as given)."""
    names = set(unknown or ())
    if names & {"macs", "flops"}:
        names.update(_FROM_MACS)
    return tuple(k for k in UNKNOWABLE if k in names) + tuple(sorted(names - set(UNKNOWABLE)))


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
    # Figures of this row that are unknown (a layer's `counts_unknown`; a collapsed block or the
    # total: any of its layers'): the int fields hold the known part, a lower bound; outputs show
    # them as unknown (JSON/CSV null, text '?' or '>= ...'). Names from UNKNOWABLE.
    unknown: tuple[str, ...] = ()

    @property
    def memory_bytes(self) -> int:
        return self.activation_memory_bytes + self.param_memory_bytes

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON has it: unknown figures null, `unknown` naming them (only when any are)."""
        from .formatting import row_record
        return row_record(self) | counting_record(self)


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
    graph: Any = field(default=None, compare=False, repr=False)  # the compiled graph it was built from
    # figure -> paths of the layers (graph nodes) that do not know it; {} when every figure is known
    unknown_layers: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def batch(self) -> int:
        return self.options.batch

    def unknown_counts(self) -> dict[str, list[str]]:
        """Figure -> the layers that do not know it, for the figures this report has (ops only with
        count_as, saved_bytes only under the autograd convention)."""
        present = set(NUMERIC_COLUMNS) | {key for key in COUNTING_COLUMNS if getattr(self.totals, key) is not None}
        if self.totals.saved_bytes is not None:
            present.add("saved_bytes")
        return {key: list(paths) for key, paths in self.unknown_layers.items() if key in present and paths}

    def param_split(self) -> dict[str, int] | None:
        """Total, trainable and non-trainable params and buffers (batch norm's running mean and
        variance and num_batches_tracked), per model, as torchinfo prints them; trainable honours
        the report's `freeze` patterns. None for a report built without its graph."""
        if self.graph is None:
            return None
        from .counting.training import param_split  # loaded with every table (annotate)
        return param_split(self.graph, tuple((self.counting or {}).get("freeze", ())))

    def to_dict(self) -> dict[str, Any]:
        from .formatting import row_record
        total = {key: getattr(self.totals, key) for key in ("input_shape", "output_shape") + NUMERIC_COLUMNS} \
            | {"input_shape": list(self.totals.input_shape), "output_shape": list(self.totals.output_shape)}
        known_total = dict(total)
        out = {
            "schema_version": SCHEMA_VERSION,
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
            "total": total,
        }
        known_total |= {key: getattr(self.totals, key) for key in COUNTING_COLUMNS
                        if getattr(self.totals, key) is not None}
        if self.counting:
            out |= self.counting
        if self.step is not None:
            out["memory_convention"] = "autograd"
            total["saved_bytes"] = known_total["saved_bytes"] = self.totals.saved_bytes
            out["training_step"] = self.step_breakdown()
        total |= counting_record(self.totals)
        unknown = self.unknown_counts()
        out["unknown_counts"] = unknown
        if unknown:
            for key in unknown:
                if key in total:
                    total[key] = None
            out["known_total"] = known_total
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

    def to_dataframe(self, per_image: bool = False) -> Any:
        """A pandas DataFrame with one row per displayed row (see docs/output.md for every column):
        `architecture`, `batch`, the row's `name`, `parent`, `type`, `depth`, `attrs`, its layer's
        `kernel`, `stride`, `padding`, `groups` (an int where square, else an (h, w) tuple; None
        for layers without them and collapsed blocks), `input_shape`/`output_shape` as tuples,
        `in_c`, `in_h`, `in_w`, `out_c`, `out_h`, `out_w`, then the counts. A count column is int64
        where its values and its sum fit in int64, else Python ints (dtype object), never float or
        uint64; an unknown figure is None. `per_image=True` divides the batch-proportional counts
        by the batch, exactly (params and param memory unchanged; see docs/output.md)."""
        import pandas as pd
        from .formatting import count_column, row_record
        records = [row_record(row) | counting_record(row) for row in self.rows]
        counts = NUMERIC_COLUMNS + ("saved_bytes", "saved_bytes_per_step") + COUNTING_COLUMNS
        if per_image:
            self._per_image(records)
        nodes = {node.path: node for node in self.graph.nodes} if self.graph is not None else {}
        has_unknown = any(row.unknown for row in self.rows)
        extended = []
        for row, record in zip(self.rows, records):
            node = nodes.get(row.name)
            geometry = layer_geometry(node.layer if node is not None and node.type == row.type else None)
            name = record["name"]
            head = {"architecture": self.architecture, "batch": self.batch, "name": name,
                    "parent": name.rsplit(".", 1)[0] if "." in name else "", "type": record["type"],
                    "depth": record["depth"], "attrs": record["attrs"], **geometry,
                    "input_shape": tuple(row.input_shape), "output_shape": tuple(row.output_shape),
                    **_chw("in", row.input_shape), **_chw("out", row.output_shape)}
            rest = {k: v for k, v in record.items() if k not in head and k != "unknown"}
            if has_unknown:
                rest["unknown"] = tuple(record.get("unknown", ()))
            extended.append(head | rest)
        if extended:
            columns = list(extended[0])
        else:
            columns = ["architecture", "batch", "name", "parent", "type", "depth", "attrs", *GEOMETRY,
                       "input_shape", "output_shape", *_chw("in", ()), *_chw("out", ()), *NUMERIC_COLUMNS]
        data = {}
        for key in columns:
            values = [r.get(key) for r in extended]
            if key in counts + ("depth", "batch"):
                data[key] = count_column(values)
            elif key in GEOMETRY + tuple(_chw("in", ())) + tuple(_chw("out", ())) and \
                    all(v is None or type(v) is int for v in values):
                data[key] = pd.Series(values, dtype="Int64")  # nullable: <NA> where the layer has none
            else:
                data[key] = pd.Series(values, dtype=object)
        frame = pd.DataFrame(data)
        frame.attrs.update({"schema_version": SCHEMA_VERSION, "architecture": self.architecture,
                            "batch": self.batch, "per_image": per_image, "flop_convention": FLOP_CONVENTION})
        return frame

    def _per_image(self, records: list[dict[str, Any]]) -> None:
        """Records in place: per-sample figures per image (exact), params and param memory as they
        are, memory = per-image activation memory + param memory; under the autograd convention
        saved_bytes = the per-image part and saved_bytes_per_step = the part saved once per step;
        `ops` = the tool's count for one image (batch 1: a tool may count per-step work)."""
        batch = self.batch
        for record in records:
            for key in PER_SAMPLE_COLUMNS:
                value = record.get(key)
                if value is not None:
                    quotient, remainder = divmod(value, batch)
                    assert remainder == 0, (record["name"], key, value, batch)
                    record[key] = quotient
            record["memory_bytes"] = record["activation_memory_bytes"] + record["param_memory_bytes"]
        if self.step is not None and self.graph is not None:
            per_sample, fixed = _saved_parts_per_row(self.graph, [row.name for row in self.rows], self.step)
            for record, a, c in zip(records, per_sample, fixed):
                if record.get("saved_bytes") is not None:
                    record["saved_bytes"], record["saved_bytes_per_step"] = a, c
        if self.totals.ops is not None and self.graph is not None and self.counting:
            from .counting.annotate import per_row
            from .counting.tools import ops
            from .counting.training import frozen_nodes
            frozen = frozen_nodes(self.graph, tuple(self.counting.get("freeze", ())))
            column = per_row(self, self.graph, ops(self.graph, self.counting["count_as"], 1, frozen=frozen).per_node)
            for record, value in zip(records, column):
                if record.get("ops") is not None:
                    record["ops"] = value

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


GEOMETRY = ("kernel", "stride", "padding", "groups")


def _square(value: Any) -> Any:
    """An int or (h, w) pair as an int where square, else the (h, w) tuple."""
    from .shapes import pair
    h, w = pair(value)
    return h if h == w else (h, w)


def layer_geometry(layer: Any) -> dict[str, Any]:
    """kernel, stride, padding and groups of a layer with a kernel (conv, transposed conv, pools):
    ints where square, (h, w) tuples otherwise; padding 'valid' as 0 and 'same' as the symmetric
    padding it amounts to, ((top, bottom), (left, right)) where uneven (an even kernel); groups
    None for pools. All None for other layers (and for None)."""
    out = dict.fromkeys(GEOMETRY)
    kernel = getattr(layer, "kernel", None)
    if kernel is None or isinstance(kernel, str):
        return out
    try:
        out["kernel"] = _square(kernel)
        stride = getattr(layer, "effective_stride", getattr(layer, "stride", None))
        out["stride"] = None if stride is None else _square(stride)
        padding = getattr(layer, "padding", None)
        if isinstance(padding, str):
            from .layers.conv import padding_pairs
            from .shapes import pair
            (top, bottom), (left, right) = padding_pairs(padding, pair(kernel), pair(getattr(layer, "dilation", 1)))
            padding = _square((top, left)) if (top, left) == (bottom, right) else ((top, bottom), (left, right))
        elif padding is not None:
            padding = _square(padding)
        out["padding"] = padding
        groups = getattr(layer, "groups", None)
        out["groups"] = groups if type(groups) is int else None
    except (TypeError, ValueError):  # an unusual layer's own kind of kernel: leave it out
        return dict.fromkeys(GEOMETRY)
    return out


def _chw(side: str, shape: tuple) -> dict[str, Any]:
    """in_c, in_h, in_w (or out_...): channels (features of a 1-D shape), height and width; None
    (shown <NA>) where the shape has no such dimension."""
    c = shape[0] if len(shape) >= 1 else None
    h, w = (shape[1], shape[2]) if len(shape) == 3 else (None, None)
    return {f"{side}_c": c, f"{side}_h": h, f"{side}_w": w}


def _layer_unknown(leaf: LayerCost, step: Any) -> tuple[str, ...]:
    declared = getattr(leaf.layer, "counts_unknown", ())
    if not declared:  # every built-in layer: the common case, kept lean
        return ()
    names = unknown_names(declared)
    if step is None:
        names = tuple(k for k in names if k != "saved_bytes")
    return names


def _merge_unknown(parts: list[tuple[str, ...]]) -> tuple[str, ...]:
    names = set().union(*parts) if parts else set()
    return tuple(k for k in UNKNOWABLE if k in names) + tuple(sorted(names - set(UNKNOWABLE)))


def _build(analysis: Analysis, options: Options, depth: int | None, step: Any) -> Report:
    leaves = _counted_leaves(analysis, options)
    costs = _collapse(analysis, leaves, depth)
    leaf_unknown = [_layer_unknown(leaf, step) for leaf in analysis.leaves]
    unknown_layers: dict[str, tuple[str, ...]] = {}
    if any(leaf_unknown):
        for leaf, names in zip(analysis.leaves, leaf_unknown):
            for key in names:
                unknown_layers[key] = unknown_layers.get(key, ()) + (leaf.path,)
        row_unknown = _unknown_per_row([c.path for c in costs], analysis.leaves, leaf_unknown)
    else:
        row_unknown = None
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
        if row_unknown is not None and row_unknown[i]:
            rows[-1].__dict__["unknown"] = row_unknown[i]
    activations = sum(leaf.activations for leaf in leaves if leaf.path != "input") * batch
    params = sum(leaf.params for leaf in leaves)
    macs = sum(leaf.macs for leaf in leaves) * batch
    # The input is stored once (no gradient), so its memory is added separately.
    input_row = rows[0]
    totals = _row("total", "total", 0, "", analysis.leaves[0].input_shape, analysis.output_shape,
                  activations + input_row.activations, params, macs, 2 * macs,
                  activations * size * 2 + input_row.activation_memory_bytes, params * size * copies,
                  None if step is None else step.trace.saved().at(batch))
    if unknown_layers:
        totals.__dict__["unknown"] = _merge_unknown([tuple(unknown_layers)])
    return Report(analysis.name, options, depth, tuple(rows), totals, step, graph=analysis,
                  unknown_layers=unknown_layers)


def _unknown_per_row(paths: list[str], leaves: Any, leaf_unknown: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Each row's unknown figures: its leaf's, or the union over the leaves of a collapsed block."""
    if len(paths) == len(leaves):
        return leaf_unknown
    index = {path: i for i, path in enumerate(paths)}
    parts: list[list[tuple[str, ...]]] = [[] for _ in paths]
    for leaf, names in zip(leaves, leaf_unknown):
        if not names:
            continue
        owner = leaf.path
        while owner not in index and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        if owner in index:
            parts[index[owner]].append(names)
    return [_merge_unknown(p) for p in parts]


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
    per_sample, fixed = _saved_parts_per_row(analysis, [cost.path for cost in costs], step)
    return [a * batch + c for a, c in zip(per_sample, fixed)]


def _saved_parts_per_row(analysis: Analysis, paths: list[str], step: Any) -> tuple[list[int], list[int]]:
    """Each row's saved bytes as (bytes per sample, bytes per step): saved = a x batch + c."""
    per_sample, fixed = step.trace._saved_columns()
    nodes = analysis.leaves
    if len(paths) == len(nodes):  # one row per node (no collapsing): step i is node i + 1
        return [0] + list(per_sample), [0] + list(fixed)
    names = {path: i for i, path in enumerate(paths)}
    a_out, c_out = [0] * len(paths), [0] * len(paths)
    for path, a, c in zip((s.path for s in step.trace.steps), per_sample, fixed):
        owner = path
        while owner not in names and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        if owner in names:
            a_out[names[owner]] += a
            c_out[names[owner]] += c
    return a_out, c_out


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
