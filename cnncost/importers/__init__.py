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

__all__ = ["from_torch", "from_onnx", "load_source", "resolve_module", "Opaque", "Shared", "Reshape"]


_FUNCTIONS = {"from_torch": "torch_trace", "from_onnx": "onnx_graph"}


def __getattr__(name: str) -> Any:
    """`from_torch` and `from_onnx`, from their modules on first use (off the command line's cold path)."""
    if name not in _FUNCTIONS:
        raise AttributeError(f"module 'cnncost.importers' has no attribute '{name}'")
    import importlib
    value = getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    globals()[name] = value
    return value


def load_source(text: str, **options: Any):
    """See `cnncost.importers.sources.load_source`."""
    from .sources import load_source as run
    return run(text, **options)


def resolve_module(text: str, **options: Any):
    """See `cnncost.importers.sources.resolve_module`."""
    from .sources import resolve_module as run
    return run(text, **options)
