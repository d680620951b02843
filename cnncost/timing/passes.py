"""Bytes moved and work done per graph node, for the forward, the input gradient and the weight
gradient, from the memory model's trace (what each step reads, creates and saves, with dtypes).

Forward: reads every input it reads (a view: the elements it shows), its parameters (fp32 master
weights; under autocast also the low-precision copy it makes once per forward, written and read
back), writes what it creates; an in-place op reads and writes its input; a view moves nothing.
Backward, input gradient: reads the output's gradient, the weights (products) or what the op
saved (others), writes each input's gradient that is needed; weight gradient: reads the output's
gradient and the saved input, writes the parameters' gradients (in the parameters' dtype). Where
a tensor feeds k consumers its gradient is summed k - 1 times (charged to its producer). Work:
2 FLOPs per MAC on the unit its op class runs on (`ops.py`), vector ops a few per element.
Exact ints, per sample and fixed: as flat tuples (`node_rows`: what a table and a sweep time, no
objects made per pass) or as `PassCost` objects of `Amount`s (`node_costs`); seconds come later
(`model.py`).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any

from ..counting.training import gradients
from ..memory.tensors import ELEMENT_BYTES
from .amount import NONE, Amount
from .ops import (
    BACKWARD_VECTOR_OPS,
    FORWARD,
    INPUT_GRADIENT,
    MATRIX_CLASSES,
    UNIT,
    WEIGHT_GRADIENT,
    op_class,
    positions,
    reduction,
    vector_ops,
)

PASSES = ("forward", "input_grad", "weight_grad")
COMPUTE_DTYPES = ("fp32", "tf32", "fp16", "bf16")  # the profile's dtypes a training step computes in
FREE_BACKWARD = ("add", "concat", "stack", "sub")  # gradients passed on as views or as they are
# Weight gradients are made anew each step (zero_grad(set_to_none=True), PyTorch's default); on a CPU
# a block this large comes from the OS each time (glibc's largest dynamic mmap threshold: 32 MiB), so
# its first write faults every page in (a calibrated profile's `page_fault` rate; GPUs' caching
# allocators reuse their blocks)
FRESH_BYTES = 32 * 2**20


@dataclass(slots=True)  # not frozen: a frozen __init__ costs more than the pass's figures; read-only by convention
class PassCost:
    """One pass of one node: its op class (which unit and fraction), the dtype it computes in,
    its work (FLOPs), bytes read and written, and the kernels (ops) it issues."""

    op_class: str
    dtype: str
    work: Amount
    read: Amount
    written: Amount
    kernels: int
    reduction: int = 0  # a conv's reduction length (`ops.reduction`; its weight gradient: the forward's):
    # its rate follows it; 0: not a conv
    fresh: int = 0  # bytes written to new pages each step (a large weight gradient: see FRESH_BYTES)
    positions: int = 0  # a conv's output positions per sample: x batch, the rows of its GEMM (0: many)
    gradient: int = 0  # FORWARD, INPUT_GRADIENT or WEIGHT_GRADIENT (`ops`): calibrated rates tell them apart

    @property
    def unit(self) -> str:
        return UNIT.get(self.op_class, "vector")

    @property
    def bytes(self) -> Amount:
        return self.read + self.written

    def intensity(self, batch: int) -> float | None:
        """Arithmetic intensity at this batch: FLOPs per byte moved (None: no bytes)."""
        moved = self.bytes.at(batch)
        return self.work.at(batch) / moved if moved else None


IDLE = PassCost("vector", "fp32", NONE, NONE, NONE, 0)

# A pass as a flat tuple (a table times every pass of every node; objects are made on demand):
# (op_class, dtype, work per sample, work fixed, read per sample, read fixed, written per sample,
#  written fixed, kernels, reduction, fresh, positions, gradient); None: idle (`IDLE`)
PassRow = tuple[str, str, int, int, int, int, int, int, int, int, int, int, int]
NodeRows = tuple["PassRow | None", "PassRow | None", "PassRow | None"]  # forward, input gradient, weight gradient
IDLE_ROWS: NodeRows = (None, None, None)


def pass_cost(row: PassRow | None) -> PassCost:
    """The `PassCost` of a pass row (`IDLE` for None)."""
    if row is None:
        return IDLE
    klass, dtype, ws, wf, rs, rf, os_, of, kernels, reduction_, fresh, positions_, gradient = row
    return PassCost(klass, dtype, Amount(ws, wf), Amount(rs, rf), Amount(os_, of), kernels, reduction_, fresh,
                    positions_, gradient)


def pass_row(cost: PassCost) -> PassRow:
    """A `PassCost` as a pass row."""
    w, r, o = cost.work, cost.read, cost.written
    return (cost.op_class, cost.dtype, w.per_sample, w.fixed, r.per_sample, r.fixed, o.per_sample, o.fixed,
            cost.kernels, cost.reduction, cost.fresh, cost.positions, cost.gradient)


@dataclass(slots=True)  # read-only by convention
class NodeCost:
    """The three passes of one graph node (`IDLE` where a pass does nothing)."""

    path: str
    type: str
    forward: PassCost
    input_grad: PassCost
    weight_grad: PassCost

    @property
    def backward(self) -> tuple[PassCost, PassCost]:
        return self.input_grad, self.weight_grad


def _sum_bytes(tensors: Sequence[Any]) -> tuple[int, int]:
    """(per-sample, fixed) bytes of what the tensors show (a view: its elements, not its base's)."""
    per_sample = fixed = 0
    for t in tensors:  # (the storage's byte counts, kept on each tensor, unless a view shows less)
        shown = t.shown
        per_sample += t.nbytes_per_sample if shown is None else shown * ELEMENT_BYTES[t.dtype]
        fixed += t.nbytes_fixed
    return per_sample, fixed


def _vector_dtype(dtype: str) -> str:
    return dtype if dtype in COMPUTE_DTYPES else "fp32"


def steps_by_node(graph: Any, trace: Any) -> list[list[Any]]:
    """The trace's steps of each graph node (a step's path, else its nearest enclosing one)."""
    index = {node.path: i for i, node in enumerate(graph.nodes)}
    out: list[list[Any]] = [[] for _ in graph.nodes]
    for step in trace.steps:
        owner = step.path
        while owner not in index and "." in owner:
            owner = owner.rsplit(".", 1)[0]
        out[index.get(owner, 0)].append(step)
    return out


def node_costs(graph: Any, trace: Any, compute_dtype: str, frozen: tuple[bool, ...] | None = None) -> list[NodeCost]:
    """Per graph node (graph order), its three passes (`node_rows` as objects). `compute_dtype`:
    what products compute in (tf32, or the trace's dtype; under autocast its low dtype)."""
    return costs_of(graph, node_rows(graph, trace, compute_dtype, frozen))


def costs_of(graph: Any, rows: list[NodeRows]) -> list[NodeCost]:
    """Per graph node, its pass rows (`node_rows`) as objects."""
    return [NodeCost(node.path, node.type, *map(pass_cost, passes)) for node, passes in zip(graph.nodes, rows)]


def node_rows(graph: Any, trace: Any, compute_dtype: str, frozen: tuple[bool, ...] | None = None) -> list[NodeRows]:
    """Per graph node (graph order), its three passes as pass rows (ints: a table computes this for
    every node, and times the rows without making objects)."""
    frozen = frozen or (False,) * len(graph.nodes)
    grads = gradients(graph, frozen)
    precision = trace.precision
    param_bytes = ELEMENT_BYTES[precision.param_dtype]
    low_bytes = ELEMENT_BYTES[precision.matmul_dtype]
    consumers = [0] * len(graph.nodes)
    for node in graph.nodes[1:]:
        for j in set(node.inputs):
            consumers[j] += 1
    out: list[NodeRows] = []
    for i, (node, steps) in enumerate(zip(graph.nodes, steps_by_node(graph, trace))):
        if i == 0 or not steps:
            out.append(IDLE_ROWS)
            continue
        klass = op_class(node)
        matrix = klass in MATRIX_CLASSES
        dtype = compute_dtype if matrix else _vector_dtype(steps[-1].output.dtype)
        read_s = read_f = written_s = written_f = kernels = 0
        for step in steps:  # (`_sum_bytes` inlined: a table computes this for every step)
            if step.created:
                for t in step.reads:
                    shown = t.shown
                    read_s += t.nbytes_per_sample if shown is None else shown * ELEMENT_BYTES[t.dtype]
                    read_f += t.nbytes_fixed
                for t in step.created:
                    shown = t.shown
                    written_s += t.nbytes_per_sample if shown is None else shown * ELEMENT_BYTES[t.dtype]
                    written_f += t.nbytes_fixed
                kernels += 1
            elif step.reads and getattr(node.layer, "inplace", False):  # in place: reads and writes its input
                a, c = _sum_bytes(step.reads[:1])
                read_s, read_f, written_s, written_f, kernels = read_s + a, read_f + c, written_s + a, written_f + c, kernels + 1
            if step.new_casts:  # autocast's low-precision copy of the parameters, made once per forward
                read_f += step.new_casts * param_bytes
                written_f += step.new_casts * low_bytes
        params = node.params * (low_bytes if precision.autocast and matrix else param_bytes)
        if kernels:
            read_f += params
        if matrix or klass == "depthwise":
            forward = (klass, dtype, 2 * node.macs, 2 * node.layer.macs_per_forward(), read_s, read_f, written_s,
                       written_f, kernels, reduction(node), 0, positions(node) if klass == "conv" else 0, FORWARD)
        else:  # (no reduction, no GEMM rows)
            forward = (klass, dtype, vector_ops(node) if kernels else 0, 0, read_s, read_f, written_s, written_f,
                       kernels, 0, 0, 0, FORWARD)
        out.append((forward, *_backward(node, steps[-1], forward, grads[i], frozen[i], params, param_bytes,
                                        consumers[i])))
    return out


def _backward(node: Any, last: Any, forward: PassRow, gradient: tuple[int, bool], frozen: bool, params: int,
              param_bytes: int, consumers: int) -> tuple[PassRow | None, PassRow | None]:
    """The input-gradient and weight-gradient passes (None where autograd records nothing)."""
    output = last.output
    if not output.requires_grad:
        return None, None
    klass, dtype, work_s, work_f = forward[:4]
    shown = output.shown  # (`_sum_bytes` of the one tensor, inlined)
    out_s = output.nbytes_per_sample if shown is None else shown * ELEMENT_BYTES[output.dtype]
    out_f = output.nbytes_fixed
    forks = consumers - 1 if consumers > 1 else 0  # gradient accumulation at a fork: read two, write one each
    fork_work, fork_s, fork_f = output.elements * forks, 3 * forks * out_s, 3 * forks * out_f
    reads = last.reads
    in_s = in_f = saved_s = saved_f = 0  # what needs a gradient, and all the op read
    for t in reads:
        shown = t.shown
        nbytes = t.nbytes_per_sample if shown is None else shown * ELEMENT_BYTES[t.dtype]
        saved_s += nbytes
        saved_f += t.nbytes_fixed
        if t.requires_grad:
            in_s += nbytes
            in_f += t.nbytes_fixed
    if klass in MATRIX_CLASSES or klass == "depthwise":
        operands, weights = gradient
        if operands:  # the output's gradient, and the weights (a product of activations: the other operands)
            other_s, other_f = (saved_s, saved_f) if node.layer.arity is None else (0, params)
            read_s, read_f = out_s + other_s + fork_s, out_f + other_f + fork_f
        else:
            read_s, read_f = fork_s, fork_f
        conv = klass == "conv"
        input_grad = (klass, dtype, work_s * operands + fork_work, work_f * operands, read_s, read_f,
                      in_s if operands else 0, in_f if operands else 0, (1 if operands else 0) + forks,
                      reduction(node, gradient=True), 0, positions(node, gradient=True) if conv else 0,
                      INPUT_GRADIENT)
        if not (weights and node.params):
            return input_grad, None
        grads = node.params * param_bytes
        return input_grad, (klass, dtype, work_s, work_f, out_s + saved_s, out_f + saved_f, 0, grads, 1, forward[9],
                            grads if grads >= FRESH_BYTES else 0, 0, WEIGHT_GRADIENT)
    if not forward[8] or node.type in FREE_BACKWARD:
        if not forks:
            return None, None
        return ("vector", dtype, fork_work, 0, fork_s, fork_f, 0, 0, forks, 0, 0, 0, FORWARD), None
    saved_s, saved_f = _sum_bytes(last.saved)
    trained = node.params * param_bytes if node.params and not frozen else 0
    klass = "vector" if klass == "pool" else klass  # a pool's gradient is a scatter through its indices or a spread
    return (klass, dtype, work_s * BACKWARD_VECTOR_OPS + fork_work, work_f * BACKWARD_VECTOR_OPS,
            out_s + saved_s + fork_s, out_f + saved_f + fork_f, in_s, in_f + trained, 1 + forks, 0, 0, 0,
            INPUT_GRADIENT), None
