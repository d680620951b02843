"""Every FLOP counter's number, to the unit, and the whole cost of a training step.

`ops(graph, tool, batch)` is what a peer tool reports for each node and for the net: an exact
int in that tool's own unit, from a documented formula per layer type (one module per tool,
`cnncost/counting/<tool>.py`) and the architecture's implementation profile (`profiles.py`:
which nodes are modules, functional calls, fused modules or operators in the reference code).
`training(graph, batch, frozen)` gives backward and training FLOPs per node; `allops` an all-ops
FLOPs convention; `tool_params`, `param_split` and `torchinfo_sizes` the tools' other figures.

>>> import cnncost
>>> from cnncost.counting import ops
>>> g = cnncost.compile(cnncost.load("resnet18"))
>>> ops(g, "fvcore").total, ops(g, "thop").total, ops(g, "ptflops").total
(1819065856, 1824033792, 1825313768)
"""
from __future__ import annotations

from typing import Any

# Bound here, not lazily: `training` is also the submodule's name, which an import of the
# submodule would otherwise leave as the package attribute. (Light: no tool module.)
from .training import Training, frozen_nodes, needs_grad, training

__all__ = ["TOOLS", "Count", "ops", "tool_params", "param_split", "torchinfo_sizes", "training", "Training",
           "profile_for", "implementations", "frozen_nodes", "needs_grad", "Profile", "Impl", "describe",
           "tool_name", "ALIASES"]


def __getattr__(name: str) -> Any:
    """The package's names load with their tool modules on first use: every table imports
    `counting.training` (backward FLOPs), which needs none of the tools."""
    if name not in __all__:
        raise AttributeError(f"module 'cnncost.counting' has no attribute '{name}'")
    from . import tools
    value = getattr(tools, name)
    globals()[name] = value
    return value
