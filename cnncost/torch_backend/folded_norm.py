"""The torch module of `instance_norm`, `folded` too (layers/norm.py): the batch and the first
per-sample dim merged first, as the imported model ran it ((N*k, C, H, W): RAFT's encoder on both
images), around the very `nn.InstanceNormXd` (a subclass, still that leaf class for the counters)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _folded(cls: type[nn.Module]) -> type[nn.Module]:
    made = _FOLDED.get(cls)
    if made is None:
        def forward(self: Any, x: torch.Tensor) -> torch.Tensor:
            n = x.shape[0]
            return cls.forward(self, x.flatten(0, 1)).unflatten(0, (n, -1))
        made = _FOLDED[cls] = type(f"Folded{cls.__name__}", (cls,), {"forward": forward, "__module__": __name__})
    return made


_FOLDED: dict[type, type[nn.Module]] = {}


def instance_norm_module(layer: Any, x: Any) -> nn.Module:
    """nn.InstanceNorm1d/2d/3d by the map's rank (of each folded map)."""
    m = x[1:] if layer.folded else x
    cls: type[nn.Module] = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)[len(m) - 2]
    cls = _folded(cls) if layer.folded else cls
    return cls(m[0], eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
               track_running_stats=layer.track_running_stats)
