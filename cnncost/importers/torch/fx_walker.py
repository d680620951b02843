"""The graph walk over a torch.fx trace: module calls stay calls (torch.nn and torchvision layers
are leaves of the trace), functions and tensor methods are looked up in `tables`."""
from __future__ import annotations

from typing import Any, Callable

from . import tables
from .walker import GraphWalker


class FxWalker(GraphWalker):
    tracer = "torch.fx"

    def handler(self, node: Any) -> Callable | None:
        if node.op == "call_method":
            return tables.METHODS.get(node.target)
        return tables.function_handler(node.target)

    def module_handler(self, m: Any) -> Callable | None:
        return tables.module_handler(m)
