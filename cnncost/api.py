"""The calls a notebook makes: resolve a name or file to a Net, then tabulate it."""
from __future__ import annotations

import os
from typing import Any, Sequence

from .conventions import Options
from .net import Net
from .report import Report, build_report
from .resolve import kind_of, resolve
from .shapes import Shape


def load(arch: str | os.PathLike[str] | Net | Any, *, input: Shape | str | None = None) -> Net:
    """A Net from a built-in name, a YAML file, a Python spec `FILE.py:callable` (the file is run:
    see cnncost.pyspec), a model to import (`torchvision:NAME`, `timm:NAME`,
    `package.module:callable`, `FILE.onnx`, an `nn.Module`), or a Net itself (`cnncost.resolve`).

    `input` supplies the input size of a YAML spec without an `input:` key, is passed to a
    Python spec's callable when it takes an `input` parameter, and is the size a model is
    imported at (else the net keeps its own input; `table` and `fit` then apply `input` to any net).

    >>> import cnncost
    >>> cnncost.load("vgg16").input
    (3, 224, 224)
    """
    if isinstance(input, str) and kind_of(arch) not in ("net", "unknown"):  # those refuse or ignore input
        from .shapes import parse_shape
        try:
            input = parse_shape(input)
        except ValueError as error:  # the same error as Net.with_input gives
            from .errors import SpecError
            raise SpecError(f"input must be like (3, 224, 224) or '3x224x224': {error}") from None
    return resolve(arch, input=input, import_input=input)


def table(arch: str | os.PathLike[str] | Net, *, batch: int = 128, dtype: str = "fp32",
          optimizer: str = "adam", input: Shape | None = None, depth: int | None = None,
          activations: str = "all", memory: str = "lecture", device: str = "cuda",
          count_as: str | None = None, freeze: Sequence[str] = (), max_nodes: int | None = None,
          torch_version: str | None = None, hardware: Any = None, epoch_images: int | None = None,
          price_per_hour: float | None = None) -> Report:
    """Per-layer and total costs of an architecture for one training configuration.

    `device` (cuda or cpu) matters only under memory="autograd": what autograd saves differs by
    device for a few ops (dropout's mask is bool on CUDA, noise in the input's dtype on CPU), and
    `torch_version` ('2.14.1'; default: 2.13, the release the rules were measured on) for the few
    ops whose saved tensors differ by release (docs/memory.md).
    Every row has `backward_flops` and `training_flops` (one step; layers whose path matches a
    `freeze` pattern get no weight gradient); `count_as` (fvcore, ptflops, thop, torchinfo, ...)
    adds `ops`, what that tool reports: see cnncost.counting and docs/counting.md.
    `hardware` (a built-in profile's name, a profile file, or a `cnncost.hardware.HardwareProfile`)
    adds the time model (`cnncost.timing`, docs/time.md): per-row forward and backward seconds and
    what bounds them, and `report.timing` (the step's time, images/s); `epoch_images` an epoch's
    time, `price_per_hour` (USD) its cost. dtype "tf32": fp32 memory, TF32 tensor-core products.

    >>> import cnncost
    >>> r = cnncost.table("alexnet")          # the lecture's defaults: batch 128, fp32, adam
    >>> r.totals.params
    62378344
    >>> round(r.rows[0].activation_memory_bytes / 2**20, 1)    # the input mini-batch, MB
    73.5
    >>> r = cnncost.table("alexnet", memory="autograd")   # what PyTorch saves, and the step's peak
    >>> r.totals.saved_bytes, r.to_dict()["training_step"]["phase"]
    (602210304, 'backward, conv5')
    """
    options = Options(batch=batch, dtype=dtype, optimizer=optimizer, activations=activations,  # type: ignore[arg-type]
                      memory=memory)  # type: ignore[arg-type]
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        from .errors import CnnCostError
        raise CnnCostError(f"depth must be a non-negative integer, got {depth!r}")
    net = load(arch, input=input)
    analysis = _compile(net, input, max_nodes)  # first: it validates the net and names the file and layer of any error
    step = (_step(analysis, options.dtype, options.optimizer, device=device, torch_version=torch_version)
            if options.memory == "autograd" else None)
    timing = None
    if hardware is not None:
        timing = _timing(analysis, options, step, hardware, device, torch_version, freeze, epoch_images,
                         price_per_hour)
    elif epoch_images is not None or price_per_hour is not None:
        from .errors import CnnCostError
        raise CnnCostError("an epoch's time and cost need a hardware profile: give hardware= (--hardware)")
    return build_report(analysis, options, depth, step, count_as=count_as, freeze=freeze, timing=timing)


def _timing(graph, options: Options, step, hardware: Any, device: str, torch_version: str | None,
            freeze: Sequence[str], epoch_images: int | None, price_per_hour: float | None):
    """The time model on the step's trace (traced here under the lecture's memory convention)."""
    from .counting.training import frozen_nodes
    from .errors import CnnCostError
    from .hardware import load_profile
    from .timing import time_step
    if epoch_images is not None and (not isinstance(epoch_images, int) or isinstance(epoch_images, bool)
                                     or epoch_images < 1):
        raise CnnCostError(f"epoch_images must be a positive integer, got {epoch_images!r}")
    if price_per_hour is not None and (isinstance(price_per_hour, bool) or not isinstance(price_per_hour, (int, float))
                                       or not 0 <= price_per_hour < float("inf")):
        raise CnnCostError(f"price_per_hour must be a non-negative number (USD), got {price_per_hour!r}")
    if price_per_hour is not None and epoch_images is None:
        raise CnnCostError("a price per hour gives an epoch's cost: give epoch_images (--epoch-images) too")
    if options.dtype not in ("fp32", "tf32", "fp16", "bf16"):
        raise CnnCostError(f"the time model needs a training dtype (fp32, tf32, fp16, bf16), got '{options.dtype}'")
    profile = load_profile(hardware)
    traced = step.trace if step is not None else _step(graph, options.dtype, options.optimizer, "train", device,
                                                        torch_version).trace
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    frozen = frozen_nodes(graph, patterns) if patterns else None
    return time_step(graph, traced, profile, dtype=options.dtype, optimizer=options.optimizer, batch=options.batch,
                     frozen=frozen, epoch_images=epoch_images,
                     price_per_hour=None if price_per_hour is None else float(price_per_hour))


def fit(arch: str | os.PathLike[str] | Net, budget: int | str | None = None, *, dtype: str = "fp32",
        optimizer: str = "adam", input: Shape | None = None, mode: str = "train", device: str = "cuda",
        max_nodes: int | None = None, memory: int | str | None = None, torch_version: str | None = None,
        hardware: Any = None):
    """The largest batch whose training step (or inference pass) fits in `budget`: bytes, or a size
    with a unit, SI or IEC: '80GB' = 80 * 10^9 bytes, '80GiB' = 80 * 2^30 (see cnncost.units).
    `memory=` is the old name of `budget`. `device` and `torch_version` as in `table`. `hardware`
    (as in `table`): `.timing`, the time model's step at the batch found (images/s; docs/time.md).

    >>> import cnncost
    >>> f = cnncost.fit("vgg16", "80GiB", dtype="bf16", optimizer="adamw")
    >>> f.batch, f.peak.phase
    (1924, 'backward, stage5.pool5')
    """
    from .errors import CnnCostError
    from .memory import largest_batch
    from .memory.fit import parse_budget
    if budget is None:
        budget = memory
    elif memory is not None:
        raise CnnCostError("give the budget once: budget= (memory= is its old name)")
    if budget is None:
        raise CnnCostError("fit needs a memory budget, e.g. '80GB' or '80GiB'")
    options = Options(dtype=dtype, optimizer=optimizer, memory="autograd")
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise CnnCostError(f"the budget is bytes (an int) or a size like '80GiB', got {type(budget).__name__}")
    size, written = (budget, "") if isinstance(budget, int) else parse_budget(budget)
    graph = _compile(load(arch, input=input), input, max_nodes)  # validates the net, names the file and layer of an error
    step = _step(graph, options.dtype, options.optimizer, mode, device, torch_version)
    result = largest_batch(step, size, written)
    if hardware is not None:  # --- fit --hardware: the throughput of the batch found ---
        from .timing.fit import with_timing
        result = with_timing(result, graph, step.trace, hardware, options.dtype, options.optimizer, mode)
    return result


def _compile(net: Net, input: Shape | None, max_nodes: int | None):
    from .graph import DEFAULT_MAX_NODES, compile
    if max_nodes is not None and (not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1):
        from .errors import CnnCostError
        raise CnnCostError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    return compile(net, input, max_nodes=max_nodes or DEFAULT_MAX_NODES)


def _step(graph, dtype: str, optimizer: str, mode: str = "train", device: str = "cuda",
          torch_version: str | None = None):
    from .conventions import memory_dtype
    from .memory import MODES, Precision, step_memory, trace
    from .memory.tensors import MODELLED_TORCH, torch_release
    if mode not in MODES:
        from .errors import CnnCostError
        raise CnnCostError(f"unknown mode '{mode}'; allowed: {', '.join(MODES)}")
    release = MODELLED_TORCH if torch_version is None else torch_release(torch_version)
    return step_memory(trace(graph, precision=Precision(memory_dtype(dtype), device, release)), optimizer, mode)
