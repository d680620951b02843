"""The cost pass: the quantities every figure derives from (`cnncost.columns`), per node of a
compiled graph, and the figures themselves from them. A table and a sweep both run it: the
table per displayed row in Python ints, the sweep per configuration on numpy arrays (the same
rules, the same formulas), so a sweep's row equals the table's total by construction.

The rules stated here, once:

- the lecture's activation rule (`activation_weights`): under activations="lecture" a folded
  layer (`tabulated` False) stores nothing and each outermost multi-branch block stores only its
  output, charged to its last node;
- the backward rule (`cnncost.counting.training.backward_per_mac`): 2 FLOPs per MAC for each
  gradient a `matmul_like` op computes (its input's unless nothing before it trains, its
  weights' unless frozen).
"""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

from .columns import Column, row_columns, unknown_names
from .counting.training import backward_per_mac
from .shapes import numel

@dataclass(frozen=True)
class Quantities:
    """What a formula reads: per node (lists, `node_costs`), per row or in total (ints), for all
    rows of a table at once (`Elementwise` lists) or per configuration of a sweep (numpy arrays).
    Optional ones are None where not computed: they decide which figures exist (`Column.needs`)."""

    batch: Any  # the configuration: these three fields first (`per_node` skips them)
    element_bytes: Any
    param_copies: Any
    stored: Any  # activation elements the layers store, per sample (the input not included)
    input: Any  # elements of the input, per sample (stored once: no gradient)
    params: Any
    macs: Any  # per sample
    backward: Any  # backward FLOPs of one training step, per sample
    saved_per_sample: Any = None  # bytes saved for backward: saved = per_sample x batch + per_step
    saved_per_step: Any = None
    ops: Any = None  # a peer tool's count, whole batch, in its unit
    peak: Any = None  # a training step's peak bytes (sweeps)
    fixed_macs: Any = None  # MACs done once per forward whatever the batch: macs = per sample x batch + fixed
    fixed_backward: Any = None  # their backward FLOPs in a training step
    recompute: Any = None  # forward FLOPs run again in backward by activation checkpointing, per sample
    # the time model (`cnncost.timing`, a table with a hardware profile), seconds at the report's batch,
    # expected estimate: forward, backward (both gradients), and the same time split by what bounds each pass
    forward_seconds: Any = None
    backward_seconds: Any = None
    compute_seconds: Any = None
    memory_seconds: Any = None
    launch_seconds: Any = None
    live: Any = None  # inference: bytes held while the node runs, at the batch (rows, totals: the largest, `PEAKS`)

    @property
    def optional(self) -> tuple[str, ...]:
        """The optional quantities present, as `Column.needs` names them ('saved', 'ops', 'fixed_macs')."""
        return tuple(k for k, v in (("saved", self.saved_per_sample), ("ops", self.ops),
                                    ("fixed_macs", self.fixed_macs), ("recompute", self.recompute),
                                    ("timing", self.forward_seconds), ("live", self.live))
                     if v is not None)

    def per_node(self) -> dict[str, Any]:
        """The quantities present that are not the configuration, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)[3:] if getattr(self, f.name) is not None}


PEAKS = ("live",)  # quantities a row or total takes the largest of, not the sum


def activation_weights(graph: Any, rule: str) -> tuple[list[int], list[int]]:
    """Per node: whether its own tensor counts as an activation (1 or 0), and how many block
    outputs it stands for (its output counted once more): the lecture's rule, or every tensor."""
    nodes = graph.nodes
    if rule != "lecture":
        return [1] * len(nodes), [0] * len(nodes)
    counted = [1 if node.tabulated else 0 for node in nodes]
    outputs = [0] * len(nodes)
    covered = 0
    for block in sorted((b for b in graph.blocks if not b.grouping and b.stop > b.first),
                        key=lambda b: (b.first, -b.stop)):
        if block.first >= covered:  # not inside an outer module
            covered = block.stop
            for i in range(block.first, block.stop):
                counted[i] = 0
            outputs[block.stop - 1] += 1
    return counted, outputs


def node_costs(graph: Any, options: Any, frozen: tuple[bool, ...] | None = None, step: Any = None,
               ops: tuple[int, ...] | None = None, timing: Any = None, inference: Any = None
               ) -> tuple[Quantities, list[tuple[str, ...]] | None]:
    """Every node's quantities (lists in graph order) under `options` (a `cnncost.Options`), and
    the figures each node does not know (None when every node knows every figure). `frozen`: per
    node, no weight gradient; `step` (a `cnncost.memory.StepMemory`) adds saved bytes; `ops` a
    tool's count per node; `inference` (a `cnncost.memory.InferenceMemory`) live bytes."""
    nodes = graph.nodes
    counted, outputs = activation_weights(graph, options.activations)
    if options.activations == "lecture":
        made = [c * node.activations + o * numel(node.output_shape) for node, c, o in zip(nodes, counted, outputs)]
    else:
        made = [node.activations for node in nodes]
    per_mac = _backward_per_mac(graph, frozen or (False,) * len(nodes))
    macs = [node.macs for node in nodes]
    saved_per_sample = saved_per_step = fixed_backward = None
    fixed = fixed_macs(graph)
    if fixed is not None:
        fixed_backward = [node.layer.backward_per_forward(not f) if m else 0 for node, f, m in
                          zip(nodes, frozen or (False,) * len(nodes), fixed)]
    if step is not None:
        saved_per_sample, saved_per_step = _saved_per_node(graph, step)
    n_inputs = len(graph.inputs)  # the input nodes come first: 0, then any further inputs
    quantities = Quantities(options.batch, options.bytes_per_element, options.param_copies,
                            stored=[0] * n_inputs + made[n_inputs:],
                            input=made[:n_inputs] + [0] * (len(nodes) - n_inputs),
                            params=[node.params for node in nodes], macs=macs,
                            backward=[w * m for w, m in zip(per_mac, macs)], saved_per_sample=saved_per_sample,
                            saved_per_step=saved_per_step, ops=None if ops is None else list(ops),
                            fixed_macs=fixed, fixed_backward=fixed_backward,
                            recompute=_recompute_per_node(graph, step),
                            live=None if inference is None else _live_per_node(graph, inference, options.batch),
                            **({} if timing is None else timing.node_seconds()))
    declared = [getattr(node.layer, "counts_unknown", ()) for node in nodes]
    if not any(declared):
        return quantities, None
    present = {c.name for c in present_columns(quantities.optional)}
    return quantities, [tuple(k for k in unknown_names(d) if k in present) if d else () for d in declared]


def fixed_macs(graph: Any) -> list[int] | None:
    """Per node, the MACs it does once per forward; None where no node does any (most nets)."""
    memo = graph.memo
    if "fixed macs" not in memo:
        fixed = [node.layer.macs_per_forward() if node.layer is not None else 0 for node in graph.nodes]
        memo["fixed macs"] = fixed if any(fixed) else None
    return memo["fixed macs"]


def _backward_per_mac(graph: Any, frozen: tuple[bool, ...]) -> tuple[int, ...]:
    """`backward_per_mac`, remembered per graph for a few `frozen` masks."""
    masks = graph.memo.setdefault("backward per mac", {})
    per_mac = masks.get(frozen)
    if per_mac is None:
        if len(masks) >= 8:
            masks.clear()
        per_mac = masks[frozen] = backward_per_mac(graph, frozen)
    return per_mac


def _recompute_per_node(graph: Any, step: Any) -> list[int] | None:
    """Per node, the FLOPs (2 per MAC, as `flops`) its checkpointed recompute runs again, per
    sample; None without checkpointing (`cnncost.memory.checkpoint`)."""
    steps = getattr(step, "recomputed", None)
    if steps is None:
        return None
    index = {node.path: i for i, node in enumerate(graph.nodes)}
    out = [0] * len(graph.nodes)
    for k in steps:
        i = index[step.trace.steps[k].path]
        out[i] = 2 * graph.nodes[i].macs
    return out


def _saved_per_node(graph: Any, step: Any) -> tuple[list[int], list[int]]:
    """Bytes each node saves first for backward, as (per sample, per step): a trace step's bytes
    go to the node of its path (else of the nearest enclosing path, else the input's)."""
    per_sample, fixed = step.saved_columns()
    nodes = graph.nodes
    steps = step.trace.steps
    if len(steps) == len(nodes) - 1 and all(s.path == n.path for s, n in zip(steps, nodes[1:])):
        return [0] + list(per_sample), [0] + list(fixed)
    index = {node.path: i for i, node in enumerate(nodes)}
    a_out, c_out = [0] * len(nodes), [0] * len(nodes)
    for s, a, c in zip(steps, per_sample, fixed):
        owner = s.path
        while owner not in index and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        i = index.get(owner, 0)
        a_out[i] += a
        c_out[i] += c
    return a_out, c_out


def _live_per_node(graph: Any, inference: Any, batch: int) -> list[int]:
    """Bytes held while each node runs: its trace step's (a node traced as several steps: the
    largest; a node with none, such as the input: what is held before the first step)."""
    by_path = inference.live_by_path(batch)
    before = inference.baseline[0] * batch + inference.baseline[1]
    return [by_path.get(node.path, before) for node in graph.nodes]


def figure(column: Column, q: Quantities, per_image: bool = False) -> Any:
    """One figure from the quantities (per image: its `per_image` formula where it has one)."""
    if per_image and column.per_image is not None:
        return column.per_image(q)
    return column.formula(q)


def present_columns(optional: tuple[str, ...], per_image: bool = False) -> tuple[Column, ...]:
    """The per-row figures a report with these optional quantities has, in record order (a report
    of an inference pass, with live bytes, has no training figures)."""
    have = set(optional)
    training = "live" not in have
    return row_columns(lambda c: set(c.needs) <= have and (per_image or not c.per_image_only)
                       and (training or not c.training))


class Elementwise(list):
    """A list of ints with element-wise +, -, * and //: a formula applied to all rows of a table at
    once, in Python ints (exact, and no numpy on the command line's path)."""

    __slots__ = ()

    def __add__(self, other: Any) -> Elementwise:
        if isinstance(other, list):
            return Elementwise(map(operator.add, self, other))
        return Elementwise([a + other for a in self])

    def __radd__(self, other: Any) -> Elementwise:
        return Elementwise([other + a for a in self])

    def __sub__(self, other: Any) -> Elementwise:
        if isinstance(other, list):
            return Elementwise(map(operator.sub, self, other))
        return Elementwise([a - other for a in self])

    def __rsub__(self, other: Any) -> Elementwise:
        return Elementwise([other - a for a in self])

    def __mul__(self, other: Any) -> Elementwise:
        if isinstance(other, list):
            return Elementwise(map(operator.mul, self, other))
        return Elementwise([a * other for a in self])

    def __rmul__(self, other: Any) -> Elementwise:
        return Elementwise([other * a for a in self])

    def __floordiv__(self, other: Any) -> Elementwise:
        if isinstance(other, list):
            return Elementwise(map(operator.floordiv, self, other))
        return Elementwise([a // other for a in self])

    def __rfloordiv__(self, other: Any) -> Elementwise:
        return Elementwise([other // a for a in self])


def row_figures(columns: tuple[Column, ...], q: Quantities, n: int, per_image: bool = False) -> list[list[int]]:
    """Each column's values over `n` rows whose quantities are `Elementwise` lists in `q`."""
    out = []
    for column in columns:
        values = figure(column, q, per_image)
        out.append(values if isinstance(values, list) else [values] * n)
    return out
