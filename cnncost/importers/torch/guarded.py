"""What a run of the user's module needs around it: its buffers kept as they were, and the first
line of an error it raised (for a one-line refusal). No torch at import: the tracers and the
meta run both use it."""
from __future__ import annotations

from typing import Any


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def save_buffers(module: Any) -> list[tuple[Any, Any]]:
    """Copies of the module's buffers: a train-mode pass moves BatchNorm's running statistics."""
    return [(b, b.detach().clone()) for b in module.buffers()]


def restore_buffers(buffers: list[tuple[Any, Any]]) -> None:
    import torch
    with torch.no_grad():
        for b, copy in buffers:
            b.copy_(copy)
