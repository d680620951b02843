"""Handlers of ops that move elements without computing and are no view of one dim: torch.roll
(shifted windows) and Tensor.unfold (sliding windows along one dim, as a strided view)."""
from __future__ import annotations

from typing import Any

from ...layers import Roll, UnfoldDim
from ..graphbuild import TV, Unsupported
from .values import arg
from .views import sample_dim
from .walker import GraphWalker


def _ints(value: Any) -> tuple[int, ...]:
    return (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)


def roll(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.roll(x, shifts, dims) / x.roll / aten.roll along per-sample dims (Swin's cyclic shift)."""
    x = imp.tensor(args[0])
    shifts, along = arg(args, kwargs, 1, "shifts"), arg(args, kwargs, 2, "dims", None)
    if along is None or along == [] or along == ():
        raise Unsupported("roll without dims (of the flattened tensor: it moves elements between samples)")
    shifts, along = _ints(shifts), _ints(along)
    if len(shifts) != len(along):
        raise Unsupported(f"roll with shifts {list(shifts)} and dims {list(along)} of different lengths")
    layer = Roll(shifts=shifts, dims=tuple(sample_dim(x, d, "roll") for d in along))
    return imp.emit(layer, [x], x.shape, base="roll")


def unfold_dim(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x.unfold(dimension, size, step) / aten.unfold: sliding windows along one per-sample dim, a view."""
    x = imp.tensor(args[0])
    d = sample_dim(x, arg(args, kwargs, 1, "dimension"), "unfold")
    layer = UnfoldDim(dim=d, size=int(arg(args, kwargs, 2, "size")), step=int(arg(args, kwargs, 3, "step")))
    return imp.emit(layer, [x], imp.out(result), base="unfold")
