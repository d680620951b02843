"""A sweep's per-sample quantities at many input resolutions at once (`cnncost.sweeps`).

The compiled graph is reduced to a *plan*: nodes that apply an equal layer to the same tensor
share one op (the blocks of a stage, every BN and ReLU after a conv), so a deep net of repeated
blocks has a short plan. The plan is evaluated once for all input resolutions at the same time:
H and W are numpy int64 arrays, one entry per resolution, and the layers' own `out_shape`,
`params` and `macs` formulas (branch-free in H and W, `cnncost.shapes`) compute every size and
count at once. Which tensors count and what the backward pass costs are the table's rules
(`cnncost.costs.activation_weights`, `cnncost.counting.training.backward_per_mac`), per node.

Exactness: the int64 evaluation is used only where it provably cannot overflow: the built-in
layers' counts never decrease when H or W grows, so the plan is also evaluated once in Python
ints at the largest H and W of the grid, and int64 is used only if every count there is below
2^58; otherwise (and for nets with layer types from outside cnncost) the same formulas run on
numpy object arrays of Python ints.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import numpy as np

from .costs import activation_weights, fixed_macs
from .counting.training import backward_per_mac, check_patterns, frozen_nodes
from .errors import CnnCostError
from .graph import compile
from .net import Net
from .shapes import Shape, numel, shape_text

SAFE = 2**58  # int64 is used when every per-sample count at the grid's largest H and W is below this
# (2^58: sums like 2 x MACs + backward, or 2 x activations + input, stay below 2^61)


@dataclasses.dataclass
class PerSample:
    """Per-sample totals at each valid input (numpy arrays, int64 or object), named as the cost
    pass's quantities (`cnncost.costs.Quantities`)."""

    inputs: list[Shape]
    params: Any
    macs: Any
    stored: Any  # activation elements of the layers (the input not included)
    input: Any  # elements of the input
    backward: Any  # backward FLOPs of one training step (cnncost.counting's exact convention)
    fixed_macs: Any = None  # MACs done once per forward whatever the batch (None: none); their backward
    fixed_backward: Any = None

    def quantities(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "inputs"}


def per_sample(net: Net, inputs: list[Shape], *, activations: str = "all", invalid: str = "raise",
               freeze: tuple[str, ...] = ()) -> PerSample:
    """Exact per-sample totals of `net` at every input shape, evaluated once per channel count."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, shape in enumerate(inputs):
        groups.setdefault(shape[:-2] if len(shape) == 3 else shape, []).append(i)
    lecture = activations == "lecture"
    results: dict[int, tuple[Any, ...]] = {}
    keep = []
    for lead, members in groups.items():
        shapes = [inputs[i] for i in members]
        if len(inputs[members[0]]) != 3:  # a flat input: no spatial axes to vectorise
            ok = _check_each(net, shapes, invalid)
            for i, shape in zip(members, shapes):
                if ok[shapes.index(shape)]:
                    results[i] = _scalar_counts(net, shape, lecture, freeze)
            continue
        valid = _valid_members(net, shapes, invalid)
        if valid is None:  # none of them compiles
            continue
        members = [m for m, v in zip(members, valid) if v]
        shapes = [inputs[i] for i in members]
        plan = _plan(net, shapes[0], lecture, freeze)
        H = np.array([s[1] for s in shapes], dtype=np.int64)
        W = np.array([s[2] for s in shapes], dtype=np.int64)
        try:
            counts = _evaluate_grid(plan, lead[0], H, W)
        except CnnCostError:
            ok = _check_each(net, shapes, invalid)
            members = [m for m, v in zip(members, ok) if v]
            shapes = [inputs[i] for i in members]
            if not members:
                continue
            H, W = H[np.array(ok)], W[np.array(ok)]
            counts = _evaluate_grid(plan, lead[0], H, W)
        for j, i in enumerate(members):
            results[i] = tuple(c[j] for c in counts)
    keep = sorted(results)
    if not keep:
        return PerSample([], *(np.zeros(0, dtype=np.int64),) * 5)
    cols = list(zip(*(results[i] for i in keep)))
    per_sample = PerSample([inputs[i] for i in keep], *(_array(col) for col in cols))
    return _with_fixed(per_sample, net, freeze)


def _with_fixed(counts: PerSample, net: Net, freeze: tuple[str, ...]) -> PerSample:
    """The work done once per forward (parameters alone: its size does not follow the input's), at
    every input: present only where the net does some."""
    graph = compile(net, counts.inputs[0])
    fixed = fixed_macs(graph)
    if fixed is None:
        return counts
    frozen = frozen_nodes(graph, freeze)
    backward = sum(node.layer.backward_per_forward(not f) for node, f, m in zip(graph.nodes, frozen, fixed) if m)  # type: ignore[union-attr, misc]  # fixed: layer nodes
    r = len(counts.inputs)
    return dataclasses.replace(counts, fixed_macs=_array([sum(fixed)] * r), fixed_backward=_array([backward] * r))


def _array(values: Iterable[Any]) -> Any:
    values = [int(v) for v in values]
    if all(0 <= v < SAFE for v in values):
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _valid_members(net: Net, shapes: list[Shape], invalid: str) -> list[bool] | None:
    """Compile at the first shape (the structure); if that fails, find which shapes are valid."""
    try:
        compile(net, shapes[0])
        return [True] * len(shapes)
    except CnnCostError as error:
        if invalid == "raise":
            raise _at_input(error, shapes[0]) from None
    ok = _check_each(net, shapes, invalid)
    return ok if any(ok) else None


def _check_each(net: Net, shapes: list[Shape], invalid: str) -> list[bool]:
    """Which shapes the net can run, compiled one at a time (only after a vectorised check failed)."""
    ok = []
    for shape in shapes:
        try:
            compile(net, shape)
            ok.append(True)
        except CnnCostError as error:
            if invalid == "raise":
                raise _at_input(error, shape) from None
            ok.append(False)
    return ok


def _at_input(error: CnnCostError, shape: Shape) -> CnnCostError:
    error.problem = f"{error.problem} (at input {shape_text(shape)})"
    return error


def _scalar_counts(net: Net, shape: Shape, lecture: bool, freeze: tuple[str, ...] = ()) -> tuple[int, int, int, int, int]:
    """A flat (F,) input: the plan evaluated on it in Python ints."""
    plan = _plan(net, shape, lecture, freeze)
    p, m, a, _, bw = _evaluate(plan, shape, None, None)
    return p, m, a, numel(shape) + plan.more_input, bw


def _frozen(graph: Any, freeze: tuple[str, ...]) -> tuple[bool, ...]:
    """The nodes `freeze` matches; a pattern matching nothing is `table`'s error (a typo)."""
    check_patterns(graph, freeze)
    return frozen_nodes(graph, freeze)


class _Plan:
    """A compiled graph reduced to distinct ops: `ops[i]` = (layer, input op indices), op 0 the
    input; `weights`: per op, how many nodes it stands for (params and MACs), how many of them
    count their tensor (activations), and under the lecture's count how many block outputs it is."""

    __slots__ = ("ops", "keys", "mult", "made", "outputs", "backward", "builtin", "bounds", "copies", "more_input")

    def __init__(self, ops: list[tuple[Any, tuple[int, ...]]], keys: list[Any], mult: list[int], made: list[int],
                 outputs: list[int], backward: list[int], builtin: bool, copies: list[bool]) -> None:
        self.ops, self.keys, self.mult, self.made, self.outputs, self.builtin = ops, keys, mult, made, outputs, builtin
        # per op: a view that copies (a reshape of a view its strides cannot view), as compiled at the plan's
        # input; the strides do not depend on H and W unless a size becomes 1
        self.copies = copies
        self.backward = backward  # per op: backward FLOPs per MAC, summed over its nodes
        self.bounds: dict[tuple[int, int], bool] = {}  # (channels, side) -> int64 is safe up to side x side
        self.more_input = 0  # elements of the net's further inputs (fixed sizes: a sweep varies the first)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _layer_key(layer: Any) -> Any:
    """Layers equal but for their name (and the names they read) compute the same thing."""
    cls = type(layer)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("name", "inputs"))
    key = (cls, *(getattr(layer, n) for n in names))
    try:
        hash(key)
    except TypeError:
        return ("id", id(layer))
    return key


def _plan(net: Net, shape: Shape, lecture: bool, freeze: tuple[str, ...] = ()) -> _Plan:
    """The plan of `net` at input channels `shape[0]`, remembered per net; `freeze` patterns
    remove weight gradients from backward FLOPs, as in `table`."""
    plans = net.memo.setdefault("sweep plans", {})  # any H and W share a plan
    variant = (shape[:-2], lecture, freeze)
    plan = plans.get(variant)
    if plan is None:
        if len(plans) >= 16:
            plans.clear()
        plan = plans[variant] = _make_plan(net, shape, lecture, freeze)
    return plan


def _make_plan(net: Net, shape: Shape, lecture: bool, freeze: tuple[str, ...]) -> _Plan:
    graph = compile(net, shape)
    nodes = graph.nodes
    index: dict[Any, int] = {}
    ops: list[tuple[Any, tuple[int, ...]]] = [(None, ())]
    keys: list[Any] = [None]
    node_op = [0] * len(nodes)
    for i in range(1, len(nodes)):
        node = nodes[i]
        ins = tuple(node_op[j] for j in node.inputs)
        layer_key = _layer_key(node.layer)
        k = (layer_key, ins)
        op = index.get(k)
        if op is None:
            op = index[k] = len(ops)
            ops.append((node.layer, ins))
            keys.append(layer_key)
        node_op[i] = op
    n = len(ops)
    mult, made, outputs, backward = [0] * n, [0] * n, [0] * n, [0] * n
    copies = [False] * n
    counted, block_outputs = activation_weights(graph, "lecture" if lecture else "all")
    per_mac = backward_per_mac(graph, _frozen(graph, freeze))
    n_inputs = len(graph.inputs)
    for i in range(1, len(nodes)):
        op = node_op[i]
        mult[op] += 1
        made[op] += counted[i] if i >= n_inputs else 0  # a further input counts as input, as in the table
        outputs[op] += block_outputs[i]
        backward[op] += per_mac[i]
        copies[op] = copies[op] or (nodes[i].activations > 0 and not nodes[i].layer.creates_tensor())  # type: ignore[union-attr]
    builtin = all(type(layer).__module__.startswith("cnncost.layers.") for layer, _ in ops[1:])
    plan = _Plan(ops, keys, mult, made, outputs, backward, builtin, copies)
    plan.more_input = sum(numel(nodes[i].output_shape) for i in graph.inputs[1:])
    return plan


def _evaluate(plan: _Plan, channels: Any, H: Any, W: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(params, macs, activations, elements of every op's output, backward FLOPs) summed over the
    plan's weights; H and W are ints or arrays of them (one entry per resolution). `channels` may
    be a whole flat input shape (F,), with H and W None."""
    ops, keys = plan.ops, plan.keys
    n = len(ops)
    shapes: list[Any] = [None] * n
    shapes[0] = channels if H is None else (channels, H, W)
    shape_keys: list[Any] = [None] * n
    shape_keys[0] = tuple(v if type(v) is int else ~id(v) for v in shapes[0])  # ~id: never a size
    params: list[Any] = [0] * n
    macs: list[Any] = [0] * n
    made: list[Any] = [0] * n
    sizes: list[Any] = [0] * n
    sized: dict[Any, Any] = {}
    done: dict[Any, tuple[Any, ...]] = {}  # (layer, input sizes) -> results: equal layers on equal shapes
    for i in range(1, n):
        layer, ins = ops[i]
        memo = (keys[i], tuple(shape_keys[j] for j in ins))
        hit = done.get(memo)
        if hit is not None:
            shapes[i], shape_keys[i], params[i], macs[i], sizes[i], made[i] = hit
            continue
        if layer.arity == 1:
            x = shapes[ins[0]]
            y = layer.out_shape(x)
            layer_params, layer_macs = layer.params(x), layer.macs(x, y)
        else:
            xs = tuple(shapes[j] for j in ins)
            y = layer.merge_shape(xs)
            layer_params, layer_macs = layer.merge_params(xs), layer.merge_macs(xs, y)
        key = tuple(v if type(v) is int else ~id(v) for v in y)
        size = sized.get(key)
        if size is None:
            size = sized[key] = numel(y)
        result = (y, key, layer_params, layer_macs, size, size if layer.creates_tensor() or plan.copies[i] else 0)
        done[memo] = result
        shapes[i], shape_keys[i], params[i], macs[i], sizes[i], made[i] = result
    activations = _weighted(made, plan.made)
    if any(plan.outputs):
        activations = activations + _weighted(sizes, plan.outputs)
    return (_weighted(params, plan.mult), _weighted(macs, plan.mult), activations, _weighted(sizes, plan.mult),
            _weighted(macs, plan.backward))


def _weighted(values: list[Any], weights: list[int]) -> Any:
    """sum(w * v): ints in Python, arrays with one dot product (each distinct array once)."""
    scalar = 0
    arrays: dict[int, list[Any]] = {}
    for v, w in zip(values, weights):
        if not w:
            continue
        if type(v) is int:
            scalar += w * v
        else:
            entry = arrays.get(id(v))
            if entry is None:
                arrays[id(v)] = [v, w]
            else:
                entry[1] += w
    if not arrays:
        return scalar
    items = list(arrays.values())
    first = items[0][0]
    if len(items) == 1:
        total = first * items[0][1]
    else:
        stacked = np.stack([np.broadcast_to(a, first.shape) for a, _ in items])
        total = np.array([w for _, w in items], dtype=first.dtype) @ stacked
    return total + scalar if scalar else total


def _safe(plan: _Plan, channels: int, h: int, w: int) -> bool:
    """Every count at input (channels, h, w), in Python ints, is below 2^58: then, the built-in
    layers' counts being non-decreasing in H and W, int64 cannot overflow anywhere below it."""
    try:
        bound = _evaluate(plan, channels, h, w)
    except CnnCostError:  # not a valid input (shapes that agree only at some sizes)
        return False
    return max(bound) < SAFE and channels * h * w < SAFE


def _evaluate_grid(plan: _Plan, channels: int, H: Any, W: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(params, macs, activations, input elements, backward FLOPs) per resolution, exact: int64 where the bound at
    the grid's largest H and W proves it cannot overflow, else Python ints in object arrays."""
    safe: bool | None = False
    if plan.builtin:
        h, w = int(H.max()), int(W.max())
        side = 1024  # a bound at side x side holds for every grid inside it: cached, most grids need no pass
        while side < max(h, w):
            side *= 2
        safe = plan.bounds.get((channels, side))
        if safe is None:
            safe = plan.bounds[(channels, side)] = _safe(plan, channels, side, side)
        if not safe:  # the square bound failed (too large, or not a valid input): the grid's own corner
            safe = _safe(plan, channels, h, w)
    if not safe:
        H, W = H.astype(object), W.astype(object)
    p, m, a, _, bw = _evaluate(plan, channels, H, W)
    r = len(H)
    out = []
    for v in (p, m, a, channels * H * W + plan.more_input, bw):
        if type(v) is int or np.ndim(v) == 0:
            v = np.full(r, int(v), dtype=np.int64 if safe else object)
        out.append(v)
    return tuple(out)
