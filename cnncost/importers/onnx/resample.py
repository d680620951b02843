"""Handlers of Resize, Pad and DepthToSpace."""
from __future__ import annotations

from typing import Any

from ...layers import PixelShuffle
from ..graphbuild import TV, Unsupported
from ..lowering import pad as lower_pad, upsample
from .values import W, constant_ints, ints, scalar, text_attr
from .walker import OnnxWalker


def resize(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Resize (and the old Upsample) of a map with 1, 2 or 3 spatial dims to constant sizes or by
    constant scales: nearest, or (bi/tri)linear by the spatial rank."""
    x = imp.tensor(inputs[0])
    mode = text_attr(attrs, "mode", "nearest")
    align = text_attr(attrs, "coordinate_transformation_mode", "half_pixel") == "align_corners"
    scales = inputs[2] if len(inputs) > 2 else (inputs[1] if node.op_type == "Upsample" and len(inputs) > 1 else None)
    sizes = inputs[3] if len(inputs) > 3 else None
    spatial = len(x.shape) - 1
    linear = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(spatial)
    kind = {"nearest": "nearest", "linear": linear}.get(mode)
    if kind is None:
        raise Unsupported(f"resize mode {mode} of a {spatial}-D map")
    if sizes is not None and not (isinstance(sizes, W) and sizes.data is None):
        s = ints(sizes.data if isinstance(sizes, W) else sizes)
        if len(s) == spatial + 2:
            return upsample(imp, x, kind, align, shape=(x.shape[0], *s[2:]))
    if scales is not None:
        import numpy as np
        f = np.asarray(scales.data if isinstance(scales, W) else scales, dtype=float).reshape(-1)
        if f.size == spatial + 2 and f[0] == f[1] == 1:
            return upsample(imp, x, kind, align, factors=tuple(float(v) for v in f[2:]))
    raise Unsupported("resize without scales or sizes of the spatial dims")


def pad(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Pad of any dims but the batch; ONNX's pads are (begins..., ends...) over every axis (or
    over `axes`, opset 18), as F.pad's (before, after) pairs from the last dim back."""
    x = imp.tensor(inputs[0])
    pads = attrs.get("pads")
    if pads is None and len(inputs) > 1:
        pads = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    if pads is None:
        raise Unsupported("pad by computed pads")
    value = scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else attrs.get("value", 0.0)
    pads = tuple(int(p) for p in pads)
    rank = len(x.shape) + 1
    axes = constant_ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else tuple(range(rank))
    if axes is None:
        raise Unsupported("pad over computed axes")
    axes = tuple(a % rank for a in axes)
    if len(pads) != 2 * len(axes) or min(pads, default=0) < 0:
        raise Unsupported(f"pads {list(pads)}")
    before = dict(zip(axes, pads[:len(axes)]))
    after = dict(zip(axes, pads[len(axes):]))
    if before.get(0) or after.get(0):
        raise Unsupported(f"pads {list(pads)} of the batch dimension")
    padded = [a for a in range(1, rank) if before.get(a) or after.get(a)]
    if not padded:
        return x
    sides: list[int] = []
    for a in range(rank - 1, min(padded) - 1, -1):  # F.pad's order: the last dim first
        sides += [before.get(a, 0), after.get(a, 0)]
    if len(x.shape) == 3 and len(sides) == 2:  # a map padded in W only: its four spatial sides
        sides += [0, 0]
    return lower_pad(imp, x, tuple(sides), text_attr(attrs, "mode", "constant"), value)


def depth_to_space(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    if text_attr(attrs, "mode", "DCR") != "CRD":
        raise Unsupported("DepthToSpace in DCR mode (PyTorch's pixel_shuffle is CRD)")
    layer = PixelShuffle(factor=int(attrs["blocksize"]))
    return imp.emit(layer, [x], layer.out_shape(x.shape))
