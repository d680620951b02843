"""Handlers of ops that move elements without computing and are no view of one dim: torch.roll
(shifted windows), Tensor.unfold (sliding windows along one dim, as a strided view) and
repeat_interleave (each slice repeated, as copies; along the batch: one copy per window)."""
from __future__ import annotations

import dataclasses
from typing import Any

from ...layers import Contiguous, Expand, Roll, UnfoldDim
from ...layers.imported import Reshape
from ..graphbuild import TV, Unsupported
from .constants import holds_batch
from .values import BATCH, arg, number, torch_rank
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


def repeat_interleave(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x.repeat_interleave(r, dim) / aten.repeat_interleave.self_int, as PyTorch runs it: each slice
    along dim seen r times (unsqueeze, expand: views), one contiguous copy, flattened. Along the
    batch (GCViT's global query repeated over each image's windows, (N, ...) -> (N*r, ...), each
    image's copies together) the result's batch is folded (`TV.folded`): per sample (r, ...)."""
    x, repeats, dim = args[0], arg(args, kwargs, 1, "repeats"), arg(args, kwargs, 2, "dim", None)
    if not (number(repeats) and isinstance(repeats, int)):
        raise Unsupported("repeat_interleave by a tensor of counts (one per slice)")
    if repeats < 1:
        raise Unsupported(f"repeat_interleave by {repeats} (an empty result)")
    if dim is None:
        raise Unsupported("repeat_interleave without dim (of the flattened tensor: it mixes the samples)")
    if holds_batch(imp, node.args[1] if len(node.args) > 1 else node.kwargs.get("repeats")):
        raise Unsupported("repeat_interleave by a count made from the batch size (the copies per sample would "
                          "grow with the batch)")
    x = imp.tensor(x)
    if x.batch:
        raise Unsupported(f"repeat_interleave of a tensor whose batch is dim {x.batch}")
    rank = torch_rank(x)
    if not isinstance(dim, int) or not -rank <= dim < rank:
        raise Unsupported(f"repeat_interleave along dim {dim} (out of range)")
    if repeats == 1:  # a copy in the contiguous layout (a contiguous x: as the importer's x.clone(), x itself)
        v = imp.emit(Contiguous(), [x], x.shape, base="repeat_interleave")
        return dataclasses.replace(v, folded=x.folded)
    if dim % rank == 0 and not x.folded:  # along the batch: per sample, r copies of the whole sample
        if repeats == BATCH and imp.tracer == "torch.export":  # export leaves sizes as numbers: x.shape[0] is 2 too
            raise Unsupported(f"repeat_interleave along the batch by {BATCH}, the traced batch: torch.export cannot "
                              "say whether the count is the batch size (copies growing with it)")
        copies = imp.emit(Expand(shape=(repeats, *x.shape)), [x], (repeats, *x.shape), base="expand")
        v = imp.emit(Contiguous(), [copies], copies.shape, base="repeat_interleave")
        return dataclasses.replace(v, folded=True)
    # along a folded dim each sample's rows stay together, the batch outermost: (N*k, ...) -> (N*k*r, ...)
    d = dim % rank if x.folded else sample_dim(x, dim, "repeat_interleave")
    s = x.shape
    one, many = (*s[:d + 1], 1, *s[d + 1:]), (*s[:d + 1], repeats, *s[d + 1:])
    v = imp.emit(Reshape(shape=one), [x], one, base="unsqueeze")
    v = imp.emit(Expand(shape=many), [v], many, base="expand")
    v = imp.emit(Contiguous(), [v], many, base="repeat_interleave")
    y = (*s[:d], s[d] * repeats, *s[d + 1:])
    v = imp.emit(Reshape(shape=y), [v], y, base="flatten")
    return dataclasses.replace(v, folded=x.folded)


repeat_interleave.batch_anywhere = True  # type: ignore[attr-defined]  # along the batch: (N*r, ...) folded
