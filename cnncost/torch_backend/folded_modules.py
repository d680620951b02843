"""Modules of the layers an importer marks `folded` (a conv, a pool or a batch norm reading a
tensor whose batch is folded into its first dim: torch's (N*k, C, H, W) windows or heads, per
sample (k, C, H, W)). The torch build runs them on per-sample (k, C, H, W) tensors: each merges
the batch and the maps first (a view of a contiguous batch, as the imported model's tensor was)
and splits them after, around the very `torch.nn` module the model ran, so that its parameters,
its MACs and what autograd saves are that module's."""
from __future__ import annotations


import torch
from torch import nn


class Folded:
    """Mixin before a `torch.nn` class: its forward on (N, k, ...) as (N*k, ...)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        return super().forward(x.flatten(0, 1)).unflatten(0, (n, -1))  # type: ignore[misc]


def folded(cls: type[nn.Module]) -> type[nn.Module]:
    """`cls` running on a folded batch: a subclass, so that it is still a leaf `cls` (Conv2d,
    BatchNorm2d...) for whoever counts it (one per class)."""
    made = _FOLDED.get(cls)
    if made is None:
        made = _FOLDED[cls] = type(f"Folded{cls.__name__}", (Folded, cls), {"__module__": __name__})
    return made


_FOLDED: dict[type, type[nn.Module]] = {}
