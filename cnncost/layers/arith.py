"""Element-wise arithmetic with constants and learnable parameters, reductions, and the class
tokens prepended to a sequence. No MACs counted: element-wise products are not the
multiply-accumulates of a matrix product (as a norm's affine or a layer scale is not counted).
What each saves for backward is measured (docs/memory.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..shapes import Shape, numel, shape_text
from .base import Layer, register
from .merge import broadcast
from .strides import Layout, cat_layout, contiguous
from .tensor import dim_in, dims_in

SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


@register("arith")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Arith(Layer):
    """x op value with a constant `value` (`x + 0`, `x / 2`, `x ** 2`), or value op x with
    `reverse` (`1 - x`, `1 / x`, `2 ** x`). A new tensor. Saved: nothing for add, sub and a
    constant mul or div; x for x ** value; the reciprocal for value / x; the output for
    value ** x."""

    elementwise = True

    op: Literal["add", "sub", "mul", "div", "pow"]
    value: float
    reverse: bool = False

    def out_shape(self, x: Shape) -> Shape:
        return x

    def describe(self) -> str:
        symbol = SYMBOLS[self.op]
        return f"{self.value:g} {symbol} x" if self.reverse else f"x {symbol} {self.value:g}"


@register("learnable")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Learnable(Layer):
    """x op p with a learnable parameter p of per-sample-broadcastable `shape` (`[]`: a scalar;
    `[C, 1, 1]`: per channel; `[L, D]`: a position embedding), initialised to `init`. params =
    the elements of p, counted once. A new tensor; `mul` saves x (p's gradient), `add` nothing."""

    elementwise = True

    op: Literal["add", "mul"]
    shape: tuple[int, ...] = ()
    init: float = 0.0

    def validate(self) -> None:
        self.require(all(d >= 1 for d in self.shape), f"shape must be positive sizes, got {list(self.shape)}")

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(self.shape) <= len(x), f"the parameter's shape {list(self.shape)} has more dims than "
                     f"the per-sample {shape_text(x)} (its batch dim would broadcast too)", x)
        out = broadcast((x, (1,) * (len(x) - len(self.shape)) + tuple(self.shape)))  # p has no batch dim
        if out is None:
            self.fail(f"the parameter's shape {list(self.shape)} does not broadcast against {shape_text(x)}", x)
        return out

    def params(self, x: Shape) -> int:
        return numel(self.shape)

    def describe(self) -> str:
        what = "x".join(map(str, self.shape)) if self.shape else "scalar"
        return f"{SYMBOLS[self.op]} {what}"


@register("affine")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Affine(Layer):
    """x * weight + bias, one learnable weight (and bias) per entry of per-sample `dim` (0: per
    channel of a map), broadcast over the rest (`torch.addcmul(bias, weight, x)`, timm's Affine).
    params = size of dim x (2 with bias, else 1). A new tensor; saves x."""

    elementwise = True

    dim: int = 0
    bias: bool = True

    def out_shape(self, x: Shape) -> Shape:
        dim_in(self, self.dim, x)
        return x

    def params(self, x: Shape) -> int:
        return x[dim_in(self, self.dim, x)] * (2 if self.bias else 1)

    def describe(self) -> str:
        return f"dim {self.dim}" + ("" if self.bias else " no bias")


@register("reduce")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Reduce(Layer):
    """`x.sum|mean|amax|amin(dims)` or the p-norm over `dims` (`torch.linalg.vector_norm`, as
    `Tensor.norm(p, dims)`) of per-sample `dims` (default: all), keeping them as size 1 with
    `keepdim`; `var` with `correction` (1: unbiased; 0: `unbiased=False`); `max`: the values of
    `x.max(dim)` (one dim). A new tensor. Saved: nothing for sum and mean; x and the output for
    amax, amin and norm; x for var; max(dim) its int64 indices (one per output element)."""

    op: Literal["sum", "mean", "amax", "amin", "norm", "var", "max"]
    dims: tuple[int, ...] | None = None
    keepdim: bool = False
    p: float = 2.0
    correction: int = 1

    def validate(self) -> None:
        self.require(self.op == "norm" or self.p == 2.0, "p applies to op norm only")
        self.require(self.op == "var" or self.correction == 1, "correction applies to op var only")
        self.require(self.correction >= 0, f"correction must be >= 0, got {self.correction}")
        self.require(self.p > 0, f"p must be positive, got {self.p:g}")
        self.require(self.dims is None or len(self.dims) >= 1, "dims must name at least one dim (leave it out: all)")
        self.require(self.op != "max" or (self.dims is not None and len(self.dims) == 1),
                     "op max (x.max(dim)) reduces exactly one dim: name it in dims")

    def reduced(self, x: Shape) -> tuple[int, ...]:
        return tuple(range(len(x))) if self.dims is None else dims_in(self, self.dims, x)

    def out_shape(self, x: Shape) -> Shape:
        reduced = self.reduced(x)
        if self.keepdim:
            return tuple(1 if i in reduced else size for i, size in enumerate(x))
        self.require(len(reduced) < len(x), f"reducing every dim of {shape_text(x)} leaves one number per "
                     "sample, which a per-sample shape cannot hold; set keepdim: true", x)
        return tuple(size for i, size in enumerate(x) if i not in reduced)

    def describe(self) -> str:
        over = "all" if self.dims is None else ",".join(map(str, self.dims))
        p = f" p={self.p:g}" if self.op == "norm" else f" correction={self.correction}" if self.op == "var" else ""
        return f"{self.op}{p} over {over}" + (" keepdim" if self.keepdim else "")


@register("tokens")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Tokens(Layer):
    """`count` learnable tokens prepended along per-sample dim 0 (ViT's class token, register
    tokens): an (L, D) sequence becomes (count + L, D), as `torch.cat((token.expand(N, -1, -1),
    x), 1)`. params = count x D (x the other dims' sizes). A new tensor; nothing saved."""

    count: int = 1

    def validate(self) -> None:
        self.require_positive(count=self.count)

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) >= 2, f"prepends tokens to a sequence (L, D); got the 1-D {shape_text(x)}", x)
        return (x[0] + self.count, *x[1:])

    def params(self, x: Shape) -> int:
        return self.count * numel(x[1:])

    def new_layout(self, xs: tuple[Shape, ...], layouts: list[Layout], y: Shape) -> Layout | None:
        """cat's rule, the expanded tokens (batch stride 0) first."""
        tokens = (self.count, *xs[0][1:])
        return cat_layout(y, [(tokens, (0, *contiguous(tokens)[1:])), (xs[0], layouts[0])])

    def describe(self) -> str:
        return f"+{self.count}"
