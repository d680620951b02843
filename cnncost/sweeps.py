"""`cnncost.sweep`: the totals of one architecture over a grid of configurations, as a tidy pandas
DataFrame, exact, at millions of configurations a second.

How (docs/sweeps.md):

- One compiled graph per distinct structure: a width or depth multiplier rebuilds the net through
  its family's `scale` hook (`register_arch(..., scale=...)`); the input's H and W never change a
  graph's structure, only its sizes.
- The per-sample quantities of the cost pass (`cnncost.costs`) are evaluated for every input
  resolution at once (`cnncost.sweep_plan`).
- Each column is its registered formula (`cnncost.columns`), the one a table's total uses, on
  numpy arrays laid out over (resolution, batch, dtype, optimizer): batch, dtype and optimizer
  enter as broadcast axes. A column is int64 where every value and the column's sum fit in int64
  (bounded exactly beforehand: the formulas are non-decreasing in every quantity), else Python
  ints (dtype object); never float.

Under memory="autograd" the saved bytes and the training step's peak come from the memory model
(`cnncost.memory`), traced once per distinct (structure, resolution, dtype); batch and optimizer
are again linear (the peak is the upper envelope of the step's moments, each a line in the batch).
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from .api import _job_of, _links
from .columns import COLUMNS, Column, sweep_columns
from .conventions import DTYPE_BYTES, FLOP_CONVENTION, OPTIMIZER_COPIES, Options, memory_dtype
from .costs import Quantities, _recompute_per_node
from .errors import CnnCostError
from .literals import ActivationCount, Device, DType, MemoryConvention, Optimizer
from .net import Net
from .shapes import Shape, parse_shape, shape_text
from .sweep_plan import per_sample

INT64_MAX = 2**63 - 1
INVALID = ("raise", "drop")
DEFAULT_BATCH = 128  # the lecture's


# --- the public call ---

def sweep(arch: str | os.PathLike[str] | Net | Any, *, batch: int | Iterable[int] | None = None,
          input: Any = None, input_size: Sequence[int] | None = None, width: float | Iterable[float] | None = None,
          depth: float | Iterable[float] | None = None, dtype: DType | Iterable[DType] = "fp32",
          optimizer: Optimizer | Iterable[Optimizer] = "adam", memory: MemoryConvention = "lecture",
          device: Device = "cuda", activations: ActivationCount = "all", invalid: Literal["raise", "drop"] = "raise",
          freeze: str | Iterable[str] = (), torch_version: str | None = None, hardware: Any = None,
          accumulate: int = 1, checkpoint: str | Iterable[str] = (), checkpoint_save: str | Iterable[str] = (),
          parallel: dict[str, Any] | None = None, setup: Any = None, nodes: int | None = None,
          network_bandwidth: int | str | None = None, reduce_dtype: str | None = None) -> Any:
    """Totals of `arch` for every combination of the swept values: a pandas DataFrame, one row per
    configuration.

    `arch`: anything `cnncost.table` takes (a name, a spec file, a Net, an `nn.Module`, an ONNX
    file, a torch source). Each of batch (default 128), input, width, depth, dtype and optimizer
    takes one value or a list (any iterable: `range(1, 257)` works). `input`: "3x224x224",
    (3, 224, 224) or a single size 224 (the net's channels, square); default the net's own input.
    One shape (a tuple or text; a list is several inputs) is also the size a torch model is
    imported at; torchinfo's (B, C, H, W), as `input_size` or (no `batch` given) as `input` for an
    image model, is one input and its batch (`cnncost.resolve.resolve_sized`). `width` / `depth`: multipliers for
    the families whose builder takes them (resnet, mobilenet, efficientnet, regnet: the `scale`
    hook of `register_arch`, docs/sweeps.md), 1 = the registered net. `invalid="drop"` leaves out configurations the net cannot
    run (an input too small for its kernels); the default raises the error `table` would. `freeze`:
row-path patterns of layers without weight gradients, as in `table` (backward and training FLOPs).
    `device` and `torch_version` as in `table` (under memory="autograd"). Under memory="autograd",
    `accumulate`, `checkpoint` (block paths, patterns or policies: resolved per resolution),
    `checkpoint_save` and `parallel` (several GPUs: the peak per rank) shape the step as in `table`;
    with `checkpoint` the column `recompute_flops` (in `training_flops` too). `setup` (a
    `cnncost.Setup`, mode train): the job in one object in place of optimizer, freeze and those.
    With `hardware` the time columns are that job's step, as `table` times it (the recompute, the
    micro-steps, several GPUs' communication: `nodes`, `network_bandwidth`, `reduce_dtype` as in
    `table`; docs/sweeps.md).

    Columns: `width` and `depth` (when given), `input` (text), its sizes as ints (`input_channels`,
    `input_height`, `input_width`; C x L: `input_length`; C x D x H x W: `input_depth` too),
    `batch`, `dtype`, `optimizer`, then the
    totals of the JSON contract, `activations`, `params`, `macs`, `flops`,
    `activation_memory_bytes`, `param_memory_bytes`, `memory_bytes`, `backward_flops` and
    `training_flops` (one training step, as `table`'s total), and under memory="autograd"
    `saved_bytes` and `peak_bytes` (the training step's peak); with `hardware` (a profile's name
    or file, as in `table`) the time model's columns (`cnncost.sweep_time`, docs/sweeps.md). Every row equals
    `cnncost.table(...).totals` for its configuration.

    >>> import cnncost
    >>> df = cnncost.sweep("resnet50", batch=[1, 64], input=[224, 256])
    >>> df[["input", "batch", "macs"]].to_string(index=False)
    '    input  batch         macs\\n3x224x224      1   3857973248\\n3x224x224     64 246910287872\\n3x256x256      1   5038358528\\n3x256x256     64 322454945792'
    """
    import pandas as pd

    if setup is not None:  # the job as one object: its optimizer, freezing and step setup
        # ["adam"]: the default as a one-item list, not a clash with the setup's optimizer
        optimizer, mode, freeze, accumulate, checkpoint, checkpoint_save, parallel = _job_of(
            setup, "int8" if setup.int8 else "fp32", optimizer if optimizer != ["adam"] else "adam", "train", freeze,
            accumulate, checkpoint, checkpoint_save, parallel)
        if mode != "train":
            raise CnnCostError("sweep models the training step (and the lecture's rule): give a Setup with mode 'train'")
    if invalid not in INVALID:
        raise CnnCostError(f"invalid must be one of {', '.join(INVALID)}, got {invalid!r}")
    # one whole shape: also the size a torch model is imported at, and maybe torchinfo's (B, C, H, W)
    # (a list is several inputs: [160, 224] two sizes; a tuple one shape)
    one = (isinstance(input, str) and ("x" in input.lower() or "," in input)) or (
        isinstance(input, tuple) and len(input) > 1 and all(isinstance(v, int) for v in input))
    given = None if batch is None else _positive_ints(batch, "batch")
    from .resolve import resolve_sized
    sized = resolve_sized(arch, input=input if one else None, input_size=input_size,
                          batch=None if given is None else given[0])  # a batch given: `input` is one sample
    if given is None and sized.batch is not None:  # torchinfo's (B, C, H, W): the batch came with the input
        given = [sized.batch]
    elif input_size is not None and given != [sized.batch]:  # several batches and input_size's one
        raise CnnCostError(f"input_size carries batch {sized.batch} (torchinfo's), but batch={batch!r} was given too: "
                           "give the batch once")
    if one:
        input = sized.input
    batches = given or [DEFAULT_BATCH]
    dtypes, optimizers = _strings(dtype, "dtype"), _strings(optimizer, "optimizer")
    options = [[Options(batch=1, dtype=d, optimizer=o, activations=activations, memory=memory)
                for o in optimizers] for d in dtypes]
    dtypes = [row[0].dtype for row in options]  # canonical spellings (float32 -> fp32)
    release = None
    if memory == "autograd" or hardware is not None:
        from .memory import Precision
        from .memory.tensors import MODELLED_TORCH, torch_release
        release = MODELLED_TORCH if torch_version is None else torch_release(torch_version)
        Precision("fp32", device, release)  # validates the device
    structures, swept = _structures(arch, sized.net, width, depth)
    frozen = (freeze,) if isinstance(freeze, str) else tuple(freeze)
    job = _job(memory, accumulate, checkpoint, checkpoint_save, parallel)
    on_step = None  # the time model's parts of each configuration's job (checkpoint, accumulate, several GPUs)
    links = _links(nodes, network_bandwidth, reduce_dtype, hardware, job.get("world_size", 1))
    if hardware is not None and memory == "autograd":  # (blocks a spec marks `checkpoint: true` too)
        from .sweep_time import job_step_parts
        on_step = job_step_parts(hardware, frozen, links)
    name = structures[0][1].name if len(structures) == 1 else _base_name(arch)

    elements = np.array([DTYPE_BYTES[d] for d in dtypes], dtype=np.int64)
    copies = np.array([OPTIMIZER_COPIES[o] for o in optimizers], dtype=np.int64)
    b = np.array(batches, dtype=np.int64) if max(batches) <= INT64_MAX else np.array(batches, dtype=object)

    labels: dict[str, int] = {}
    shapes_seen: dict[int, Shape] = {}  # label code -> the input shape
    blocks = []
    timed = []  # (net, inputs) per block: the time model's columns
    jobs: list[Any] = []  # per block, [resolution][dtype][optimizer] the job's time parts (on_step)
    for (w, d), net in structures:
        inputs = _inputs(input, net)
        counts = per_sample(net, inputs, activations=activations, invalid=invalid, freeze=frozen)
        if not counts.inputs:
            continue
        saved = peaks = recompute = None
        if memory == "autograd":
            saved, peaks, recompute, parts = _autograd(net, counts.inputs, dtypes, optimizers, device, release,  # type: ignore[arg-type]  # release: set above
                                                       frozen, job, on_step)
            jobs.append(parts)
        codes = np.array([labels.setdefault(shape_text(s), len(labels)) for s in counts.inputs], dtype=np.int64)
        shapes_seen.update(zip(codes.tolist(), counts.inputs))
        blocks.append((w, d, counts, codes, saved, (peaks, recompute)))
        timed.append((net, counts.inputs))
    names = tuple(c.name for c in sweep_columns(memory == "autograd"))
    if not blocks:  # invalid="drop" left out every input: an empty frame with the usual columns
        dims = list(input_dims(len(structures[0][1].input)))
        empty = ([k for k in ("width", "depth") if k in swept] + ["input", *dims, "batch", "dtype", "optimizer"]
                 + list(names))
        frame = pd.DataFrame({k: pd.Series([], dtype=np.int64 if k in names or k in dims or k == "batch" else object)
                              for k in empty})
        if hardware is not None:  # the time model's columns, empty
            from .sweep_time import TIME_COLUMNS
            frame = frame.assign(**{k: pd.Series([], dtype=object if k == "limited_by" else np.float64)
                                    for k in TIME_COLUMNS})
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
    columns["input"] = pd.Categorical.from_codes(codes, categories=list(labels))  # type: ignore[call-overload]  # stubs: an Index
    rank = len(shapes_seen[0])
    for i, key in enumerate(input_dims(rank)):  # the input's sizes as ints, beside its text
        columns[key] = np.array([shapes_seen[code][i] for code in range(len(labels))], dtype=np.int64)[codes]
    columns["batch"] = _config(b, R, 1, B, D * O)
    columns["dtype"] = pd.Categorical.from_codes(_config(np.arange(D), R, B, D, O), categories=dtypes)  # type: ignore[call-overload]
    columns["optimizer"] = pd.Categorical.from_codes(_config(np.arange(O), R, B * D, O, 1), categories=optimizers)  # type: ignore[call-overload]

    bb, e, k = b.reshape(1, B, 1, 1), elements.reshape(1, 1, D, 1), copies.reshape(1, 1, 1, O)
    quantities = []
    recomputing = any(blk[5][1] is not None for blk in blocks)
    for r, (_, _, c, _, saved, (peaks, recompute)) in zip(R, blocks):
        per_resolution = {key: v.reshape(r, 1, 1, 1) for key, v in c.quantities().items() if v is not None}
        if saved is not None:
            per_resolution |= {"saved_per_sample": saved[0].reshape(r, 1, D, 1),
                               "saved_per_step": saved[1].reshape(r, 1, D, 1), "peak": _peak(peaks, b)}
        if recomputing:  # checkpointing: recompute FLOPs (0 where none)
            per_resolution["recompute"] = (np.zeros(r, dtype=np.int64) if recompute is None else recompute).reshape(r, 1, 1, 1)
        quantities.append(Quantities(batch=bb, element_bytes=e, param_copies=k, **per_resolution))
    shapes: list[tuple[int, ...]] = [(r, B, D, O) for r in R]
    maxima = [_maxima(q) for q in quantities]
    for column in sweep_columns(memory == "autograd") + ((COLUMNS["recompute_flops"],) if recomputing else ()):
        columns[column.name] = _column(column, quantities, maxima, shapes)
    if hardware is not None:
        from .sweep_time import time_columns
        columns |= time_columns(timed, dtypes, optimizers, b, hardware, device, release, frozen,  # type: ignore[arg-type]
                                jobs if on_step is not None else None)
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs.update({"architecture": name, "memory": memory, "activations": activations,
                        "device": device if memory == "autograd" or hardware is not None else None,
                        "flop_convention": FLOP_CONVENTION})
    if hardware is not None:
        from .hardware import load_profile
        from .timing.step import CONVENTION, PARALLEL_CONVENTION
        frame.attrs.update({"hardware": load_profile(hardware).name,  # several GPUs: their communication in the step
                            "time_convention": PARALLEL_CONVENTION if "communication_seconds" in frame else CONVENTION})
    return frame


# the numeric input columns by the input's rank: a vector, C x L, C x H x W, C x D x H x W
INPUT_DIMS = {1: ("input_channels",), 2: ("input_channels", "input_length"),
              3: ("input_channels", "input_height", "input_width"),
              4: ("input_channels", "input_depth", "input_height", "input_width")}


def input_dims(rank: int) -> tuple[str, ...]:
    """The int columns a sweep gives its input's sizes in, beside the `input` text ('3x224x224');
    none for an input of more than 4 dims."""
    return INPUT_DIMS.get(rank, ())


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
    """The input shapes: strings "3x224x224", tuples, or single sizes (the net's channels, square;
    of a map with more spatial dims, its last two: a video's H and W)."""
    if value is None:
        return [net.input]
    if net.more_inputs:
        raise CnnCostError(f"a sweep over input sizes needs a net with one input; {net.name} has "
                           f"{len(net.named_inputs)} ({', '.join(n for n, _ in net.named_inputs)}): give their sizes "
                           "with --input NAME=SHAPE to cnncost table")
    items = [value] if isinstance(value, (str, int)) or (isinstance(value, tuple) and value
                                                         and all(isinstance(v, int) for v in value)) else list(value)
    if not items:
        raise CnnCostError("input needs at least one value")
    out = []
    for item in items:
        if isinstance(item, np.integer):
            item = int(item)
        if isinstance(item, int) and not isinstance(item, bool):
            shape: Shape = _square(net, item)
        elif isinstance(item, str):
            try:
                shape = parse_shape(item) if "x" in item.lower() or "," in item else _square(net, int(item))
            except ValueError as error:
                raise CnnCostError(f"input: {error}") from None
        else:
            shape = tuple(int(v) for v in item)  # type: ignore[union-attr]  # else: a sequence of sizes
        if len(shape) != len(net.input) or any(d < 1 for d in shape):
            raise CnnCostError(f"input {shape!r} must be {len(net.input)} positive sizes like "
                               f"{'x'.join(map(str, net.input))}")
        out.append(shape)
    return out


def _square(net: Net, size: int) -> Shape:
    """The net's input with its last two (spatial) dims set to `size`; only a map has them."""
    if len(net.input) < 3:
        raise CnnCostError(f"a single size sweeps the height and width of a map input; {net.name}'s input "
                           f"{'x'.join(map(str, net.input))} has none: give whole shapes")
    return (*net.input[:-2], size, size)


def _base_name(arch: Any) -> str:
    return arch.name if isinstance(arch, Net) else os.fspath(arch) if isinstance(arch, (str, os.PathLike)) \
        else type(arch).__name__


def _structures(arch: Any, base: Net, width: Any, depth: Any) -> tuple[list[tuple[tuple[float, float], Net]], set[str]]:
    """((width, depth), Net) per distinct combination, `base` the Net of `arch`; `swept`: which of
    the two were given."""
    widths, depths = _multipliers(width, "width"), _multipliers(depth, "depth")
    swept = {k for k, v in (("width", widths), ("depth", depths)) if v is not None}
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


# --- autograd: saved bytes and the step's peak ---

def _job(memory: str, accumulate: int, checkpoint: Any, save: Any, parallel: dict[str, Any] | None) -> dict[str, Any]:
    """The step's setup beyond the optimizer and freezing (`memory.setup.Setup` fields; checkpoint
    specs as given: resolved per graph), {} for a plain step; refused outside memory='autograd'."""
    job: dict[str, Any] = dict(parallel or {})
    if accumulate != 1:
        job["accumulate"] = accumulate
    specs = (checkpoint,) if isinstance(checkpoint, str) else tuple(checkpoint or ())
    saves = (save,) if isinstance(save, str) else tuple(save or ())
    if specs:
        job["checkpoint"] = specs
    if saves:
        job["checkpoint_save"] = saves
    if job and memory != "autograd":
        raise CnnCostError(f"{', '.join(job)} model{'s' if len(job) == 1 else ''} the training step's memory: "
                           "use memory='autograd' (--memory autograd)")
    return job


def _autograd(net: Net, inputs: list[Shape], dtypes: list[str], optimizers: list[str], device: str,
              release: tuple[int, int], freeze: tuple[str, ...] = (), job: dict[str, Any] | None = None,
              on_step: Any = None):
    """saved = (per_sample, fixed) arrays of shape (R, D); peaks[r][d][o] = the step's moments
    reduced to their upper envelope, as (per_sample, fixed) int arrays; recompute = the FLOPs per
    sample checkpointing runs again, per resolution (None without it). `freeze`: patterns of
    frozen layers (no gradients, no optimizer state, nothing saved before the first trainable
    one); `job`: the other `Setup` fields (`_job`); `on_step` (graph, dtype, optimizer, step,
    checkpointed) -> what the caller keeps of each step, returned per [resolution][dtype][optimizer]
    (None without it)."""
    from .graph import compile
    from .memory import Precision, Setup, step_memory, trace
    from .memory.checkpoint_policy import checkpoint_fields
    from .memory.trace import frozen_paths
    job = dict(job or {})
    specs, saves = job.pop("checkpoint", ()), job.pop("checkpoint_save", ())
    R, D = len(inputs), len(dtypes)
    sp = np.empty((R, D), dtype=object)
    sf = np.empty((R, D), dtype=object)
    recompute = np.zeros(R, dtype=object)
    checkpointed = False
    peaks: list[list[list[tuple[list[int], list[int]]]]] = []
    kept: list[list[list[Any]]] = []
    for r, shape in enumerate(inputs):
        graph = compile(net, shape)
        how = job | checkpoint_fields(graph, specs, saves)  # specs, or the blocks marked `checkpoint: true`
        checkpointed |= "checkpoint" in how
        row: list[Any] = []
        kept_row: list[list[Any]] = []
        kept.append(kept_row)
        for d, dtype in enumerate(dtypes):
            traced = trace(graph, precision=Precision(memory_dtype(dtype), device, release), frozen=frozen_paths(graph, freeze))
            steps = [step_memory(traced, Setup(o, freeze=freeze, **how)) for o in optimizers]
            a, c = steps[0].saved_columns()  # what autograd saves: the same for every optimizer
            sp[r, d], sf[r, d] = sum(a), sum(c)
            row.append([step.envelope() for step in steps])
            if on_step is not None:
                kept_row.append([on_step(graph, dtype, o, step, "checkpoint" in how) for o, step in zip(optimizers, steps)])
            if d == 0:
                recompute[r] = sum(_recompute_per_node(graph, steps[0]) or ())
        peaks.append(row)
    return (_narrow(sp), _narrow(sf)), peaks, _narrow(recompute) if checkpointed else None, kept if on_step else None


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


def _column(column: Column, quantities: list[Quantities], maxima: list[Quantities],
            shapes: list[tuple[int, ...]]) -> Any:
    """A count column: the column's formula per block of configurations, laid out C-order over
    (resolution, batch, dtype, optimizer). int64 when every value, and every partial result,
    provably fits: the formula at every quantity's maximum (at least 1: `maxima`) bounds them all."""
    bound = max(column.formula(m) for m in maxima) if column.monotone else INT64_MAX + 1
    fits = bound <= INT64_MAX
    parts = [np.broadcast_to(column.formula(q if fits else _objects(q)), shape).reshape(-1)
             for q, shape in zip(quantities, shapes)]
    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if not fits:
        return _exact(values)
    values = values.astype(np.int64, copy=False)
    return values if _sum_fits(values, bound) else values.astype(object)  # the sum would wrap: Python ints


def _maxima(q: Quantities) -> Quantities:
    return Quantities(**{f.name: None if v is None else max(int(np.max(v)), 1)
                         for f in dataclasses.fields(q) for v in [getattr(q, f.name)]})


def _objects(q: Quantities) -> Quantities:
    return Quantities(**{f.name: None if v is None else np.asarray(v).astype(object)
                         for f in dataclasses.fields(q) for v in [getattr(q, f.name)]})


def _sum_fits(values: Any, bound: int) -> bool:
    """The exact sum of a non-negative int64 column is at most INT64_MAX (summed as 32-bit halves)."""
    if bound * len(values) <= INT64_MAX:
        return True
    low, high = int((values & 0xFFFFFFFF).sum()), int((values >> 32).sum())
    return (high << 32) + low <= INT64_MAX


def _exact(column: Any) -> Any:
    """count_column's rule on an object column: int64 if every value and the sum fit."""
    values = column.tolist()
    if max(values) <= INT64_MAX and sum(values) <= INT64_MAX:
        return np.array(values, dtype=np.int64)
    return column if column.dtype == object else column.astype(object)
