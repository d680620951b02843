"""The values a traced torch graph carries and the argument helpers every handler uses; shared by
the torch.fx and torch.export paths."""
from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass
from typing import Any

from ...layers import (Add, Arith, Attention, Chunk, ConcatMerge, Contiguous, Dropout, Expand, LayerNorm, Learnable,
                       Linear, Matmul, Mul, Pad, Permute, PReLU, Select, Slice, Softmax, Split, Stack)
from ...layers.act import Activation, DimActivation
from ...layers.imported import Reshape
from ...layers.computed import Computed
from ...layers.arith import Reduce
from ...layers.sample import GridSample
from ...layers.norm import InstanceNorm
from ...layers.merge import Binary
from ...shapes import Shape
from ..graphbuild import TV
from ...layers.rnn import LSTM
from ...layers import AvgPool, BatchNorm, Conv, MaxPool

# The layers that run on each map of a tensor whose batch is folded into its first dim (`on_maps`).
MAP_LAYERS = (Conv, BatchNorm, MaxPool, AvgPool)

# The traced batch: 2, so that the batch dimension never looks like a size-1 dimension.
BATCH = 2


@dataclass
class PV:
    """A parameter or buffer (or a view of one): its attribute path and the real tensor."""

    path: str
    tensor: Any
    shape: Shape


@dataclass
class Pieces:
    """The result of chunk/split along per-sample `dim` (0: the channels): `chunks` pieces of
    `src`, each made into a Chunk layer (torch.chunk's sizes) or a Split layer (`split`: other
    sizes) when something reads it. `refused`: the pieces not in `made` cannot be read, and why
    (x.max(dim)'s indices beside its values)."""

    src: TV
    chunks: int
    sizes: list[int]
    made: dict[int, TV]
    dim: int = 0
    split: bool = False
    refused: str = ""


def per_sample(shape: Any) -> Shape:
    """A traced tensor's shape per sample. Where a view merged the batch into its first dimension
    ((N*L, C): batch-major rows), the samples' rows stay apart: (L, C), a sample's elements the
    tensor's / N; a tensor made without the batch (from constants, (1, H, W)) keeps (H, W)."""
    dims = tuple(int(d) for d in shape)
    if dims[:1] == (BATCH,) or not dims or dims[0] % BATCH:  # a tensor made without the batch: its own shape
        return dims[1:] or (1,)
    return (dims[0] // BATCH, *dims[1:])


def on_maps(layer: Any, x: TV) -> Any:
    """A conv, a windowed pool or a batch norm reading x, a tensor whose batch is folded into its
    first dim ((N*k, C, H, W) windows or heads, per sample (k, C, H, W)), as the layer on each of
    its k maps (`folded`: torch runs it on the N*k maps); any other layer as it is."""
    if isinstance(layer, MAP_LAYERS) and not layer.folded and x.folded and x.batch == 0 and x.form == "std" \
            and len(x.shape) >= 2 + (not isinstance(layer, BatchNorm)):
        return dataclasses.replace(layer, folded=True)
    return layer


def fold_safe(layer: Any, shapes: tuple[Shape, ...]) -> bool:
    """Whether `layer` reading per-sample `shapes` maps exactly onto a tensor whose batch is folded
    into its first dim: it acts on the trailing dims or element-wise (a linear, a layer norm over
    the last dims, attention, arithmetic, padding of the trailing dims), or it is a view whose dims
    the handler mapped (views.py, lowering.softmax). A conv, a windowed pool or a batch norm maps
    only as the layer on each map (`on_maps` marks it `folded`); any other layer with spatial axes
    (an adaptive pool, a group norm...) would read the folded dim as channels or space. Attention on (N*nW, heads, L, E) without a mask or dropout
    runs PyTorch's fused kernel, which the memory rule (memory/rules.sdpa_fused) would take for the
    rank-4-per-sample math path unless the layer says it is `folded` (the handler sets it where
    q, k and v are folded the same way, and the mask too or made once per forward)."""
    shape = shapes[0] if shapes else ()
    if isinstance(layer, Attention):
        return layer.folded
    if isinstance(layer, GridSample):  # both inputs folded alike: the handler says so (importers/torch/sampling.py)
        return layer.folded
    # on each map of the folded dim (`on_maps`); an instance norm's maps normalised alike (its handler says so)
    if isinstance(layer, MAP_LAYERS + (InstanceNorm,)):
        return layer.folded
    if isinstance(layer, Reduce):  # over trailing dims: the folded dim (0, where the batch is) kept
        return layer.dims is not None and all(d % len(shape) != 0 for d in layer.dims)
    if isinstance(layer, Computed):  # c broadcasts from the right, its dims of size 1 over the folded dim
        return layer.op != "expand"
    if isinstance(layer, LayerNorm):
        return layer.over == "last" and layer.dims < len(shape)
    if isinstance(layer, Linear):
        return len(shape) >= 2
    if isinstance(layer, Activation):
        return isinstance(layer, Softmax) or not isinstance(layer, (DimActivation, PReLU))
    if isinstance(layer, Pad):  # F.pad's pairs count from the last dim: the folded first dim kept whole
        pairs = len(layer.padding) // 2 if isinstance(layer.padding, tuple) and len(layer.padding) != 4 else 2
        return pairs < len(shape)
    if isinstance(layer, LSTM):  # on the last two dims: the folded first dim is not the sequence
        return len(shape) >= 3
    return isinstance(layer, (Add, Arith, Attention, Binary, Chunk, ConcatMerge, Contiguous, Dropout, Expand, Learnable,
                              Matmul, Mul, Permute, Reshape, Select, Slice, Split, Stack))


def torch_rank(x: TV) -> int:
    """The rank of x's torch tensor: its per-sample rank, plus the batch's dim unless folded."""
    return len(x.shape) + (not x.folded)


def torch_dim(x: TV, d: int) -> int:
    """Per-sample dim d of x as a torch dim."""
    return d if x.folded else d + (d >= x.batch)


def holds(value: Any, kinds: type | tuple[type, ...]) -> bool:
    """Whether `value` (or an item of a list, tuple or dict in it) is one of `kinds`."""
    if isinstance(value, kinds):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds(v, kinds) for v in value)
    if isinstance(value, dict):
        return any(holds(v, kinds) for v in value.values())
    return False


def arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    """A call's argument, by keyword or by position."""
    if name in kwargs:
        return kwargs[name]
    if index < len(args):
        return args[index]
    return default


def dims(value: Any, rank: int) -> tuple[int, ...]:
    """Dimensions (one or several, maybe negative) as non-negative indices."""
    if isinstance(value, int):
        value = (value,)
    return tuple(d % rank for d in value)


def number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def params_of(*values: Any) -> list[Any]:
    """The trainable parameters among `values` (buffers are not params)."""
    import torch
    return [v.tensor for v in values if isinstance(v, PV) and isinstance(v.tensor, torch.nn.Parameter)]


def mutating(node: Any) -> bool:
    """An in-place call: x.add_(y), x += y, aten.relu_ (an ATen op overload named `relu_`)."""
    target = node.target
    if target in (operator.iadd, operator.imul):
        return True
    if isinstance(target, str):
        return target.endswith("_")
    packet = getattr(target, "overloadpacket", None)
    return packet is not None and getattr(packet, "__name__", "").endswith("_")
