"""`ArgumentScan`: what the arguments of one traced call hold, found in one pass (the walk asked
five questions of every call's arguments, each walking them again)."""
from __future__ import annotations

from typing import Any

from ..graphbuild import TV
from .constants import CV
from .values import PV, Pieces


class ArgumentScan:
    """Of a call's arguments (any nesting of lists, tuples and dicts): whether they hold graph
    tensors or chunk pieces (`tensors`), parameters (`params`), tensors computed from parameters
    only (`computed`), a tensor whose batch is folded into a dim (`folded`), and why a piece
    cannot be read (`refused`)."""

    __slots__ = ("tensors", "params", "computed", "folded", "refused")

    def __init__(self, value: Any) -> None:
        self.tensors = self.params = self.computed = self.folded = False
        self.refused = ""
        self._visit(value)

    @property
    def any(self) -> bool:
        """Whether the call reads anything the walk tracks."""
        return self.tensors or self.params or self.computed

    def _visit(self, value: Any) -> None:
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                self._visit(item)
        elif kind is dict:
            for item in value.values():
                self._visit(item)
        elif isinstance(value, TV):
            self.tensors = True
            self.folded = self.folded or value.folded
        elif isinstance(value, Pieces):
            self.tensors = True
            self.folded = self.folded or value.src.folded
            if not self.refused and not value.made:
                self.refused = value.refused
        elif isinstance(value, PV):
            self.params = True
        elif isinstance(value, CV):
            self.computed = True
        elif isinstance(value, (list, tuple, dict)):  # subclasses: namedtuples, OrderedDicts
            self._visit(list(value.values()) if isinstance(value, dict) else list(value))
