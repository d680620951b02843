"""The calls a notebook makes: resolve a name or file to a Net, then tabulate it."""
from __future__ import annotations

import os
from pathlib import Path

from .conventions import Options
from .engine import analyze
from .net import Net
from .report import Report, build_report
from .shapes import Shape


def load(arch: str | os.PathLike[str] | Net) -> Net:
    """A Net from a built-in name, a YAML file, or a Net itself.

    >>> import cnncost
    >>> cnncost.load("vgg16").input
    (3, 224, 224)
    """
    if isinstance(arch, Net):
        return arch
    text = os.fspath(arch)
    if isinstance(arch, os.PathLike) or text.endswith((".yaml", ".yml")) or Path(text).is_file():
        from .spec import load_spec
        return load_spec(text)
    from .zoo.registry import get_arch
    return get_arch(text)


def table(arch: str | os.PathLike[str] | Net, *, batch: int = 128, dtype: str = "fp32",
          optimizer: str = "adam", input: Shape | None = None, depth: int | None = None,
          activations: str = "all", memory: str = "lecture", device: str = "cuda") -> Report:
    """Per-layer and total costs of an architecture for one training configuration.

    `device` (cuda or cpu) matters only under memory="autograd": what autograd saves differs by
    device for a few ops (dropout's mask is bool on CUDA, noise in the input's dtype on CPU).

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
    net = load(arch)
    analysis = analyze(net, input)  # first: it validates the net and names the file and layer of any error
    step = _step(net, input, options.dtype, options.optimizer, device=device) if options.memory == "autograd" else None
    return build_report(analysis, options, depth, step)


def fit(arch: str | os.PathLike[str] | Net, memory: int | str, *, dtype: str = "fp32", optimizer: str = "adam",
        input: Shape | None = None, mode: str = "train", device: str = "cuda"):
    """The largest batch whose training step (or inference pass) fits in `memory` bytes ('80GiB').

    >>> import cnncost
    >>> f = cnncost.fit("vgg16", "80GiB", dtype="bf16", optimizer="adamw")
    >>> f.batch, f.peak.phase
    (1924, 'backward, stage5.pool5')
    """
    from .memory import largest_batch, parse_bytes
    options = Options(dtype=dtype, optimizer=optimizer, memory="autograd")
    budget = memory if isinstance(memory, int) else parse_bytes(memory)
    net = load(arch)
    analyze(net, input)  # validates the net and names the file and layer of any error
    return largest_batch(_step(net, input, options.dtype, options.optimizer, mode, device), budget)


def _step(net: Net, input: Shape | None, dtype: str, optimizer: str, mode: str = "train", device: str = "cuda"):
    from .memory import MODES, Precision, step_memory, trace
    if mode not in MODES:
        from .errors import CnnCostError
        raise CnnCostError(f"unknown mode '{mode}'; allowed: {', '.join(MODES)}")
    return step_memory(trace(net, input, Precision(dtype, device)), optimizer, mode)
