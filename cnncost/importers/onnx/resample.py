"""Handlers of Resize, Pad and DepthToSpace."""
from __future__ import annotations

from typing import Any

from ...layers import PixelShuffle
from ..graphbuild import TV, Unsupported
from ..lowering import pad as lower_pad, upsample
from .values import W, ints, scalar, text_attr
from .walker import OnnxWalker


def resize(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Resize (and the old Upsample) to constant sizes or by constant scales."""
    x = imp.tensor(inputs[0])
    mode = text_attr(attrs, "mode", "nearest")
    align = text_attr(attrs, "coordinate_transformation_mode", "half_pixel") == "align_corners"
    scales = inputs[2] if len(inputs) > 2 else None
    sizes = inputs[3] if len(inputs) > 3 else None
    kind = {"nearest": "nearest", "linear": "bilinear"}.get(mode)
    if kind is None:
        raise Unsupported(f"resize mode {mode}")
    if sizes is not None and not (isinstance(sizes, W) and sizes.data is None):
        s = ints(sizes.data if isinstance(sizes, W) else sizes)
        if len(s):
            h, w = s[-2:]
            return upsample(imp, x, kind, align, shape=(x.shape[0], h, w))
    if scales is not None:
        import numpy as np
        f = np.asarray(scales.data if isinstance(scales, W) else scales, dtype=float).reshape(-1)
        if f.size == 4:
            return upsample(imp, x, kind, align, factors=(float(f[2]), float(f[3])))
    raise Unsupported("resize without scales or sizes")


def pad(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Pad of H and W only; ONNX's pads are (begins..., ends...) over N, C, H, W."""
    x = imp.tensor(inputs[0])
    pads = attrs.get("pads")
    if pads is None and len(inputs) > 1:
        pads = ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    value = scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else attrs.get("value", 0.0)
    pads = tuple(int(p) for p in pads)
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise Unsupported(f"pads {list(pads)}")
    top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
    return lower_pad(imp, x, (left, right, top, bottom), text_attr(attrs, "mode", "constant"), value)


def depth_to_space(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    if text_attr(attrs, "mode", "DCR") != "CRD":
        raise Unsupported("DepthToSpace in DCR mode (PyTorch's pixel_shuffle is CRD)")
    layer = PixelShuffle(factor=int(attrs["blocksize"]))
    return imp.emit(layer, [x], layer.out_shape(x.shape))
