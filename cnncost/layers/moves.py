"""Ops that move elements without computing and are no view of one dim's range: `roll`
(`torch.roll` along per-sample dims: Swin's cyclic shift of the windows, `torch.roll(x,
shifts=(-s, -s), dims=(1, 2))`) and `unfold_dim` (`Tensor.unfold(dim, size, step)`: sliding
windows along one dim as a strided view, halo attention's overlapping key blocks). No params,
no MACs."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, shape_text
from .base import Layer, register
from .strides import Layout
from .tensor import View, dim_in, dims_in


@register("roll")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Roll(Layer):
    """x rolled by `shifts[i]` along per-sample dim `dims[i]` (negative dims count from the end),
    elements that leave one end coming back at the other. A new tensor in the input's layout;
    nothing saved (its backward rolls back: measured, torch 2.13 CPU, fp32 and bf16 autocast).
    The map moves: a receptive field is not followed past a roll along H or W."""

    shifts: tuple[int, ...]
    dims: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.dims) >= 1, "dims must name at least one per-sample dim (rolling the "
                     "flattened tensor would move elements between samples)")
        self.require(len(self.shifts) == len(self.dims), f"shifts {list(self.shifts)} and dims {list(self.dims)} "
                     "must have one entry each")

    def out_shape(self, x: Shape) -> Shape:
        dims_in(self, self.dims, x)
        return x

    def describe(self) -> str:
        return f"shifts {list(self.shifts)} dims {list(self.dims)}"


@register("unfold_dim")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class UnfoldDim(View):
    """`x.unfold(dim + 1, size, step)`: per-sample `dim` of length n becomes (n - size) // step + 1
    windows, each `size` long along a new last dim. A view (windows overlap where step < size:
    the same elements seen twice); nothing saved. An op that needs it contiguous copies it: the
    copy has the view's elements, overlaps included (layers/strides.py)."""

    dim: int
    size: int
    step: int

    def validate(self) -> None:
        self.require_positive(size=self.size, step=self.step)

    def out_shape(self, x: Shape) -> Shape:
        d = dim_in(self, self.dim, x)
        self.require(self.size <= x[d], f"size {self.size} is longer than dim {self.dim} of {shape_text(x)}", x)
        return (*x[:d], (x[d] - self.size) // self.step + 1, *x[d + 1:], self.size)

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        d = dim_in(self, self.dim, x)
        return (*layout[:1 + d], layout[1 + d] * self.step, *layout[2 + d:], layout[1 + d])

    def describe(self) -> str:
        return f"dim {self.dim} size {self.size} step {self.step}"
