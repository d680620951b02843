"""`torch.roll` along per-sample dims (shifted-window attention: Swin's cyclic shift of the
windows, `torch.roll(x, shifts=(-s, -s), dims=(1, 2))`). No params, no MACs."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape
from .base import Layer, register
from .tensor import dims_in


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
