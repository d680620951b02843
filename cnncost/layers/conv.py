"""Convolution and transposed convolution."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Pair, Shape, at_least, numel, pair, same_padding, window
from .base import Layer, register

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
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Conv(Layer):
    """2-D convolution (PyTorch `nn.Conv2d`).

    params = out * (in/groups) * kh * kw  (+ out with bias)
    MACs   = |output| * (in/groups) * kh * kw      (bias adds are not counted)
    """

    matmul_like = True

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
        if x[0] % self.groups:
            self.fail(f"in channels {x[0]} not divisible by groups={self.groups}", x)
        kernel, stride, dilation = pair(self.kernel), pair(self.stride), pair(self.dilation)
        pads = padding_pairs(self.padding, kernel, dilation)
        h = window(x[1], kernel[0], stride[0], *pads[0], dilation[0])
        w = window(x[2], kernel[1], stride[1], *pads[1], dilation[1])
        if not at_least(1, h, w):
            self.fail(f"kernel {kernel[0]}x{kernel[1]} (dilation {self.dilation}) is larger than its padded input", x)
        return (self.out, h, w)

    def params(self, x: Shape) -> int:
        kh, kw = pair(self.kernel)
        return self.out * (x[0] // self.groups) * kh * kw + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        kh, kw = pair(self.kernel)
        return numel(y) * ((x[0] // self.groups) * kh * kw)  # the int factors first: one array product in a sweep

    def describe(self) -> str:
        return describe_window(self.kernel, self.stride, self.padding, self.dilation,
                               f"g{self.groups}" if self.groups != 1 else "")

    def same_extra(self) -> Pair:
        """Rows and columns of the extra zero padding PyTorch adds for padding='same' when the total
        padding, dilation x (kernel - 1), is odd (an even kernel): it pads the input once more at
        the bottom/right, with F.pad, before the symmetric padding of the convolution itself."""
        if self.padding != "same":
            return (0, 0)
        kernel, dilation = pair(self.kernel), pair(self.dilation)
        return (dilation[0] * (kernel[0] - 1) % 2, dilation[1] * (kernel[1] - 1) % 2)


@register("conv_transpose")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class ConvTranspose(Layer):
    """Transposed 2-D convolution (PyTorch `nn.ConvTranspose2d`, U-Net's up-convolution).

    H_out = (H - 1)·stride - 2·padding + dilation·(kernel - 1) + output_padding + 1 (W alike)
    params = in * (out/groups) * kh * kw  (+ out with bias)
    MACs   = |input| * (out/groups) * kh * kw   (bias adds are not counted)

    Each input element is multiplied by the (out/groups) x kh x kw weights of its group and added
    into the output: that is what a transposed convolution computes, and what FlopCounterMode
    counts (2 FLOPs per MAC, on the input's spatial size). It is not |output| * (in/groups) * kh *
    kw: the output positions that the stride skips over get fewer terms.
    """

    matmul_like = True

    out: int
    kernel: IntOrPair
    stride: IntOrPair = 1
    padding: IntOrPair = 0
    output_padding: IntOrPair = 0
    dilation: IntOrPair = 1
    groups: int = 1
    bias: bool = True

    def validate(self) -> None:
        self.require_positive(out=self.out, kernel=self.kernel, stride=self.stride,
                              dilation=self.dilation, groups=self.groups)
        self.require(min(pair(self.padding)) >= 0, f"padding must be >= 0, got {self.padding!r}")
        self.require(min(pair(self.output_padding)) >= 0,
                     f"output_padding must be >= 0, got {self.output_padding!r}")
        for extra, stride, dilation in zip(pair(self.output_padding), pair(self.stride), pair(self.dilation)):
            self.require(extra < stride or extra < dilation,
                         f"output_padding {self.output_padding!r} must be smaller than the stride or the "
                         "dilation (PyTorch's rule)")
        self.require(self.out % self.groups == 0,
                     f"out channels {self.out} not divisible by groups={self.groups}")

    def out_shape(self, x: Shape) -> Shape:
        self.expect_map(x)
        if x[0] % self.groups:
            self.fail(f"in channels {x[0]} not divisible by groups={self.groups}", x)
        kernel, stride, padding = pair(self.kernel), pair(self.stride), pair(self.padding)
        extra, dilation = pair(self.output_padding), pair(self.dilation)
        hw = [(x[1 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + extra[i] + 1
              for i in range(2)]
        if not at_least(1, *hw):
            from ..shapes import shape_text
            self.fail(f"padding {self.padding!r} leaves no output ({shape_text(tuple(hw))})", x)
        return (self.out, hw[0], hw[1])

    def params(self, x: Shape) -> int:
        kh, kw = pair(self.kernel)
        return x[0] * (self.out // self.groups) * kh * kw + (self.out if self.bias else 0)

    def macs(self, x: Shape, y: Shape) -> int:
        kh, kw = pair(self.kernel)
        return numel(x) * ((self.out // self.groups) * kh * kw)

    def describe(self) -> str:
        extra = pair(self.output_padding)
        parts = [f"g{self.groups}" if self.groups != 1 else "",
                 "" if extra == (0, 0) else f"op{extra[0] if extra[0] == extra[1] else f'{extra[0]}x{extra[1]}'}"]
        return describe_window(self.kernel, self.stride, self.padding, self.dilation,
                               " ".join(p for p in parts if p))
