"""Whether the new tensor a layer makes is channels last (the memory model's strides; measured,
torch 2.13 CPU). Convs, pools, norms, pixel (un)shuffles and element-wise ops keep their first
input's layout (pixel_shuffle too when its output has one channel: a conv then reads it as channels
last; issue 19), except that element-wise (TensorIterator) ops write NCHW where the input's strides
are ambiguous (one channel or one position): `Layer.elementwise`. `EXCEPTIONS` holds the types that
decide otherwise."""
from __future__ import annotations

from typing import Any, Callable

from ..layers.act import Softmax
from ..layers.base import Layer
from ..layers.merge import ConcatMerge
from ..layers.norm import InstanceNorm, LayerNorm
from ..layers.reshape import ChannelShuffle
from ..layers.arith import Reduce, Tokens
from ..layers.tensor import Contiguous
from ..layers.unfold import Fold, Unfold
from ..shapes import Shape
from .tensors import Tensor

LayoutRule = Callable[[Any, list[Tensor], Shape], bool]


def _nchw(layer: Any, xs: list[Tensor], x: Shape) -> bool:
    return False


EXCEPTIONS: dict[type, LayoutRule] = {
    Softmax: _nchw,  # softmax over dim 1 writes NCHW whatever its input
    InstanceNorm: _nchw,  # batch_norm on the (1, N*C, H, W) contiguous reshape: NCHW
    ChannelShuffle: _nchw,  # `.contiguous()` after the transpose: NCHW
    # torch.cat: the inputs' layout when they share one, else NCHW
    ConcatMerge: lambda layer, xs, x: all(t.channels_last for t in xs),
    # LayerNorm2d permutes to NHWC, normalises, permutes back: its output is channels last;
    # nn.LayerNorm over C, H, W writes NCHW
    LayerNorm: lambda layer, xs, x: layer.over == "channels",
    # reductions and `.contiguous()` write NCHW; the tokens' cat does (the expanded tokens are not
    # channels last); measured, torch 2.13 CPU
    Reduce: _nchw, Contiguous: _nchw, Tokens: _nchw,
    Unfold: _nchw, Fold: _nchw,  # im2col and col2im write contiguous outputs
}


def keeps_channels_last(layer: Layer, xs: list[Tensor], x: Shape) -> bool:
    """Whether the new tensor `layer` makes from inputs `xs` (the first of shape x) is channels last."""
    rule = EXCEPTIONS.get(type(layer))
    if rule is not None:
        return rule(layer, xs, x)
    if layer.elementwise and (len(x) != 3 or x[0] == 1 or x[1] * x[2] == 1):
        return False
    return xs[0].channels_last
