"""Handlers of resampling and rearranging: interpolate/upsample, padding, pixel and channel
shuffles, center crop."""
from __future__ import annotations

from typing import Any

from ...layers import CenterCrop, ChannelShuffle, PixelShuffle, PixelUnshuffle
from ...layers import Fold, Unfold
from ..graphbuild import TV, Unsupported
from ..lowering import pad, pair_or_int, upsample
from .values import arg, number
from .walker import GraphWalker


def interpolate(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    factor = arg(args, kwargs, 2, "scale_factor")
    mode = arg(args, kwargs, 3, "mode", "nearest")
    align = arg(args, kwargs, 4, "align_corners")
    recompute = arg(args, kwargs, 5, "recompute_scale_factor")
    if arg(args, kwargs, 6, "antialias", False):
        raise Unsupported("antialiased interpolation")
    return upsample_on(imp, x, factor if not recompute else None, mode, align, result)


def upsample_on(imp: GraphWalker, x: TV, factor: Any, mode: str, align: Any, result: Any) -> TV:
    """An Upsample by `factor` where it gives the traced size, else to the traced size."""
    y = imp.out(result)
    factors = None
    if factor is not None:
        spatial = len(x.shape) - 1
        fs = (factor,) * spatial if number(factor) else tuple(factor)
        if len(fs) == spatial and tuple(int(n * float(f)) for n, f in zip(x.shape[1:], fs)) == y[1:]:
            factors = tuple(float(f) for f in fs)
    return upsample(imp, x, mode, align, factors=factors, shape=y)


def m_upsample(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    align = True if type(m).__name__ == "UpsamplingBilinear2d" else m.align_corners
    return upsample_on(imp, imp.tensor(args[0]), m.scale_factor, m.mode, align, result)


def pad_on(imp: GraphWalker, x: TV, sides: tuple, mode: str, value: Any, result: Any) -> TV:
    """F.pad's (before, after) pairs from the last dim back; a map's (left, right) as 4 sides."""
    if len(sides) == 2 and len(x.shape) == 3:
        sides = (*sides, 0, 0)
    return pad(imp, x, tuple(int(p) for p in sides), mode, value, imp.out(result))


def pad_call(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return pad_on(imp, imp.tensor(args[0]), tuple(arg(args, kwargs, 1, "pad")),
                  arg(args, kwargs, 2, "mode", "constant"), arg(args, kwargs, 3, "value", None), result)


def m_pad(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    name = type(m).__name__
    mode = "reflect" if name == "ReflectionPad2d" else "constant" if name in ("ZeroPad2d", "ConstantPad2d") else None
    if mode is None:
        raise Unsupported("")
    return pad_on(imp, imp.tensor(args[0]), tuple(m.padding), mode, getattr(m, "value", 0), result)


def m_pixel_shuffle(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    if type(m).__name__ == "PixelShuffle":
        return imp.emit(PixelShuffle(factor=int(m.upscale_factor)), [x], imp.out(result))
    return imp.emit(PixelUnshuffle(factor=int(m.downscale_factor)), [x], imp.out(result))


def pixel_shuffle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return imp.emit(PixelShuffle(factor=int(args[1])), [imp.tensor(args[0])], imp.out(result))


def pixel_unshuffle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return imp.emit(PixelUnshuffle(factor=int(args[1])), [imp.tensor(args[0])], imp.out(result))


def channel_shuffle(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    return imp.emit(ChannelShuffle(groups=int(arg(args, kwargs, 1, "groups"))), [x], x.shape, base="shuffle")


def m_channel_shuffle(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    x = imp.tensor(args[0])
    return imp.emit(ChannelShuffle(groups=int(m.groups)), [x], x.shape)


def m_center_crop(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    tensors = [imp.tensor(a) for a in args if isinstance(a, TV)]
    if len(tensors) == 2:
        return imp.emit(CenterCrop(inputs=("x", "like")), tensors, imp.out(result))  # inputs: set by the builder
    return imp.emit(CenterCrop(size=pair_or_int(m.size)), tensors[:1], imp.out(result))


def _window(value: Any) -> Any:
    """A window field as torch gives it (an int, a pair) as a spec value."""
    value = tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)
    return value[0] if isinstance(value, tuple) and len(set(value)) == 1 else value


def unfold_on(imp: GraphWalker, x: Any, kernel: Any, dilation: Any, padding: Any, stride: Any) -> TV:
    x = imp.tensor(x)
    if len(x.shape) != 3:
        raise Unsupported(f"unfold of a {'x'.join(map(str, x.shape))} tensor")
    layer = Unfold(kernel=_window(kernel), dilation=_window(dilation), padding=_window(padding),
                   stride=_window(stride))
    return imp.emit(layer, [x], layer.out_shape(x.shape), base="unfold")


def fold_on(imp: GraphWalker, x: Any, size: Any, kernel: Any, dilation: Any, padding: Any, stride: Any) -> TV:
    x = imp.tensor(x)
    if len(x.shape) != 2:
        raise Unsupported(f"fold of a {'x'.join(map(str, x.shape))} tensor")
    layer = Fold(output_size=_window(size), kernel=_window(kernel), dilation=_window(dilation),
                 padding=_window(padding), stride=_window(stride))
    return imp.emit(layer, [x], layer.out_shape(x.shape), base="fold")


def m_unfold(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return unfold_on(imp, args[0], m.kernel_size, m.dilation, m.padding, m.stride)


def m_fold(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return fold_on(imp, args[0], m.output_size, m.kernel_size, m.dilation, m.padding, m.stride)


def unfold(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.unfold(x, kernel_size, dilation=1, padding=0, stride=1); aten.im2col(x, kernel, dilation, padding, stride)."""
    return unfold_on(imp, args[0], arg(args, kwargs, 1, "kernel_size"), arg(args, kwargs, 2, "dilation", 1),
                     arg(args, kwargs, 3, "padding", 0), arg(args, kwargs, 4, "stride", 1))


def fold(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1); aten.col2im alike."""
    return fold_on(imp, args[0], arg(args, kwargs, 1, "output_size"), arg(args, kwargs, 2, "kernel_size"),
                   arg(args, kwargs, 3, "dilation", 1), arg(args, kwargs, 4, "padding", 0),
                   arg(args, kwargs, 5, "stride", 1))
