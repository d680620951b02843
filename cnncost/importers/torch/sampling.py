"""F.grid_sample (aten.grid_sampler): a map read at the points a grid gives (RAFT's correlation
lookups, spatial transformers): one `grid_sample` row reading the map and the grid."""
from __future__ import annotations

from typing import Any

from ...layers.sample import MODES, PADDING_MODES, GridSample
from ..graphbuild import TV, Unsupported
from .values import arg
from .walker import GraphWalker


def grid_sample(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.grid_sample(input, grid, mode, padding_mode, align_corners); aten.grid_sampler(input,
    grid, interpolation_mode, padding_mode, align_corners), the modes as ints. On tensors whose
    batch is folded into their first dim ((N*k, C, H, W) at (N*k, Ho, Wo, 2)), both the same way."""
    x, grid = imp.tensor(args[0]), imp.tensor(arg(args, kwargs, 1, "grid"))
    mode = arg(args, kwargs, 2, "mode", "bilinear")
    padding = arg(args, kwargs, 3, "padding_mode", "zeros")
    mode = MODES[mode] if isinstance(mode, int) else mode
    padding = PADDING_MODES[padding] if isinstance(padding, int) else padding
    align = bool(arg(args, kwargs, 4, "align_corners", False))
    if x.batch or grid.batch or x.folded != grid.folded or (x.folded and x.shape[0] != grid.shape[0]):
        raise Unsupported("grid_sample of a map and a grid whose batches are not laid out alike")
    layer = GridSample(mode=mode, padding_mode=padding, align_corners=align, folded=x.folded)
    return imp.emit(layer, [x, grid], layer.merge_shape((x.shape, grid.shape)), base="grid_sample")
