"""The inputs of a torch model as `from_torch` takes them: one per-sample shape ((3, 224, 224) or
'3x224x224'), a list of shapes (the forward's first tensors, in order: RAFT's two images) or a
mapping of the forward's argument names to shapes. Inputs are named by the forward's arguments.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from ...errors import CnnCostError
from ...net import several_inputs
from ...shapes import Shape, parse_shape

Inputs = tuple[tuple[str, Shape], ...]


def module_inputs(module: Any, input: Any) -> Inputs:
    """(name, per-sample shape) of every input given, in the order the forward takes them."""
    if isinstance(input, str):
        input = [parse_shape(part) for part in input.split(",")] if "," in input else parse_shape(input)
    if not several_inputs(input):
        return (("input", _shape("input", input)),)
    names = _forward_args(module)
    if isinstance(input, Mapping):
        unknown = [n for n in input if n not in names]
        if unknown:
            raise CnnCostError(f"{type(module).__name__}.forward has no argument '{unknown[0]}'; "
                               f"its arguments: {', '.join(names) or 'none'}")
        order = [n for n in names if n in input]
        if order != names[:len(order)]:
            missing = next(n for n in names if n not in input)
            raise CnnCostError(f"the inputs given skip {type(module).__name__}.forward's argument '{missing}': "
                               "give the forward's first arguments")
        return tuple((n, _shape(n, input[n])) for n in order)
    if len(input) > len(names):
        raise CnnCostError(f"{len(input)} input shapes given; {type(module).__name__}.forward takes "
                           f"{len(names)} tensor argument(s) ({', '.join(names) or 'none'})")
    return tuple((n, _shape(n, s)) for n, s in zip(names, input))


def _forward_args(module: Any) -> list[str]:
    """The forward's positional arguments (no *args, **kwargs), `self` left out."""
    try:
        params = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _shape(name: str, value: Any) -> Shape:
    if isinstance(value, str):
        value = parse_shape(value)
    try:
        shape = tuple(int(d) for d in value)
    except (TypeError, ValueError):
        raise CnnCostError(f"input '{name}' must be a shape like (3, 224, 224), got {value!r}"[:200]) from None
    if not shape or any(d < 1 for d in shape):
        raise CnnCostError(f"input '{name}' must be positive sizes like (3, 224, 224), got {list(shape)}")
    return shape


def shapes_text(inputs: Inputs) -> str:
    """'3x224x224' or 'image1 3x224x224, image2 3x224x224'."""
    if len(inputs) == 1:
        return "x".join(map(str, inputs[0][1]))
    return ", ".join(f"{n} {'x'.join(map(str, s))}" for n, s in inputs)
