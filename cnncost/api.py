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
          activations: str = "all") -> Report:
    """Per-layer and total costs of an architecture for one training configuration.

    >>> import cnncost
    >>> r = cnncost.table("alexnet")          # the lecture's defaults: batch 128, fp32, adam
    >>> r.totals.params
    62378344
    >>> round(r.rows[0].activation_memory_bytes / 2**20, 1)    # the input mini-batch, MB
    73.5
    """
    options = Options(batch=batch, dtype=dtype, optimizer=optimizer, activations=activations)  # type: ignore[arg-type]
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        from .errors import CnnCostError
        raise CnnCostError(f"depth must be a non-negative integer, got {depth!r}")
    return build_report(analyze(load(arch), input), options, depth)
