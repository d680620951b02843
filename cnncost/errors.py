"""The one exception family of cnncost. Messages share one shape:

    specs/net.yaml: layer 'stage1.conv2' (conv): in channels 6 not divisible by groups=4; input shape 6x28x28
"""
from __future__ import annotations


class CnnCostError(ValueError):
    """Base of every error cnncost raises on bad input; fields are filled in as it travels up."""

    def __init__(self, problem: str, *, path: str | None = None, type_name: str | None = None,
                 shape: tuple[int, ...] | None = None, source: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.path, self.type_name = problem, path, type_name
        self.shape, self.source = shape, source

    def at(self, *, path: str | None = None, type_name: str | None = None,
           source: str | None = None) -> CnnCostError:
        """Fill in context the raiser did not know (layer path, spec file); set fields win."""
        self.path = self.path or path
        self.type_name = self.type_name or type_name
        self.source = self.source or source
        return self

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(f"{self.source}: ")
        if self.path:
            parts.append(f"layer '{self.path}'" + (f" ({self.type_name})" if self.type_name else "") + ": ")
        elif self.type_name:
            parts.append(f"({self.type_name}): ")
        parts.append(self.problem)
        if self.shape is not None:
            parts.append(f"; input shape {format_shape(self.shape)}")
        return "".join(parts)


class SpecError(CnnCostError):
    """A spec (YAML or dataclasses) is malformed: unknown type, missing or wrong field."""


class ShapeError(CnnCostError):
    """A layer cannot be applied to the shape that reaches it."""


class UnknownArchitecture(CnnCostError):
    """A name that is neither a built-in architecture nor a spec file."""


def format_shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)
