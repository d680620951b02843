"""Strides of views, as PyTorch computes them: which reshapes can view and which must copy.

A layout here is `(batch stride, *per-sample strides)` of a tensor of per-sample shape `shape`,
in elements of its storage. A new tensor is `contiguous(shape)`: the batch stride is the
per-sample size. A view keeps its base's batch stride (a slice of the channels does not make a
sample contiguous with the next). The batch itself is taken to be above 1 (at batch 1 PyTorch
ignores the batch stride, and a few more views are contiguous).

The graph (`graph.py`, for the elements a reshape allocates) and the memory model (for what a
copy makes and what autograd saves) both ask these functions.
"""
from __future__ import annotations

from ..shapes import Shape, numel

Layout = tuple[int, ...]  # (batch stride, *per-sample strides)
BATCH = 2  # a batch above 1: its stride matters


def contiguous(shape: Shape) -> Layout:
    """A new row-major tensor of per-sample `shape`: (numel, ..., last size, 1)."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return (numel(shape), *strides)


def is_contiguous(shape: Shape, layout: Layout) -> bool:
    """`Tensor.is_contiguous()`: each dim of size > 1 (the batch's included) has the row-major
    stride of its place; dims of size 1 may have any stride."""
    expected = 1
    for size, stride in zip(reversed((BATCH, *shape)), reversed(layout)):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


def view(shape: Shape, layout: Layout, new_shape: Shape) -> Layout | None:
    """The layout of `x.view(N, *new_shape)`, or None where PyTorch cannot view it and
    `reshape` copies (ATen's `computeStride`): the dims are cut into chunks, each a run of
    dims that nest (each stride = the next one's stride x size), and every chunk must be
    covered exactly by a run of the new dims."""
    old_sizes, old_strides = (BATCH, *shape), layout
    new_sizes = (BATCH, *new_shape)
    if numel(old_sizes) != numel(new_sizes):
        return None
    new_strides = [0] * len(new_sizes)
    view_d = len(new_sizes) - 1
    chunk_base = old_strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old_sizes) - 1, -1, -1):
        tensor_numel *= old_sizes[d]
        if d == 0 or (old_sizes[d - 1] != 1 and old_strides[d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new_sizes[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base
                view_numel *= new_sizes[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = old_strides[d - 1]
                tensor_numel = view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


def reshape(shape: Shape, layout: Layout, new_shape: Shape) -> Layout | None:
    """`x.reshape(N, *new_shape)`: the view's layout, or None for a copy (new and contiguous)."""
    if is_contiguous(shape, layout):
        return (layout[0], *contiguous(new_shape)[1:])
    return view(shape, layout, new_shape)


def permute(layout: Layout, dims: tuple[int, ...]) -> Layout:
    """`x.permute(0, *[d + 1 for d in dims])`: the per-sample strides reordered."""
    return (layout[0], *(layout[1 + d] for d in dims))


def dense_like(shape: Shape, layout: Layout) -> Layout:
    """The strides of a new tensor an element-wise (TensorIterator) op makes from one input of
    this layout: dense, its dims in the input's memory order (largest stride outermost, as
    TensorIterator's `reorder_dimensions` sorts them). Dims of size 1 take any stride (none
    matters, to contiguity or to a view); a contiguous input gives a contiguous output."""
    per_sample = layout[1:]
    order = sorted((d for d in range(len(shape)) if shape[d] != 1), key=lambda d: -per_sample[d])
    strides = [1] * len(shape)
    step = 1
    for d in reversed(order):
        strides[d] = step
        step *= shape[d]
    return (numel(shape), *strides)
