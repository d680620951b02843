"""`grid_sample`: F.grid_sample(input, grid) reads a map at the points a grid gives (spatial
transformers, RAFT's correlation lookups). Two inputs, `from: [input, grid]`:

    - {name: look, type: grid_sample, from: [corr, grid], align_corners: true}

input (C, H, W) and grid (Ho, Wo, 2) give (C, Ho, Wo); 3-D: input (C, D, H, W) and grid
(Do, Ho, Wo, 3) give (C, Do, Ho, Wo). No params; no MACs (interpolation weights, which
FlopCounterMode has no formula for). `folded`: both carry a leading dim the batch is folded into,
(k, C, H, W) and (k, Ho, Wo, 2) -> (k, C, Ho, Wo), as torch sees (N*k, ...) (an importer sets it)."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, same_sizes, shape_text
from .base import Layer, register

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")


@register("grid_sample")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class GridSample(Layer):
    """F.grid_sample(input, grid, mode, padding_mode, align_corners) on per-sample shapes."""

    arity = None
    min_inputs = 2

    mode: str = "bilinear"
    padding_mode: str = "zeros"
    align_corners: bool = False
    folded: bool = False

    def validate(self) -> None:
        self.require(self.mode in MODES, f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        self.require(self.padding_mode in PADDING_MODES,
                     f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {self.padding_mode!r}")

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"reads an input and a grid, got {len(xs)} inputs", xs[0])
        x, grid = xs
        lead = 1 if self.folded else 0
        if self.folded:
            self.require(len(x) >= 2 and len(grid) >= 2 and same_sizes(x[0], grid[0]),
                         f"folded: input and grid must share their first dim, got {shape_text(x)} and "
                         f"{shape_text(grid)}", x)
        rank = len(x) - 1 - lead
        self.require(rank in (2, 3), f"input must be (C, H, W) or (C, D, H, W), got {shape_text(x)}", x)
        self.require(len(grid) == rank + 1 + lead and grid[-1] == rank,
                     f"a {rank}-D input takes a grid of {rank}-D points ({'Do, ' if rank == 3 else ''}Ho, Wo, {rank}), "
                     f"got {shape_text(grid)}", grid)
        self.require(self.mode != "bicubic" or rank == 2, "bicubic takes a 2-D input only (as PyTorch)", x)
        return (*x[:lead + 1], *grid[lead:-1])

    def out_shape(self, x: Shape) -> Shape:
        self.fail("needs two inputs: from: [input, grid]", x)

    def describe(self) -> str:
        return f"{self.mode}{', align corners' if self.align_corners else ''}" \
               f"{'' if self.padding_mode == 'zeros' else f', {self.padding_mode}'}"
