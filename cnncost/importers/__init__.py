"""Bring your own model: import a PyTorch module or an ONNX file as a cnncost Net.

    >>> import cnncost
    >>> net = cnncost.importers.load_source("torchvision:resnet18")   # doctest: +SKIP

Nothing here imports torch or onnx until an importer runs. Importing this package registers the
layer types imported graphs may use (`opaque`, `shared`, `reshape`).
"""
from __future__ import annotations

from typing import Any

from . import opaque as _opaque, reuse as _reuse  # noqa: F401  (registers the layer types)
from .opaque import Opaque
from .reuse import Reshape, Shared
# The functions, bound after their modules (a submodule import would otherwise leave the package
# attribute `from_torch` naming the module); neither module imports torch or onnx at import time.
from .from_onnx import from_onnx
from .from_torch import from_torch

__all__ = ["from_torch", "from_onnx", "load_source", "resolve_module", "Opaque", "Shared", "Reshape"]


def load_source(text: str, **options: Any):
    """See `cnncost.importers.sources.load_source`."""
    from .sources import load_source as run
    return run(text, **options)


def resolve_module(text: str, **options: Any):
    """See `cnncost.importers.sources.resolve_module`."""
    from .sources import resolve_module as run
    return run(text, **options)
