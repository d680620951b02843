"""`cnncost.sweep`: the totals of one architecture over a grid of configurations, as a tidy pandas
DataFrame, exact, at millions of configurations a second.

How (docs/sweeps.md):

- One compiled graph per distinct structure: a width or depth multiplier rebuilds the net through
  its family's `scale` hook (`register_arch(..., scale=...)`); the input's H and W never change a
  graph's structure, only its sizes.
- The graph is reduced to a *plan*: nodes that apply an equal layer to the same tensor share one
  op (the blocks of a stage, every BN and ReLU after a conv), so a deep net of repeated blocks has
  a short plan.
- The plan is evaluated once for all input resolutions at the same time: H and W are numpy int64
  arrays, one entry per resolution, and the layers' own `out_shape`, `params` and `macs` formulas
  (branch-free in H and W, `cnncost.shapes`) compute every size and count at once.
- Batch, dtype and optimizer are linear: each column is an outer product of per-resolution counts
  with the batch sizes and per-dtype/per-optimizer factors.

Exactness: every figure is an exact integer. The int64 evaluation is used only where it provably
cannot overflow: the built-in layers' counts never decrease when H or W grows, so the plan is also
evaluated once in Python ints at the largest H and W of the grid, and int64 is used only if every
count there is below 2^58; otherwise (and for nets with layer types from outside cnncost) the
same formulas run on numpy object arrays of Python ints. A column is int64 where every value and
the column's sum fit in int64, else Python ints (dtype object); never float.

Under memory="autograd" the saved bytes and the training step's peak come from the memory model
(`cnncost.memory`), traced once per distinct (structure, resolution, dtype); batch and optimizer
are again linear (the peak is the upper envelope of the step's moments, each a line in the batch).
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import types
from typing import Any, Iterable

import numpy as np

from .conventions import DTYPE_BYTES, FLOP_CONVENTION, OPTIMIZER_COPIES, Options
from .errors import CnnCostError
from .net import Net
from .shapes import Shape, numel, parse_shape

INT64_MAX = 2**63 - 1
SAFE = 2**58  # int64 is used when every per-sample count at the grid's largest H and W is below this
# (2^58: sums like 2 x MACs + backward, or 2 x activations + input, stay below 2^61)
COUNTS = ("activations", "params", "macs", "flops", "activation_memory_bytes", "param_memory_bytes",
          "memory_bytes", "backward_flops", "training_flops")
MATMUL = ("conv", "conv_transpose", "linear")  # the layers with MACs, and so with backward FLOPs
AUTOGRAD_COUNTS = ("saved_bytes", "peak_bytes")
INVALID = ("raise", "drop")


# --- the public call ---

def sweep(arch: str | os.PathLike[str] | Net, *, batch: int | Iterable[int] = 128,
          input: Any = None, width: float | Iterable[float] | None = None,
          depth: float | Iterable[float] | None = None, dtype: str | Iterable[str] = "fp32",
          optimizer: str | Iterable[str] = "adam", memory: str = "lecture", device: str = "cuda",
          activations: str = "all", invalid: str = "raise", freeze: str | Iterable[str] = ()) -> Any:
    """Totals of `arch` for every combination of the swept values: a pandas DataFrame, one row per
    configuration.

    Each of batch, input, width, depth, dtype and optimizer takes one value or a list (any
    iterable: `range(1, 257)` works). `input`: "3x224x224", (3, 224, 224) or a single size 224
    (the net's channels, square); default the net's own input. `width` / `depth`: multipliers for
    the families whose builder takes them (resnet, mobilenet, efficientnet, regnet: the `scale`
    hook of `register_arch`, docs/sweeps.md), 1 = the registered net. `invalid="drop"` leaves out configurations the net cannot
    run (an input too small for its kernels); the default raises the error `table` would. `freeze`:
row-path patterns of layers without weight gradients, as in `table` (backward and training FLOPs).

    Columns: `width` and `depth` (when given), `input`, `batch`, `dtype`, `optimizer`, then the
    totals of the JSON contract, `activations`, `params`, `macs`, `flops`,
    `activation_memory_bytes`, `param_memory_bytes`, `memory_bytes`, `backward_flops` and
    `training_flops` (one training step, as `table`'s total), and under memory="autograd"
    `saved_bytes` and `peak_bytes` (the training step's peak). Every row equals
    `cnncost.table(...).totals` for its configuration.

    >>> import cnncost.sweep
    >>> df = cnncost.sweep("resnet50", batch=[1, 64], input=[224, 256])
    >>> df[["input", "batch", "macs"]].to_string(index=False)
    '    input  batch         macs\\n3x224x224      1   3857973248\\n3x224x224     64 246910287872\\n3x256x256      1   5038358528\\n3x256x256     64 322454945792'
    """
    import pandas as pd

    if invalid not in INVALID:
        raise CnnCostError(f"invalid must be one of {', '.join(INVALID)}, got {invalid!r}")
    batches = _positive_ints(batch, "batch")
    dtypes, optimizers = _strings(dtype, "dtype"), _strings(optimizer, "optimizer")
    options = [[Options(batch=1, dtype=d, optimizer=o, activations=activations, memory=memory)  # type: ignore[arg-type]
                for o in optimizers] for d in dtypes]
    dtypes = [row[0].dtype for row in options]  # canonical spellings (float32 -> fp32)
    if memory == "autograd":
        from .memory import Precision
        Precision("fp32", device)  # validates the device
    structures, swept = _structures(arch, width, depth)
    frozen = (freeze,) if isinstance(freeze, str) else tuple(freeze)
    name = structures[0][1].name if len(structures) == 1 else _base_name(arch)

    elements = np.array([DTYPE_BYTES[d] for d in dtypes], dtype=np.int64)
    copies = np.array([OPTIMIZER_COPIES[o] for o in optimizers], dtype=np.int64)
    b = np.array(batches, dtype=np.int64) if max(batches) <= INT64_MAX else np.array(batches, dtype=object)

    labels: dict[str, int] = {}
    blocks = []
    for (w, d), net in structures:
        inputs = _inputs(input, net)
        counts = per_sample(net, inputs, activations=activations, invalid=invalid, freeze=frozen)
        if not counts.inputs:
            continue
        saved = peaks = None
        if memory == "autograd":
            saved, peaks = _autograd(net, counts.inputs, dtypes, optimizers, device)
        codes = np.array([labels.setdefault(_label(s), len(labels)) for s in counts.inputs], dtype=np.int64)
        blocks.append((w, d, counts, codes, saved, peaks))
    names = COUNTS + (AUTOGRAD_COUNTS if memory == "autograd" else ())
    if not blocks:  # invalid="drop" left out every input: an empty frame with the usual columns
        empty = [k for k in ("width", "depth") if k in swept] + ["input", "batch", "dtype", "optimizer"] + list(names)
        frame = pd.DataFrame({k: pd.Series([], dtype=np.int64 if k in names or k == "batch" else object)
                              for k in empty})
        frame.attrs.update({"architecture": name, "memory": memory, "activations": activations,
                            "device": device if memory == "autograd" else None, "flop_convention": FLOP_CONVENTION})
        return frame

    R = [len(block[3]) for block in blocks]
    B, D, O = len(batches), len(dtypes), len(optimizers)
    columns: dict[str, Any] = {}
    for key, values in (("width", [blk[0] for blk in blocks]), ("depth", [blk[1] for blk in blocks])):
        if key in swept:
            columns[key] = np.concatenate([np.full(r * B * D * O, v, dtype=np.float64) for v, r in zip(values, R)])
    codes = np.concatenate([np.repeat(blk[3], B * D * O) for blk in blocks])
    columns["input"] = pd.Categorical.from_codes(codes, categories=list(labels))
    columns["batch"] = _config(b, R, 1, B, D * O)
    columns["dtype"] = pd.Categorical.from_codes(_config(np.arange(D), R, B, D, O), categories=dtypes)
    columns["optimizer"] = pd.Categorical.from_codes(_config(np.arange(O), R, B * D, O, 1), categories=optimizers)

    def factors(i: int, blk: Any) -> dict[str, list[list[Any]]]:
        c = blk[2]
        r = R[i]
        P, M, A, I, BW = (v.reshape(r, 1, 1, 1) for v in (c.params, c.macs, c.activations, c.input, c.backward))
        bb, e, k = b.reshape(1, B, 1, 1), elements.reshape(1, 1, D, 1), copies.reshape(1, 1, 1, O)
        A2 = 2 * A + I  # the lecture's rule: 2 x activations, the input once
        out = {"activations": [[A + I, bb]], "params": [[P]], "macs": [[M, bb]], "flops": [[2 * M, bb]],
               "activation_memory_bytes": [[A2, bb, e]], "param_memory_bytes": [[P, e, k]],
               "memory_bytes": [[A2, bb, e], [P, e, k]], "backward_flops": [[BW, bb]],
               "training_flops": [[2 * M + BW, bb]]}
        if blk[4] is not None:
            sp, sf = blk[4]
            out["saved_bytes"] = [[sp.reshape(r, 1, D, 1), bb], [sf.reshape(r, 1, D, 1)]]
        return out

    terms = [factors(i, blk) for i, blk in enumerate(blocks)]
    shapes = [(r, B, D, O) for r in R]
    for key in names:
        if key == "peak_bytes":
            columns[key] = _column_of([_peak(blk[5], b) for blk in blocks], shapes)
        else:
            columns[key] = _column([t[key] for t in terms], shapes)
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs.update({"architecture": name, "memory": memory, "activations": activations,
                        "device": device if memory == "autograd" else None,
                        "flop_convention": FLOP_CONVENTION})
    return frame


# --- arguments ---

def _positive_ints(value: Any, what: str) -> list[int]:
    values = [value] if isinstance(value, (int, np.integer)) else list(value)
    if not values:
        raise CnnCostError(f"{what} needs at least one value")
    for v in values:
        if isinstance(v, np.integer):
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise CnnCostError(f"{what} must be positive integers, got {v!r}")
    return [int(v) for v in values]


def _strings(value: Any, what: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    if not values:
        raise CnnCostError(f"{what} needs at least one value")
    return [str(v) for v in values]


def _multipliers(value: Any, what: str) -> list[float] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else list(value)
    if not values:
        raise CnnCostError(f"{what} needs at least one value")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v > 0 \
                or not math.isfinite(v):
            raise CnnCostError(f"{what} multipliers must be positive numbers, got {v!r}")
        out.append(float(v))
    return out


def _inputs(value: Any, net: Net) -> list[Shape]:
    """The input shapes: strings "3x224x224", tuples, or single sizes (the net's channels, square)."""
    if value is None:
        return [net.input]
    items = [value] if isinstance(value, (str, int)) or (isinstance(value, tuple) and value
                                                         and all(isinstance(v, int) for v in value)) else list(value)
    if not items:
        raise CnnCostError("input needs at least one value")
    out = []
    for item in items:
        if isinstance(item, np.integer):
            item = int(item)
        if isinstance(item, int) and not isinstance(item, bool):
            shape: Shape = (net.input[0], item, item)
        elif isinstance(item, str):
            try:
                shape = parse_shape(item) if "x" in item.lower() or "," in item else (net.input[0], int(item), int(item))
            except ValueError as error:
                raise CnnCostError(f"input: {error}") from None
        else:
            shape = tuple(int(v) for v in item)
        if len(shape) != len(net.input) or any(d < 1 for d in shape):
            raise CnnCostError(f"input {shape!r} must be {len(net.input)} positive sizes like "
                               f"{'x'.join(map(str, net.input))}")
        out.append(shape)
    return out


def _label(shape: Shape) -> str:
    return "x".join(map(str, shape))


def _base_name(arch: Any) -> str:
    return arch.name if isinstance(arch, Net) else os.fspath(arch)


def _structures(arch: Any, width: Any, depth: Any) -> tuple[list[tuple[tuple[float, float], Net]], set[str]]:
    """((width, depth), Net) per distinct combination; `swept`: which of the two were given."""
    from .api import load
    widths, depths = _multipliers(width, "width"), _multipliers(depth, "depth")
    swept = {k for k, v in (("width", widths), ("depth", depths)) if v is not None}
    base = load(arch)
    if not swept:
        return [((1.0, 1.0), base)], swept
    scale = None
    if isinstance(arch, str) and not isinstance(arch, os.PathLike):
        from .zoo.registry import ARCHS, arch_info
        try:
            scale = arch_info(arch).scale
        except CnnCostError:
            scale = None
        if scale is None and any(v != 1 for v in (widths or []) + (depths or [])):
            hooked = sorted(n for n, a in ARCHS.items() if a.scale is not None)
            raise CnnCostError(f"'{arch}' has no width/depth scaling hook; architectures that take width and "
                               f"depth multipliers: {', '.join(hooked[:12])}{', ...' if len(hooked) > 12 else ''}")
    elif any(v != 1 for v in (widths or []) + (depths or [])):
        raise CnnCostError("width and depth multipliers need a built-in architecture with a scaling hook "
                           "(a spec file or a Net has none); sweep the resolution and batch instead")
    out = []
    for w in widths or [1.0]:
        for d in depths or [1.0]:
            net = base if (w, d) == (1.0, 1.0) or scale is None else scale(w, d)
            out.append(((w, d), net))
    return out, swept


# --- per-sample counts, vectorised over the resolutions ---

@dataclasses.dataclass
class PerSample:
    """Per-sample totals at each valid input (numpy arrays, int64 or object): params, MACs,
    activations of the layers (the input not included) and elements of the input."""

    inputs: list[Shape]
    params: Any
    macs: Any
    activations: Any
    input: Any
    backward: Any  # backward FLOPs of one training step (cnncost.counting's exact convention)


def per_sample(net: Net, inputs: list[Shape], *, activations: str = "all", invalid: str = "raise",
               freeze: tuple[str, ...] = ()) -> PerSample:
    """Exact per-sample totals of `net` at every input shape, evaluated once per channel count."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, shape in enumerate(inputs):
        groups.setdefault(shape[:-2] if len(shape) == 3 else shape, []).append(i)
    lecture = activations == "lecture"
    results: dict[int, tuple[Any, Any, Any, Any]] = {}
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
            results[i] = tuple(c[j] for c in counts)  # type: ignore[assignment]
    keep = sorted(results)
    if not keep:
        return PerSample([], *(np.zeros(0, dtype=np.int64),) * 5)
    cols = list(zip(*(results[i] for i in keep)))
    return PerSample([inputs[i] for i in keep], *(_array(col) for col in cols))


def _array(values: Iterable[Any]) -> Any:
    values = [int(v) for v in values]
    if all(0 <= v < SAFE for v in values):
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _valid_members(net: Net, shapes: list[Shape], invalid: str) -> list[bool] | None:
    """Compile at the first shape (the structure); if that fails, find which shapes are valid."""
    from .graph import compile
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
    from .graph import compile
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
    error.problem = f"{error.problem} (at input {_label(shape)})"
    return error


def _scalar_counts(net: Net, shape: Shape, lecture: bool, freeze: tuple[str, ...] = ()) -> tuple[int, int, int, int, int]:
    """A flat (F,) input: the plan evaluated on it in Python ints."""
    plan = _plan(net, shape, lecture, freeze)
    p, m, a, _, bw = _evaluate(plan, shape, None, None)
    return p, m, a, numel(shape), bw


def _frozen(graph: Any, freeze: tuple[str, ...]) -> tuple[bool, ...]:
    """The nodes `freeze` matches; a pattern matching nothing is `table`'s error (a typo)."""
    if not freeze:
        return (False,) * len(graph.nodes)
    from .counting.annotate import check_patterns
    from .counting.training import frozen_nodes
    check_patterns(graph, freeze)
    return frozen_nodes(graph, freeze)


class _Plan:
    """A compiled graph reduced to distinct ops: `ops[i]` = (layer, input op indices), op 0 the
    input; `weights`: per op, how many nodes it stands for (params and MACs), how many of them
    count their tensor (activations), and under the lecture's count how many block outputs it is."""

    __slots__ = ("ops", "keys", "mult", "made", "outputs", "backward", "builtin", "bounds")

    def __init__(self, ops: list[tuple[Any, tuple[int, ...]]], keys: list[Any], mult: list[int], made: list[int],
                 outputs: list[int], backward: list[int], builtin: bool) -> None:
        self.ops, self.keys, self.mult, self.made, self.outputs, self.builtin = ops, keys, mult, made, outputs, builtin
        self.backward = backward  # per op: 2 x (weight gradient + input gradient if needed), in MACs
        self.bounds: dict[tuple[int, int], bool] = {}  # (channels, side) -> int64 is safe up to side x side


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
    """The plan of `net` at input channels `shape[0]` (cached on the Net: any H and W share it);
    `freeze` patterns remove weight gradients from backward FLOPs, as in `table`."""
    from .graph import compile
    cache: dict[Any, _Plan] = net.__dict__.setdefault("_sweep_plans", {})
    key = (shape[:-2], lecture, freeze)
    plan = cache.get(key)
    if plan is not None:
        return plan
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
    mult, made, outputs = [0] * n, [0] * n, [0] * n
    counted = [1] * len(nodes)
    block_out: list[int] = []
    if lecture:  # as report._counted_leaves: folded layers store nothing, a module only its output
        counted = [1 if node.tabulated else 0 for node in nodes]
        covered = 0
        for block in sorted((b for b in graph.blocks if not b.grouping and b.stop > b.first),
                            key=lambda b: (b.first, -b.stop)):
            if block.first >= covered:
                covered = block.stop
                for i in range(block.first, block.stop):
                    counted[i] = 0
                block_out.append(block.stop - 1)
    backward = [0] * n
    grad = [False] * len(nodes)  # the node's output needs a gradient (autograd's rule; the image does not)
    frozen = _frozen(graph, freeze)
    for i in range(1, len(nodes)):
        node = nodes[i]
        needs = any(grad[j] for j in node.inputs)
        grad[i] = needs or (node.params > 0 and not frozen[i])
        mult[node_op[i]] += 1
        made[node_op[i]] += counted[i]
        if node.type in MATMUL:  # weight gradient unless frozen, the input's when it needs one: 2 FLOPs a MAC each
            backward[node_op[i]] += 2 * ((not frozen[i]) + needs)
    for i in block_out:
        outputs[node_op[i]] += 1
    builtin = all(type(layer).__module__.startswith("cnncost.layers.") for layer, _ in ops[1:])
    if len(cache) > 16:
        cache.clear()
    plan = cache[key] = _Plan(ops, keys, mult, made, outputs, backward, builtin)
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
        else:
            xs = tuple(shapes[j] for j in ins)
            x = xs[0]
            y = layer.merge_shape(xs)
        key = tuple(v if type(v) is int else ~id(v) for v in y)
        size = sized.get(key)
        if size is None:
            size = sized[key] = numel(y)
        result = (y, key, layer.params(x), layer.macs(x, y), size, size if layer.creates_tensor() else 0)
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
    safe = False
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
    for v in (p, m, a, channels * H * W, bw):
        if type(v) is int or np.ndim(v) == 0:
            v = np.full(r, int(v), dtype=np.int64 if safe else object)
        out.append(v)
    return tuple(out)  # type: ignore[return-value]


# --- autograd: saved bytes and the step's peak ---

def _autograd(net: Net, inputs: list[Shape], dtypes: list[str], optimizers: list[str], device: str):
    """saved = (per_sample, fixed) arrays of shape (R, D); peaks[r][d][o] = the step's moments
    reduced to their upper envelope, as (per_sample, fixed) int arrays."""
    from .graph import compile
    from .memory import Precision, step_memory, trace
    R, D = len(inputs), len(dtypes)
    sp = np.empty((R, D), dtype=object)
    sf = np.empty((R, D), dtype=object)
    peaks: list[list[list[tuple[list[int], list[int]]]]] = []
    for r, shape in enumerate(inputs):
        graph = compile(net, shape)
        row = []
        for d, dtype in enumerate(dtypes):
            traced = trace(graph, precision=Precision(dtype, device))
            saved = traced.saved()
            sp[r, d], sf[r, d] = saved.per_sample, saved.fixed
            row.append([step_memory(traced, o).envelope() for o in optimizers])
        peaks.append(row)
    return (_narrow(sp), _narrow(sf)), peaks


def _narrow(array: Any) -> Any:
    values = array.ravel().tolist()
    if values and max(values) <= INT64_MAX:
        return np.array(values, dtype=np.int64).reshape(array.shape)
    return array


def _peak(peaks: Any, b: Any) -> Any:
    """Peak bytes, shape (R, B, D, O): the max over each step's envelope lines at every batch."""
    R, D, O = len(peaks), len(peaks[0]), len(peaks[0][0])
    B = len(b)
    bound = max(max(a) * int(b.max()) + max(c) for row in peaks for cell in row for a, c in cell)
    exact = bound > INT64_MAX
    out = np.empty((R, B, D, O), dtype=object if exact else np.int64)
    bb = b.astype(object) if exact else b
    for r in range(R):
        for d in range(D):
            for o in range(O):
                a, c = peaks[r][d][o]
                if exact:
                    A = np.array(a, dtype=object)
                    C = np.array(c, dtype=object)
                else:
                    A, C = np.array(a, dtype=np.int64), np.array(c, dtype=np.int64)
                out[r, :, d, o] = (A[:, None] * bb[None, :] + C[:, None]).max(axis=0)
    return out


# --- columns ---

def _config(values: Any, R: list[int], outer: int, n: int, inner: int) -> Any:
    """A configuration column: `values` (length n) repeated `inner` times each, the whole
    `outer` times, per block of R resolutions."""
    one = np.tile(np.repeat(values, inner), outer)
    return np.concatenate([np.tile(one, r) for r in R]) if len(R) > 1 else np.tile(one, R[0])


def _column(terms_per_block: list[list[list[Any]]], shapes: list[tuple[int, ...]]) -> Any:
    """A count column: per block, a sum of products of broadcastable factors (each factor spans
    its own axes), laid out C-order over (resolution, batch, dtype, optimizer). int64 when every
    value and the column's sum provably fit: the bound and the sum are computed exactly in Python
    ints from the factors, which are small."""
    bound = total = 0
    for terms, shape in zip(terms_per_block, shapes):
        size, hi_block = math.prod(shape), 0
        for factors in terms:
            hi, s, covered = 1, 1, 1
            for f in factors:
                values = f.ravel().tolist()
                hi *= max(max(values), 1)  # bounds every partial product too
                s *= sum(values)
                covered *= len(values)
            hi_block += hi
            total += s * (size // covered)
        bound = max(bound, hi_block)
    values_fit = bound <= INT64_MAX  # every value, and every partial product, fits: int64 arithmetic is exact
    parts = []
    for terms, shape in zip(terms_per_block, shapes):
        value = None
        for factors in terms:
            prod = factors[0] if values_fit else factors[0].astype(object)
            for f in factors[1:]:
                prod = prod * (f if values_fit else f.astype(object))
            value = prod if value is None else value + prod
        parts.append(np.broadcast_to(value, shape).reshape(-1))
    column = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if values_fit:
        column = column.astype(np.int64, copy=False)
        return column if total <= INT64_MAX else column.astype(object)  # the sum would wrap: Python ints
    return _exact(column)


def _column_of(arrays: list[Any], shapes: list[tuple[int, ...]]) -> Any:
    column = np.concatenate([a.reshape(-1) for a in arrays]) if len(arrays) > 1 else arrays[0].reshape(-1)
    if column.dtype != object:
        if int(column.max()) * len(column) <= INT64_MAX or sum(column.tolist()) <= INT64_MAX:
            return column
        return column.astype(object)  # every value fits, the sum does not: Python ints
    return _exact(column)


def _exact(column: Any) -> Any:
    """count_column's rule on an object column: int64 if every value and the sum fit."""
    values = column.tolist()
    if max(values) <= INT64_MAX and sum(values) <= INT64_MAX:
        return np.array(values, dtype=np.int64)
    return column if column.dtype == object else column.astype(object)


class _CallableModule(types.ModuleType):
    """`import cnncost.sweep` binds the package's `sweep` to this module; calling it sweeps."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
