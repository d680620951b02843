"""A report: the figures of one architecture under one set of options, per displayed row and in
total, exact ints (`build_report` runs the cost pass, `cnncost.costs`, and the roll-up,
`cnncost.rollup`). Its outputs live in `cnncost.outputs`; the methods here only call them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable

from ._gcpause import paused_gc
from .columns import COLUMNS, ordered_union
from .conventions import Options
from .costs import PEAKS, Elementwise, Quantities, figure, node_costs, present_columns, row_figures
from .counting.training import TRAINING_CONVENTION, check_patterns, frozen_nodes, param_split
from .formatting import dumps, si_spaced
from .outputs.dataframe import report_frame
from .outputs.export import Exports
from .outputs.records import csv_table, report_record, row_record
from .outputs.tables import render
from .rollup import row_layout
from .shapes import Shape


@dataclass(slots=True)  # not frozen: a frozen __init__ costs more than the row's figures; read-only by convention
class Row:
    """One displayed row, for the whole batch (params are per model). Its figures, one per
    registered column the report has (`cnncost.columns`), read as attributes: `row.macs`; a
    column the report lacks (saved_bytes without the autograd memory model) reads None.

    `unknown`: figures of this row that are unknown (a layer's `counts_unknown`; a collapsed
    block or the total: any of its layers'): the figures hold the known part, a lower bound;
    outputs show them as unknown (JSON/CSV null, text '?' or '>= ...')."""

    name: str
    type: str
    depth: int
    attrs: str
    input_shape: Shape
    output_shape: Shape
    figures: dict[str, int]
    unknown: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        if name in COLUMNS:
            return self.figures.get(name)
        raise AttributeError(f"'Row' object has no attribute '{name}'")

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON has it: unknown figures null, `unknown` naming them (only when any are)."""
        return row_record(self)


@dataclass(frozen=True)
class Report(Exports):
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
    counting: dict[str, Any] | None = None  # top-level JSON keys of the counting ("count_as", ...)
    graph: Any = field(default=None, compare=False, repr=False)  # the compiled graph it was built from
    # figure -> paths of the layers (graph nodes) that do not know it; {} when every figure is known
    unknown_layers: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    # the GPU profile (cnncost.memory.reserved.Device) whose caching allocator, workspaces and CUDA
    # context `device_memory` models; None: the default profile
    gpu: Any = field(default=None, compare=False, repr=False)
    timing: Any = field(default=None, compare=False)  # cnncost.timing.Timing with a hardware profile
    inference: Any = None  # cnncost.memory.InferenceMemory under mode 'inference'
    columns: tuple[str, ...] | None = field(default=None, compare=False, repr=False)  # shown ones (`with_columns`)

    @property
    def batch(self) -> int:
        return self.options.batch

    @property
    def inputs(self) -> tuple[tuple[str, Shape], ...]:
        """Every input of the net as (name, per-sample shape), the first first; from the graph
        (the first row's shape for a report built without it)."""
        if self.graph is None:
            return ((self.rows[0].name, self.rows[0].output_shape),) if self.rows else ()
        return tuple((self.graph.nodes[i].path, self.graph.nodes[i].output_shape) for i in self.graph.inputs)

    def unknown_counts(self) -> dict[str, list[str]]:
        """Figure -> the layers that do not know it, for the figures this report has."""
        return {key: list(paths) for key, paths in self.unknown_layers.items() if key in self.totals.figures and paths}

    def param_split(self) -> dict[str, int] | None:
        """Total, trainable and non-trainable params and buffers (batch norm's running mean and
        variance and num_batches_tracked), per model, as torchinfo prints them; trainable honours
        the report's `freeze` patterns. None for a report built without its graph."""
        if self.graph is None:
            return None
        return param_split(self.graph, tuple((self.counting or {}).get("freeze", ())))

    def step_breakdown(self) -> dict[str, Any] | None:
        """The peak moment of the step at this batch: what takes how much, in bytes."""
        if self.step is None:
            return None
        moment = self.step.peak(self.batch)
        out = {"mode": self.step.mode, "peak_bytes": moment.at(self.batch), "phase": moment.phase,
               "breakdown": {part: size.at(self.batch) for part, size in moment.parts.items()}}
        if self.step.setup.checkpoint:  # --checkpoint: the regions
            out["checkpoint"] = list(self.step.setup.checkpoint)
        setup = self.step.setup  # --freeze / --accumulate: their fields (`memory.accumulate.setup_fields`)
        if setup.freeze or setup.accumulate > 1:
            from .memory.accumulate import setup_fields
            out |= setup_fields(self.step, self.batch, self.totals.figures.get("training_flops"))
        return out

    def device_memory(self) -> Any:
        """What the GPU holds for this training step (cnncost.memory.reserved.Reserved: the caching
        allocator's reserved bytes, the nvidia-smi figure; modelled), computed on first use; None
        without the autograd memory model, off CUDA, or where the allocator model does not apply."""
        if self.step is None:
            return None
        if "_device_memory" not in self.__dict__:  # frozen: the cache is written past __setattr__
            from .memory.reserved import device_memory, gpu_profile
            self.__dict__["_device_memory"] = device_memory(self.step, self.batch, self.gpu or gpu_profile())
        return self.__dict__["_device_memory"]

    def to_dict(self) -> dict[str, Any]:
        return report_record(self)

    def to_json(self, indent: int | None = 2) -> str:
        """Exact ints of any size; never NaN or Infinity."""
        return dumps(self.to_dict(), indent=indent)

    def _rendered(self, fmt: str) -> str:
        return csv_table(self) if fmt == "csv" else render(self, fmt)

    def to_text(self) -> str:
        return render(self, "text")

    def to_dataframe(self, per_image: bool = False) -> Any:
        """A pandas DataFrame with one row per displayed row (see docs/output.md for every column):
        `architecture`, `batch`, the row's `name`, `parent`, `type`, `depth`, `attrs`, its layer's
        `kernel`, `stride`, `padding`, `groups` (an int where square, else an (h, w) tuple; None
        for layers without them and collapsed blocks), `input_shape`/`output_shape` as tuples,
        `in_c`, `in_h`, `in_w`, `out_c`, `out_h`, `out_w`, then the counts. A count column is int64
        where its values and its sum fit in int64, else Python ints (dtype object), never float or
        uint64; an unknown figure is None. `per_image=True` gives the figures of one image: those
        proportional to the batch at batch 1, exactly (params and param memory unchanged; saved
        bytes split into its per-image part and `saved_bytes_per_step`; see docs/output.md)."""
        rows = self.rows
        if per_image:
            if self.graph is None:
                from .errors import CnnCostError
                raise CnnCostError("a per-image DataFrame needs the graph the report was built from")
            counting = self.counting or {}
            rows = build_report(self.graph, dataclasses.replace(self.options, batch=1), self.depth, self.step,
                                count_as=counting.get("count_as"), freeze=counting.get("freeze", ()),
                                per_image=True, inference=self.inference).rows
        return report_frame(self, rows, per_image)

    def _repr_html_(self) -> str:
        return render(self, "html")

    def with_columns(self, columns: Any) -> Report:
        """This report showing only `columns` (names as in JSON: 'params', 'macs', 'output_shape';
        a list or 'params,macs'), in that order, after the layer's name, in its text, markdown, HTML,
        LaTeX, CSV and DataFrame; None: every column again. JSON keeps every figure."""
        from .columns import select_columns
        from .outputs.tables import report_column_names
        chosen = None if columns is None else select_columns(columns, report_column_names(self))
        return dataclasses.replace(self, columns=chosen)

    def __repr__(self) -> str:
        """One line (a notebook stores what it displays; the table is `str`): architecture, rows,
        params, MACs per image, batch."""
        figures = summary(self.totals, self.batch)
        return f"<Report {self.architecture}: {len(self.rows):,} rows, {figures}, batch {self.batch:,}>"

    def __str__(self) -> str:
        return self.to_text()


def summary(totals: Row, batch: int) -> str:
    """'25,557,032 params, 3.86 GMACs/image' (MACs of one image of the batch); an unknown figure (an opaque layer's) reads
    as the lower bound it is, '>= ...'."""
    def known(column: str) -> str:
        return ">= " if column in totals.unknown else ""
    macs = totals.figures.get("macs")
    per_image = "" if macs is None else f", {known('macs')}{si_spaced((macs + batch // 2) // batch, 'MACs')}/image"
    return f"{known('params')}{totals.figures['params']:,} params{per_image}"


def build_report(graph: Any, options: Options, depth: int | None = None, step: Any = None, *,
                 count_as: str | None = None, freeze: Iterable[str] | str = (), per_image: bool = False,
                 timing: Any = None, inference: Any = None) -> Report:
    """Run the cost pass on a compiled graph and roll it up into rows (blocks deeper than `depth`
    collapsed). `step` (a `cnncost.memory.StepMemory`, for the 'autograd' memory convention) adds
    saved bytes; `freeze` patterns take layers' weight gradients out of backward FLOPs; `count_as`
    adds a peer tool's `ops`. `per_image`: every figure for one image (`options.batch` 1). `timing`
    (a `cnncost.timing.Timing` at `options.batch`) adds the time columns and the report's `timing`.
    `inference` (a `cnncost.memory.InferenceMemory`) adds live bytes and leaves the training figures out."""
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    check_patterns(graph, patterns)
    frozen = frozen_nodes(graph, patterns)
    counting: dict[str, Any] = {}
    ops = None
    if count_as is not None:
        from .counting.tools import TOOLS, ops as tool_ops, tool_name  # the tools load only when asked for
        name = tool_name(count_as)
        counted = tool_ops(graph, name, options.batch, frozen=frozen)
        ops = counted.per_node
        counting = {"count_as": name, "ops_unit": TOOLS[name].unit}
        if counted.profile:
            counting["implementation_profile"] = counted.profile
    if patterns:
        counting["freeze"] = list(patterns)
    counting["training_flop_convention"] = TRAINING_CONVENTION
    if getattr(step, "checkpoint_convention", None):  # activation checkpointing (cnncost.memory.checkpoint)
        counting["checkpoint_convention"] = step.checkpoint_convention
    with paused_gc():
        nodes, unknown = node_costs(graph, options, frozen, step, ops, timing, inference)
        report = _report(graph, options, depth, step, nodes, unknown, counting, per_image)
    if timing is not None:
        report = dataclasses.replace(report, timing=timing)
    return report if inference is None else dataclasses.replace(report, inference=inference)


def _report(graph: Any, options: Options, depth: int | None, step: Any, nodes: Quantities,
            unknown: list[tuple[str, ...]] | None, counting: dict[str, Any], per_image: bool) -> Report:
    """The rows: node quantities summed per row (`cnncost.rollup`), every figure from them."""
    layout = row_layout(graph, depth)
    columns = present_columns(nodes.optional, per_image)
    names = tuple(c.name for c in columns)
    per_node = nodes.per_node()
    config = (nodes.batch, nodes.element_bytes, nodes.param_copies)
    per_row = Quantities(*config, **{k: Elementwise(layout.peak(v) if k in PEAKS else layout.sum(v))
                                     for k, v in per_node.items()})
    n = len(layout.heads)
    table = zip(*row_figures(columns, per_row, n, per_image))
    unknown_layers: dict[str, tuple[str, ...]] = {}
    if unknown is not None:
        for node, node_unknown in zip(graph.nodes, unknown):
            for key in node_unknown:
                unknown_layers[key] = unknown_layers.get(key, ()) + (node.path,)
        row_unknown = layout.union(unknown)
    else:
        row_unknown = [()] * n
    rows = tuple(Row(h.path, h.type, h.path.count("."), h.attrs, h.input_shape, h.output_shape,
                     dict(zip(names, values)), unknown)
                 for h, values, unknown in zip(layout.heads, table, row_unknown))
    total = Quantities(*config, **{k: max(v) if k in PEAKS else sum(v) for k, v in per_node.items()})
    totals = Row("total", "total", 0, "", graph.nodes[0].input_shape, graph.output_shape,
                 {c.name: figure(c, total, per_image) for c in columns}, ordered_union([tuple(unknown_layers)]))
    return Report(graph.name, options, depth, rows, totals, step, counting, graph, unknown_layers)
