"""The tensors `check` feeds a rebuilt network: random values of each input's shape at the batch,
and random integer ids (int64, below the bound) for an input that only embeddings read
(`layers.embedding.ids_inputs`)."""
from __future__ import annotations

from typing import Any

import torch

from ..layers.embedding import ids_inputs


def example_inputs(graph: Any, batch: int, dtype: torch.dtype, device: str = "cpu") -> tuple[torch.Tensor, ...]:
    """One tensor per input of the compiled `graph`, the first first."""
    bounds = ids_inputs(graph)
    return tuple(torch.randint(0, bounds[i], (batch, *shape), device=device) if i in bounds
                 else torch.randn(batch, *shape, device=device, dtype=dtype)
                 for i, shape in zip(graph.inputs, graph.input_shapes))
