"""The memory rule of a matmul whose second operand is made once per forward (a `computed` row of
op tensor: a relative position table gathered from parameters), not per sample."""
from __future__ import annotations

from typing import Any

from ..layers.strides import BATCH, compute_stride
from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor


def folded_rows(xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
    """x (N, *L1, *L2, M, K) @ c (*L2, K, P), c batch-free: one bmm over c's leading dims L2 with
    the batch folded into the rows, as torch.einsum runs it (measured, torch 2.13 and 2.14.1
    CPU): x permuted to (L2, N, L1, M, K) and reshaped to (prod L2, N x prod L1 x M, K), a view
    where ATen's computeStride finds one, else a copy; c seen in place. x so seen is saved where
    c needs a gradient, c (once per forward) where x needs one; the output is a new tensor."""
    low = b.precision.matmul_dtype
    x, c = (cast(t, low, b) for t in xs)
    sx, sc = shapes
    lead = len(sc) - 2
    outer = len(sx) - 2 - lead  # x's own leading dims (L1)
    full = (BATCH, *sx)
    strides = x.batch_layout(sx)
    order = [1 + outer + i for i in range(lead)] + [0] + [1 + i for i in range(outer)] + [len(sx) - 1, len(sx)]
    sizes = tuple(full[d] for d in order)
    rows = (numel(sizes[:lead]), numel(sizes[lead:-1]), sizes[-1])
    if compute_stride(sizes, tuple(strides[d] for d in order), rows) is None:
        x = b.like(x, sx)
    if xs[1].requires_grad:
        b.save(x)
    if xs[0].requires_grad:
        b.save(c)
    return b.new(numel(y), low)


def cast(t: Tensor, dtype: str, b: StepBuilder) -> Tensor:
    """t in `dtype`: t itself, or a new copy; one made once per forward is copied once (autocast
    casts it as an activation, each forward)."""
    if batch_free(t) and t.dtype != dtype:
        return b.new(0, dtype, fixed=t.fixed)
    return b.cast(t, dtype)


def batch_free(t: Any) -> bool:
    """Whether t is made once per forward (no per-sample elements)."""
    return t.per_sample == 0 and t.fixed > 0


def by_table_rows(x: Shape, c: Shape) -> bool:
    """Whether x @ c, c made once per forward, runs as `folded_rows`: x of per-sample rank 2 or
    more, c a matrix or a stack of them whose leading dims are x's last leading dims (not
    broadcast); otherwise torch.matmul's own broadcasting (c copied per sample)."""
    lead = len(c) - 2
    return len(x) >= 2 and lead >= 0 and len(x) - 2 >= lead and tuple(x[len(x) - 2 - lead:-2]) == tuple(c[:-2])
