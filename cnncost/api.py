"""The calls a notebook makes: resolve a name or file to a Net, then tabulate it."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from .conventions import Options
from .literals import (
    ActivationCount,
    BudgetOf,
    Device,
    DType,
    MemoryConvention,
    Mode,
    Optimizer,
)
from .net import Net
from .report import Report, build_report
from .resolve import resolve_sized
from .shapes import Shape

# what an architecture argument may be (`cnncost.resolve`): a built-in name, a spec file, a torch
# source or ONNX path (str or path), a Net, or a torch nn.Module (Any: torch is optional)
Model = str | os.PathLike[str] | Net | Any
DEFAULT_BATCH = 128  # the lecture's


def load(arch: Model, *, input: Shape | str | None = None, input_size: Sequence[int] | None = None) -> Net:
    """A Net from a built-in name, a YAML file, a Python spec `FILE.py:callable` (the file is run:
    see cnncost.pyspec), a model to import (`torchvision:NAME`, `timm:NAME`,
    `package.module:callable`, `FILE.onnx`, an `nn.Module`), or a Net itself (`cnncost.resolve`).

    `input` supplies the input size of a YAML spec without an `input:` key, is passed to a
    Python spec's callable when it takes an `input` parameter, and is the size a model is
    imported at (else the net keeps its own input; `table` and `fit` then apply `input` to any net).
    torchinfo's spellings with the batch first, `input_size=(1, 3, 224, 224)` or four sizes as
    `input` for an image model, are read as `cnncost.resolve.resolve_sized` says (a Net has no batch:
    it is dropped here).

    >>> import cnncost
    >>> cnncost.load("vgg16").input
    (3, 224, 224)
    """
    return resolve_sized(arch, input=input, input_size=input_size).net


def table(arch: Model, *, batch: int | None = None, dtype: DType = "fp32",
          optimizer: Optimizer = "adam", input: Shape | str | None = None, input_size: Sequence[int] | None = None,
          depth: int | None = None, activations: ActivationCount = "all", memory: MemoryConvention = "lecture",
          device: Device = "cuda",
          count_as: str | None = None, freeze: Sequence[str] = (), max_nodes: int | None = None,
          torch_version: str | None = None, accumulate: int = 1,
          parallel: dict[str, Any] | None = None, gpu: str | None = None, cuda_context: int | str | None = None,
          cudnn_workspace: int | str | None = None, checkpoint: Sequence[str] = (),
          checkpoint_save: Sequence[str] = (), hardware: Any = None, epoch_images: int | None = None,
          price_per_hour: float | None = None, mode: Mode = "train",
          columns: Sequence[str] | str | None = None, setup: Any = None, nodes: int | None = None,
          network_bandwidth: int | str | None = None, reduce_dtype: str | None = None) -> Report:
    """Per-layer and total costs of an architecture for one training configuration.

    `arch`: a built-in name, a spec file, a Net, an `nn.Module`, an ONNX file or a torch source
    (`torchvision:resnet50`, `FILE.py:callable`), as `load` takes. `batch`: samples per step
    (default 128). `input`: the shape of one sample, (3, 224, 224) or '3x224x224' (default: the
    net's own); torchinfo's (B, C, H, W) gives the batch too: as `input_size` (a `batch` also given
    must agree), or as `input` for an image model when no `batch` is given
    (`cnncost.resolve.resolve_sized`).

    `device` (cuda or cpu) matters only under memory="autograd": what autograd saves differs by
    device for a few ops (dropout's mask is bool on CUDA, noise in the input's dtype on CPU), and
    `torch_version` ('2.14.1'; default: 2.13, the release the rules were measured on) for the few
    ops whose saved tensors differ by release (docs/memory.md).
    `parallel` (autograd memory): several GPUs, the `Setup` fields world_size, sharding, ranks_per_node,
    gradient_as_bucket_view, bucket_cap_mb, fsdp_units; `batch` is then per rank, the step per rank.
    Every row has `backward_flops` and `training_flops` (one step; layers whose path matches a
    `freeze` pattern get no weight gradient); `count_as` (fvcore, ptflops, thop, torchinfo, ...)
    adds `ops`, what that tool reports: see cnncost.counting and docs/counting.md. Under
    memory="autograd", frozen layers also free memory (no gradients, no optimizer state, nothing
    saved before the first trainable layer), and `accumulate` K makes the step K micro-steps of
    `batch` samples (the batch is the micro-batch; docs/memory.md).
    `gpu` (a profile: h100, the default, h200, a100-80gb, ...), `cuda_context` and `cudnn_workspace`
    (bytes, or sizes like '512MiB') shape the modelled CUDA figures of an autograd training step on
    cuda (`Report.device_memory()`: reserved bytes, nvidia-smi; docs/memory.md).
    `hardware` (a built-in profile's name, a profile file, or a `cnncost.hardware.HardwareProfile`)
    adds the time model (`cnncost.timing`, docs/time.md): per-row forward and backward seconds and
    what bounds them, and `report.timing` (the step's time, images/s); `epoch_images` an epoch's
    time, `price_per_hour` (USD) its cost. dtype "tf32": fp32 memory, TF32 tensor-core products.
    `columns` ('params,macs' or a list of JSON names): the columns its text, HTML, CSV and DataFrame
    show, after the layer's name (`Report.with_columns`; JSON keeps every figure).
    On several GPUs (`parallel`) with `hardware`, the step's time includes the communication compute
    does not hide (`cnncost.timing.communication`, docs/time.md): `nodes` the ranks are spread over
    (default 1), `network_bandwidth` between nodes (bytes/s per GPU per direction, or '400Gbit/s',
    '50GB/s'; default: the profile's), `reduce_dtype` the dtype gradients travel in (default: the
    parameters').

    >>> import cnncost
    >>> r = cnncost.table("alexnet")          # the lecture's defaults: batch 128, fp32, adam
    >>> r.totals.params
    62378344
    >>> round(r.rows[0].activation_memory_bytes / 2**20, 1)    # the input mini-batch, MB
    73.5
    >>> r = cnncost.table("alexnet", memory="autograd")   # what PyTorch saves, and the step's peak
    >>> r.totals.saved_bytes, r.to_dict()["training_step"]["phase"]
    (602210304, 'backward, relu2')

    `setup` (a `cnncost.Setup`): the whole job in one object, in place of the keywords optimizer, mode,
    freeze, accumulate, checkpoint, checkpoint_save and parallel (give one or the other; dtype int8
    with `Setup(int8=True)`); its `checkpoint` takes block paths, patterns and policies as the keyword.

    >>> job = cnncost.Setup("adamw", accumulate=4, checkpoint=("sqrt",))
    >>> cnncost.table("resnet50", batch=32, memory="autograd", setup=job).to_dict()["training_step"]["accumulate"]
    4

    `mode="inference"`: an eval pass without autograd (`cnncost.memory.inference`): a `live_bytes`
    column, the JSON object `inference` (peak, where, arena) and no training figures; dtype fp32,
    bf16, fp16 (autocast) or int8 (a deployment estimate).

    >>> cnncost.table("resnet18", batch=1, mode="inference").to_dict()["inference"]["peak_at"]
    'bn1'
    """
    if setup is not None:  # the job as one object
        optimizer, mode, freeze, accumulate, checkpoint, checkpoint_save, parallel = _job_of(
            setup, dtype, optimizer, mode, freeze, accumulate, checkpoint, checkpoint_save, parallel)
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        from .errors import CnnCostError
        raise CnnCostError(f"depth must be a non-negative integer, got {depth!r}")
    sized = resolve_sized(arch, input=input, input_size=input_size, batch=batch)
    options = Options(batch=DEFAULT_BATCH if sized.batch is None else sized.batch, dtype=dtype, optimizer=optimizer,
                      activations=activations, memory=memory, mode=mode)
    analysis = _compile(sized.net, sized.input, max_nodes)  # first: it validates the net, names the file and layer
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    if accumulate != 1 and options.memory != "autograd":
        from .errors import CnnCostError
        raise CnnCostError("accumulate models the training step's memory: use memory='autograd' (--memory autograd)")
    how = _checkpointing(analysis, checkpoint, checkpoint_save)  # activation checkpointing: autograd memory only
    if (checkpoint or checkpoint_save) and options.memory != "autograd":
        from .errors import CnnCostError
        raise CnnCostError("--checkpoint changes what autograd saves: use it with --memory autograd")
    step = (_step(analysis, options.dtype, _setup(options.optimizer, freeze=patterns, accumulate=accumulate,
                                                  **how, **(parallel or {})), device=device, torch_version=torch_version)
            if options.memory == "autograd" else None)
    timing = None
    links = _links(nodes, network_bandwidth, reduce_dtype, hardware, _world_size(step))
    if hardware is not None:
        timing = _timing(analysis, options, step, hardware, device, torch_version, freeze, epoch_images,
                         price_per_hour, links)
    elif epoch_images is not None or price_per_hour is not None:
        from .errors import CnnCostError
        raise CnnCostError("an epoch's time and cost need a hardware profile: give hardware= (--hardware)")
    inference = (_step(analysis, *_inference_setup(options.dtype, options.optimizer), device, torch_version)
                 if options.mode == "inference" else None)
    report = build_report(analysis, options, depth, step, count_as=count_as, freeze=freeze, timing=timing,
                          inference=inference)
    if step is not None:  # the GPU profile of the modelled reserved and nvidia-smi figures (issue 19)
        if hardware is not None:  # one device choice: a GPU's time profile picks its allocator profile too
            from .hardware.device import device_choice
            gpu = device_choice(gpu, hardware)
        report = dataclasses.replace(report, gpu=_gpu(gpu, cuda_context, cudnn_workspace))
    if columns is not None:
        report = report.with_columns(columns)
    return report


_JOB = ("optimizer", "mode", "freeze", "accumulate", "checkpoint", "checkpoint_save", "parallel")


def _job_of(setup: Any, dtype: str, *given: Any) -> tuple[Any, ...]:
    """`setup`'s job keywords in _JOB's order (`memory.setup.job_keywords`); `given`: the caller's
    own, in that order, refused unless at their defaults."""
    from .memory.setup import job_keywords
    job = job_keywords(setup, dtype, **dict(zip(_JOB, given, strict=True)))
    return tuple(job[name] for name in _JOB)


def _links(nodes: int | None, network_bandwidth: int | str | None, reduce_dtype: str | None, hardware: Any,
           world_size: int) -> dict[str, Any]:
    """The keywords of `timing.communication.communication_plan` (several GPUs' links), checked
    (table, fit and sweep)."""
    if nodes is None and network_bandwidth is None and reduce_dtype is None:
        return {}  # none given: timing.communication stays off the cold path
    from .timing.communication import link_keywords
    return link_keywords(nodes, network_bandwidth, reduce_dtype, hardware, world_size, "--world-size N")


def _world_size(step: Any) -> int:
    """The ranks a (sharded) step runs on; 1 for one GPU's step, or none."""
    return step.setup.world_size if step is not None and getattr(step.setup, "sharding", None) is not None else 1


def _timing(graph, options: Options, step, hardware: Any, device: str, torch_version: str | None,
            freeze: Sequence[str], epoch_images: int | None, price_per_hour: float | None,
            links: dict[str, Any] | None = None):
    """The time model on the step's trace (traced here under the lecture's memory convention); under
    memory='autograd' the job's step as the memory model solved it (`timing.fit.time_job`, as `fit`)."""
    from .counting.training import frozen_nodes
    from .errors import CnnCostError
    from .hardware import load_profile
    from .timing.fit import time_job
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
    traced = step.trace if step is not None else _step(graph, options.dtype, _setup(options.optimizer), device,
                                                        torch_version).trace
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    frozen = frozen_nodes(graph, patterns) if patterns else None
    # the step the memory model solved: its recompute, its micro-steps (all of `batch`), its communication
    return time_job(graph, traced, profile, dtype=options.dtype, optimizer=options.optimizer, batch=options.batch,
                    frozen=frozen, recomputed=getattr(step, "recomputed", ()), setup=getattr(step, "setup", None),
                    links=links, micro_steps=getattr(getattr(step, "setup", None), "accumulate", 1),
                    epoch_images=epoch_images, price_per_hour=None if price_per_hour is None else float(price_per_hour))


def _gpu(name: str | None, context: int | str | None, conv_workspace: int | str | None):
    """The GPU profile (cnncost.memory.reserved.gpu_profile) with sizes given as bytes or text."""
    from .memory.reserved import gpu_profile
    from .units import SizeError, parse_size
    try:
        sizes = [None if v is None else parse_size(v, what="a size") for v in (context, conv_workspace)]
    except SizeError as error:
        from .errors import CnnCostError
        raise CnnCostError(error.problem) from None
    return gpu_profile(name, *sizes)


def fit(arch: Model, budget: int | str | None = None, *, dtype: DType = "fp32",
        optimizer: Optimizer = "adam", input: Shape | str | None = None, input_size: Sequence[int] | None = None,
        mode: Mode = "train", device: Device = "cuda",
        max_nodes: int | None = None, memory: int | str | None = None, torch_version: str | None = None,
        freeze: Sequence[str] = (), accumulate: int = 1, global_batch: int | None = None,
        parallel: dict[str, Any] | None = None, budget_of: BudgetOf = "allocated", gpu: str | None = None,
        cuda_context: int | str | None = None, cudnn_workspace: int | str | None = None,
        checkpoint: Sequence[str] = (), checkpoint_save: Sequence[str] = (), hardware: Any = None,
        setup: Any = None, nodes: int | None = None, network_bandwidth: int | str | None = None,
        reduce_dtype: str | None = None):
    """The largest batch whose training step (or inference pass) fits in `budget`: bytes, or a size
    with a unit, SI or IEC: '80GB' = 80 * 10^9 bytes, '80GiB' = 80 * 2^30 (see cnncost.units).
    `memory=` is the old name of `budget`. `arch` and `input` as in `table` (the batch of a
    (B, C, H, W) input is dropped: fit finds the batch). `device`, `torch_version` and `parallel` (several GPUs:
    the batch found is per rank) as in `table`. `freeze`: layer path patterns whose parameters are
    frozen (no gradients, no optimizer state). `accumulate` K: the largest micro-batch of a
    K-micro-step step (samples per step = batch x K); `global_batch` N: the fewest micro-steps whose
    micro-batch fits (`memory.fit.fit_global_batch`).
    `budget_of`: which figure the budget bounds: "allocated" (the step model's peak, default),
    "reserved" or "nvidia-smi" (the caching allocator's, and with the CUDA context: modelled on the
    GPU profile `gpu`, `cuda_context`, `cudnn_workspace` as in `table`; the figures at the batch
    found in `Fit.device`).
    `hardware` (as in `table`): `.timing`, the time model's step at the batch found (images/s;
    docs/time.md), on several GPUs with their communication (`nodes`, `network_bandwidth`,
    `reduce_dtype` as in `table`). `setup` (a `cnncost.Setup`): the job in one object, as in `table`.

    >>> import cnncost
    >>> f = cnncost.fit("vgg16", "80GiB", dtype="bf16", optimizer="adamw")
    >>> f.batch, f.peak.phase
    (1924, 'backward, stage5.pool5')
    """
    from .errors import CnnCostError
    from .memory.fit import parse_budget
    if setup is not None:  # the job as one object
        optimizer, mode, freeze, accumulate, checkpoint, checkpoint_save, parallel = _job_of(
            setup, dtype, optimizer, mode, freeze, accumulate, checkpoint, checkpoint_save, parallel)
    if budget is None:
        budget = memory
    elif memory is not None:
        raise CnnCostError("give the budget once: budget= (memory= is its old name)")
    if budget is None:
        raise CnnCostError("fit needs a memory budget, e.g. '80GB' or '80GiB'")
    if mode != "inference" and Options(dtype=dtype).dtype == "int8":
        raise CnnCostError("int8 is a deployment (inference) estimate: training runs in fp32, fp16 or bf16; "
                           "use mode='inference' (--mode inference)")
    if mode == "inference":
        storage, setup = _inference_setup(Options(dtype=dtype, mode="inference").dtype, optimizer)
    else:
        options = Options(dtype=dtype, optimizer=optimizer, memory="autograd")
        storage, setup = options.dtype, _setup(options.optimizer, mode)
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise CnnCostError(f"the budget is bytes (an int) or a size like '80GiB', got {type(budget).__name__}")
    size, written = (budget, "") if isinstance(budget, int) else parse_budget(budget)
    sized = resolve_sized(arch, input=input, input_size=input_size)
    graph = _compile(sized.net, sized.input, max_nodes)  # validates the net, names the file and layer of an error
    if mode == "inference":  # eval, no autograd: none of the training setup applies
        training_only = {"freeze": freeze, "accumulate": accumulate != 1, "global_batch": global_batch is not None,
                         "parallel": parallel, "checkpoint": checkpoint, "budget_of": budget_of != "allocated"}
        given = [name for name, value in training_only.items() if value]
        if budget_of != "allocated":  # the allocator model (`memory.device_fit`)
            raise CnnCostError(f"--budget-of {budget_of} models a plain training step on cuda: use --budget-of allocated")
        if hardware is not None:
            given.append("hardware")
        given += [name for name, value in (("nodes", nodes), ("network_bandwidth", network_bandwidth),
                                           ("reduce_dtype", reduce_dtype)) if value is not None]
        if given:
            raise CnnCostError(f"{', '.join(given)} model{'s' if len(given) == 1 else ''} a training step; "
                               "not an inference pass (mode 'inference')")
        from .memory import largest_batch
        return largest_batch(_step(graph, storage, setup, device, torch_version), size, written)
    patterns = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    job = {"freeze": patterns, **(parallel or {})}
    specs = (checkpoint,) if isinstance(checkpoint, str) else tuple(checkpoint)
    if "auto" in specs:  # the largest batch with the regions it needs (`checkpoint_auto.py`)
        if accumulate != 1 or global_batch is not None or budget_of != "allocated":
            raise CnnCostError("checkpoint 'auto' finds the largest plain batch: give it without accumulate, "
                               "global_batch or budget_of")
        from .memory.checkpoint_auto import fit_auto
        save = {"checkpoint_save": tuple(checkpoint_save)} if checkpoint_save else {}
        return _timed(fit_auto(graph, lambda how: _step(graph, storage, _setup(
            optimizer, mode, **how, **(save if how else {}), **job), device, torch_version), size, written),
                      graph, hardware, storage, optimizer, patterns, (nodes, network_bandwidth, reduce_dtype))
    job |= _checkpointing(graph, specs, checkpoint_save)
    if global_batch is not None:  # --global-batch: plain step and accumulating step (any K > 1: the same peak)
        if accumulate != 1:
            raise CnnCostError("give accumulate or global_batch, not both")
        if budget_of != "allocated":
            raise CnnCostError(f"budget_of '{budget_of}' models a plain training step: use 'allocated' with global_batch")
        from .memory.fit import fit_global_batch
        result = fit_global_batch(lambda k: _step(graph, storage, _setup(optimizer, mode, accumulate=k, **job),
                                                  device, torch_version), global_batch, size, written)
    else:
        step = _step(graph, storage, _setup(optimizer, mode, accumulate=accumulate, **job), device, torch_version)
        # the budget bounds the allocated peak, or a modelled GPU figure; the GPU figures at the batch found (issue 19)
        from .memory.device_fit import largest_batch_on
        if hardware is not None:  # one device choice: a GPU's time profile picks its allocator profile too
            from .hardware.device import device_choice
            gpu = device_choice(gpu, hardware)
        result = largest_batch_on(step, size, budget_of, _gpu(gpu, cuda_context, cudnn_workspace), written)
    if specs:  # --checkpoint: the regions and their cost, from the step solved
        from .memory.checkpoint_auto import with_checkpoints
        result = with_checkpoints(result, graph, " ".join(specs))
    return _timed(result, graph, hardware, storage, optimizer, patterns, (nodes, network_bandwidth, reduce_dtype))


def _timed(result: Any, graph: Any, hardware: Any, dtype: str, optimizer: str, freeze: tuple[str, ...],
           links: tuple[Any, Any, Any] = (None, None, None)) -> Any:
    """`fit --hardware`: the time model's step at the batch found, on the trace the fit solved (on
    several GPUs with their communication)."""
    checked = _links(*links, hardware, _world_size(result.step))
    if hardware is None:
        return result
    from .counting.training import frozen_nodes
    from .timing.fit import with_timing
    return with_timing(result, graph, result.step.trace, hardware, dtype, optimizer, "train",
                       frozen_nodes(graph, freeze) if freeze else None, setup=result.step.setup, links=checked)


def _checkpointing(graph, specs: Sequence[str], save: Sequence[str] = ()) -> dict[str, Any]:
    """Setup fields for `--checkpoint` specs (`memory.checkpoint_policy.checkpoint_fields`)."""
    if not specs and not save and not any(b.checkpoint for b in graph.blocks):
        return {}  # nothing checkpointed: the memory package stays off the cold path
    from .memory.checkpoint_policy import checkpoint_fields
    return checkpoint_fields(graph, specs, save)


def _compile(net: Net, input: Shape | None, max_nodes: int | None):
    from .graph import DEFAULT_MAX_NODES, compile
    if max_nodes is not None and (not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1):
        from .errors import CnnCostError
        raise CnnCostError(f"max_nodes must be a positive integer, got {max_nodes!r}")
    return compile(net, input, max_nodes=max_nodes or DEFAULT_MAX_NODES)


def _setup(optimizer: str, mode: str = "train", **how: Any):
    """The job's setup (`cnncost.memory.setup`), imported only where memory is modelled."""
    from .memory.setup import Setup
    return Setup(optimizer, mode, **how)


def _inference_setup(dtype: str, optimizer: str) -> tuple[str, Any]:
    """(the dtype to trace in, the setup) of an inference pass: int8 is traced in fp32 and
    stored in 1 byte per element (`cnncost.memory.inference`)."""
    int8 = dtype == "int8"
    return ("fp32" if int8 else dtype), _setup(optimizer, "inference", int8=int8)


def _step(graph, dtype: str, setup: Any, device: str = "cuda", torch_version: str | None = None):
    from .conventions import memory_dtype
    from .memory import Precision, step_memory, trace
    from .memory.tensors import MODELLED_TORCH, torch_release
    from .memory.trace import frozen_paths
    release = MODELLED_TORCH if torch_version is None else torch_release(torch_version)
    frozen = frozen_paths(graph, setup.freeze)  # --freeze: a trace per frozen set
    return step_memory(trace(graph, precision=Precision(memory_dtype(dtype), device, release), frozen=frozen), setup)
