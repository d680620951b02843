"""How a pass finds its rule for a layer: in its own table keyed by the layer's class, where a
class without a rule is a named error, never a silent zero (tests/layers/test_completeness.py
names every missing pair)."""
from __future__ import annotations

from typing import Any, Mapping, TypeVar

from ..errors import CnnCostError

R = TypeVar("R")


def rule_in(table: Mapping[type, R], layer: Any, what: str, home: str) -> R:
    """`table`'s rule for the class of `layer`; `what` names the rule ("memory rule") and `home`
    the table to add it to ("cnncost.memory.rules.RULES") in the error."""
    rule = table.get(type(layer))
    if rule is None:
        type_name = getattr(layer, "type_name", type(layer).__name__)
        raise CnnCostError(f"layer type '{type_name}' has no {what}; add its class to {home}", type_name=type_name)
    return rule
