"""The network that runs a compiled graph, and the containers it builds (the layer types' own
modules are in `own_modules.py`)."""
from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn


class NamedChildren(nn.Module):
    """A module whose children may carry any spec name, even one nn.Module assigns itself: with a
    child named `training`, `model.train()` would otherwise fail assigning the flag."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not isinstance(value, nn.Module) and name in self.__dict__.get("_modules", {}):
            object.__setattr__(self, name, value)  # the attribute, beside the child of that name
        else:
            super().__setattr__(name, value)


class Holder(NamedChildren):
    """A block's place in the module tree: it owns its children's modules; the network runs them."""


def attach(parent: nn.Module, name: str, child: nn.Module) -> None:
    """Register `child` under any spec name, even one that shadows an nn.Module attribute
    ('train', 'training'...): modules are looked up through `_modules`, never as attributes."""
    from ..errors import CnnCostError
    if name in parent._modules:
        raise CnnCostError(f"two layers are named '{name}' inside one block")
    parent._modules[name] = child


class Network(NamedChildren):
    """A compiled cnncost graph as one module. Each node's module sits at the node's row path, under
    `Holder`s for its blocks; `forward_all` runs the nodes in the graph's order, frees every tensor
    after its last reader (as eager code would) and returns the outputs, the main one first."""

    def __init__(self, spec: object, plan: list[tuple[str, nn.Module, tuple[int, ...]]],
                 outputs: tuple[int, ...]) -> None:
        super().__init__()
        self.spec = spec
        for path, module, _ in plan:
            parent: nn.Module = self
            *blocks, leaf = path.split(".")
            for name in blocks:
                if name not in parent._modules:
                    attach(parent, name, Holder())
                parent = cast(nn.Module, parent._modules[name])  # attached above: never None
            attach(parent, leaf, module)
        self._steps = [(module, inputs) for _, module, inputs in plan]
        self._n_inputs = 1 + sum(1 for _, _, inputs in plan if not inputs)  # a node reading nothing is an input
        self._outputs = outputs
        last_read = {i: i for i in range(len(plan) + 1)}
        for step, (_, _, inputs) in enumerate(plan, start=1):
            for i in inputs:
                last_read[i] = step
        for i in outputs:
            last_read[i] = len(plan) + 1
        # node indices whose tensor is no longer needed once step k has run
        self._free_after: list[list[int]] = [[] for _ in range(len(plan) + 1)]
        for i, step in last_read.items():
            if step <= len(plan):
                self._free_after[step].append(i)

    def forward_all(self, *xs: torch.Tensor) -> list[torch.Tensor]:
        """The outputs for the net's inputs `xs`, in order (a further input's node reads none
        and passes the next one on)."""
        if len(xs) != self._n_inputs:
            raise TypeError(f"the network takes {self._n_inputs} input tensor(s), got {len(xs)}")
        env: list[torch.Tensor | None] = [xs[0]]
        more = iter(xs[1:])
        for step, (module, inputs) in enumerate(self._steps, start=1):
            env.append(module(*[env[i] for i in inputs]) if inputs else module(next(more)))
            for i in self._free_after[step]:
                env[i] = None
        return [env[i] for i in self._outputs]  # type: ignore[misc]

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.forward_all(*xs)[0]
