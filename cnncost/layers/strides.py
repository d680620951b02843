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
    `reshape` copies."""
    return compute_stride((BATCH, *shape), layout, (BATCH, *new_shape))


def folds_rows(shape: Shape, layout: Layout) -> bool:
    """Whether `x.reshape(-1, x.shape[-1])` (the batch folded into the rows, as `torch.matmul`
    folds a linear's input of rank 3 or more) is a view; else it copies."""
    return compute_stride((BATCH, *shape), layout, (BATCH * numel(shape[:-1]), shape[-1])) is not None


def compute_stride(old_sizes: Shape, old_strides: Layout, new_sizes: Shape) -> Layout | None:
    """ATen's `computeStride` on whole sizes (the batch's included): the strides of the view of
    `new_sizes`, or None where there is none. The dims are cut into chunks, each a run of dims
    that nest (each stride = the next one's stride x size), and every chunk must be covered
    exactly by a run of the new dims."""
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
    """The layout of the new tensor an element-wise op makes from one input of this layout
    (`iterator_layout` with one operand)."""
    return iterator_layout(shape, [(shape, layout)])


def iterator_layout(shape: Shape, operands: list[tuple[Shape, Layout]]) -> Layout:
    """The layout of the new tensor a TensorIterator op (an element-wise op, a broadcasting
    merge) makes, of per-sample `shape`, from its input `operands` (each its per-sample shape,
    of the same rank, and layout), as ATen decides it: inputs of one shape that are all
    contiguous, or all dense with the same strides, give that layout (`compute_fast_setup_type`;
    the channels-last case is the memory model's own, `memory/layout.py`); otherwise the dims
    are ordered by the inputs' strides (`reorder_dimensions`: the first input decides, a later
    one where the earlier ones are broadcast or tie) and the output is dense in that order."""
    full = (BATCH, *shape)
    if all(s == shape for s, _ in operands):
        if all(is_contiguous(shape, lay) for _, lay in operands):
            return contiguous(shape)
        first = operands[0][1]
        if all(_dense((BATCH, *s), lay) and lay == first for s, lay in operands):
            return first
    strides = [[0 if (size == 1 and out != 1) else stride for size, stride, out in zip((BATCH, *s), lay, full)]
               for s, lay in operands]

    def should_swap(a: int, b: int) -> int:
        for op in strides:
            sa, sb = op[a], op[b]
            if sa == 0 or sb == 0:
                continue
            if sa < sb:
                return -1
            if sa > sb:
                return 1
            if full[a] > full[b]:
                return 1
        return 0

    perm = list(range(len(full) - 1, -1, -1))  # fastest first, as ATen's perm_
    for i in range(1, len(perm)):
        dim1 = i
        for dim0 in range(i - 1, -1, -1):
            comparison = should_swap(perm[dim0], perm[dim1])
            if comparison > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif comparison < 0:
                break
    out = [0] * len(full)
    step = 1
    for d in perm:
        out[d] = step
        step *= full[d]
    return tuple(out)


def _dense(sizes: Shape, layout: Layout) -> bool:
    """`is_non_overlapping_and_dense()`: the dims of size > 1, by stride, nest from stride 1."""
    dims = sorted((d for d in range(len(sizes)) if sizes[d] > 1), key=lambda d: layout[d])
    expected = 1
    for d in dims:
        if layout[d] != expected:
            return False
        expected *= sizes[d]
    return True


def like_channels_last(sizes: Shape, layout: Layout) -> bool:
    """ATen's `is_channels_last_strides_2d` / `_3d` (what `suggest_memory_format` asks) for a
    batched tensor of 4 or 5 dims: the strides grow along C, then W, H (D), N, loosely (dims of
    size 1 allowed anywhere; an ambiguous C falls back to contiguous)."""
    order = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}.get(len(sizes))
    if order is None or layout[1] == 0:
        return False
    low = 0
    for d in order:
        if layout[d] < low or (d == 0 and low == layout[1]):
            return False
        low = layout[d] * (sizes[d] if sizes[d] > 1 else 1)
    return True


def _channels_last(full: Shape) -> Layout:
    """Dense strides of a batched 4- or 5-dim shape in channels-last order (C fastest)."""
    out = [0] * len(full)
    step = 1
    for d in (1, *range(len(full) - 1, 1, -1), 0):
        out[d] = step
        step *= full[d]
    return tuple(out)


def cat_layout(shape: Shape, operands: list[tuple[Shape, Layout]]) -> Layout:
    """The layout of `torch.cat`'s output of per-sample `shape` (ATen's
    `compute_output_memory_format`): channels last (3-D or 2-D maps, as a batched 5- or 4-dim
    tensor) when every input's strides suggest it, else contiguous."""
    full = (BATCH, *shape)
    if len(full) in (4, 5) and all(like_channels_last((BATCH, *s), lay) for s, lay in operands):
        return _channels_last(full)
    return contiguous(shape)


def stack_layout(shape: Shape, dim: int, operands: list[tuple[Shape, Layout]]) -> Layout:
    """`torch.stack` along per-sample `dim` (of the output): below the inputs' rank, ATen cats
    along dim and splits it with a view; at the end, it cats the inputs unsqueezed there."""
    rank = len(operands[0][0])
    if dim < rank:
        joined = (*shape[:dim], shape[dim] * shape[dim + 1], *shape[dim + 2:])
        split = view(joined, cat_layout(joined, operands), shape)
        assert split is not None  # one dim split in two: always a view
        return split
    return cat_layout(shape, [((*s, 1), (*lay, 1)) for s, lay in operands])
