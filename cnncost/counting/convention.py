"""A peer tool's counting convention: its name, unit and documented rules, and its rule per layer
type (`rules`, keyed by layer class). A rule is `rule(node, impl, batch)`: the node's count at this
batch, whole batch, given how the reference code implements it (`impl.Impl`). A type the tool
counts nothing for says so with `ZERO`; a type without an entry is a named error, never a 0."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from ..layers.pass_rules import rule_in

if TYPE_CHECKING:
    from ..graph import GraphNode
    from .impl import Impl

CountRule = Callable[["GraphNode", "Impl", int], int]
ParamsRule = Callable[["GraphNode", "Impl | None", bool, bool], int]


def zero(node: GraphNode, impl: Impl, batch: int) -> int:
    """The tool counts nothing for this layer type (whatever implements it)."""
    return 0


ZERO: CountRule = zero


@dataclass(frozen=True)
class Convention:
    """One tool's convention. `traced`: a JIT trace, which counts only what the main output
    depends on. `params`: the parameter count the tool prints per node, where it is not every
    parameter (`rule(node, impl, visible, trainable)`). `home`: where `rules` is defined (for errors)."""

    name: str
    unit: str
    doc: str
    rules: Mapping[type, CountRule]
    home: str
    measured: str = ""
    traced: bool = False
    params: ParamsRule | None = None

    def rule_for(self, layer: object) -> CountRule:
        return rule_in(self.rules, layer, f"counting rule for {self.name}", self.home)

    def node_ops(self, node: GraphNode, impl: Impl, batch: int) -> int:
        return self.rule_for(node.layer)(node, impl, batch)
