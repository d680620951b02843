"""Convolution."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..shapes import Pair, Shape, numel, pair, same_padding, window
from .base import Layer, register

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder

IntOrPair = int | tuple[int, int]


def describe_window(kernel: IntOrPair, stride: IntOrPair, padding: IntOrPair | str,
                    dilation: IntOrPair = 1, extra: str = "") -> str:
    """"3x3/2 p1" style text; "s" pairs print as 1x2."""
    def text(v: IntOrPair | str) -> str:
        if isinstance(v, str):
            return v
        a, b = pair(v)
        return str(a) if a == b else f"{a}x{b}"
    kh, kw = pair(kernel)
    parts = [f"{kh}x{kw}/{text(stride)}"]
    if padding not in (0, (0, 0), "valid"):
        parts.append(f"p{text(padding)}")
    if dilation not in (1, (1, 1)):
        parts.append(f"d{text(dilation)}")
    if extra:
        parts.append(extra)
    return " ".join(parts)


def padding_pairs(padding: IntOrPair | str, kernel: Pair, dilation: Pair) -> tuple[Pair, Pair]:
    """((top, bottom), (left, right)) for int, pair, 'valid' or 'same' padding."""
    if padding == "same":
        return same_padding(kernel[0], dilation[0]), same_padding(kernel[1], dilation[1])
    if padding == "valid":
        return (0, 0), (0, 0)
    ph, pw = pair(padding)
    return (ph, ph), (pw, pw)


@register("conv")
@dataclass(frozen=True, kw_only=True)
class Conv(Layer):
    """2-D convolution (PyTorch `nn.Conv2d`).

    params = out * (in/groups) * kh * kw  (+ out with bias)
    MACs   = |output| * (in/groups) * kh * kw      (bias adds are not counted)
    """

    out: int
    kernel: IntOrPair
    stride: IntOrPair = 1
    padding: IntOrPair | Literal["same", "valid"] = 0
    dilation: IntOrPair = 1
    groups: int = 1
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(out=self.out, kernel=self.kernel, stride=self.stride,
                              dilation=self.dilation, groups=self.groups)
        if not isinstance(self.padding, str):
            self.require(min(pair(self.padding)) >= 0, f"padding must be >= 0, got {self.padding!r}")
        self.require(self.padding != "same" or pair(self.stride) == (1, 1),
                     "padding 'same' needs stride 1 (as in PyTorch)")
        self.require(self.out % self.groups == 0,
                     f"out channels {self.out} not divisible by groups={self.groups}")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        self.require(x[0] % self.groups == 0,
                     f"in channels {x[0]} not divisible by groups={self.groups}", x)
        kernel, stride, dilation = pair(self.kernel), pair(self.stride), pair(self.dilation)
        pads = padding_pairs(self.padding, kernel, dilation)
        hw = [window(x[1 + i], kernel[i], stride[i], *pads[i], dilation[i]) for i in range(2)]
        self.require(min(hw) >= 1, f"kernel {kernel[0]}x{kernel[1]} (dilation {self.dilation}) "
                     "is larger than its padded input", x)
        return (self.out, hw[0], hw[1])

    def params(self, x: Shape) -> int:
        kh, kw = pair(self.kernel)
        return self.out * (x[0] // self.groups) * kh * kw + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        kh, kw = pair(self.kernel)
        return numel(y) * (x[0] // self.groups) * kh * kw

    def describe(self) -> str:
        return describe_window(self.kernel, self.stride, self.padding, self.dilation,
                               f"g{self.groups}" if self.groups != 1 else "")

    def autograd(self, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
        return save_matmul(self, x, xs, y, b)

    def torch_module(self, x: Shape) -> Any:
        from torch import nn
        return nn.Conv2d(x[0], self.out, self.kernel, self.stride, self.padding, self.dilation,
                         self.groups, self.bias)


def save_matmul(layer: Any, x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """Conv and linear: the input (cast to the low dtype under autocast) and the weight; the bias
    is not needed."""
    low = b.precision.matmul_dtype
    b.save(b.cast(x, low))
    bias = layer.out if layer.bias else 0
    b.cast_params(layer.params(xs) - bias, bias)
    return b.like(x, y, low)
