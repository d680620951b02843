"""Views of tensors of any rank: permute, transpose, unflatten, slice, select, expand, and the
copy that makes a view contiguous. None has params or MACs, none saves anything for backward
(their backward needs only sizes; measured, docs/memory.md). A view is no new tensor: whoever
saves it keeps its whole base alive. `flatten` and `reshape` (linear.py, imported.py) view
where PyTorch can and copy where it cannot; `out_layout` says which (`layers/strides.py`).

Every `dim` counts per-sample dims (0 is the first dim after the batch); a negative dim counts
from the end, as in PyTorch."""
from __future__ import annotations

from dataclasses import dataclass

from ..shapes import Shape, at_least, holds, numel, shape_text
from .strides import BATCH, Layout, contiguous, is_contiguous, permute, reshape
from .base import Layer, Node, register


def dim_in(node: Node, dim: int, shape: Shape, extra: int = 0) -> int:
    """`dim` of a per-sample `shape` as an index from 0 (negative: from the end); `extra` allows
    one more place (unsqueeze, stack: a new dim). Out of range is one clear error."""
    rank = len(shape) + extra
    if not -rank <= dim < rank:
        node.fail(f"dim {dim} is out of range for the {len(shape)}-D per-sample shape {shape_text(shape)} "
                  f"(dims count after the batch: {-rank}..{rank - 1})", shape)
    return dim % rank


def dims_in(node: Node, dims: tuple[int, ...], shape: Shape) -> tuple[int, ...]:
    """Several dims, each once."""
    out = tuple(dim_in(node, d, shape) for d in dims)
    if len(set(out)) != len(out):
        node.fail(f"dims {list(dims)} name a dim twice for the shape {shape_text(shape)}", shape)
    return out


class View(Layer):
    """A view of its input (or a copy where PyTorch cannot view it): no new tensor by itself."""

    def creates_tensor(self) -> bool:
        return False


@register("permute")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Permute(View):
    """`x.permute(0, *[d + 1 for d in dims])`: the per-sample dims reordered; a view. After it the
    map is not channels-first any more (a receptive field is not defined past it unless it is put
    back)."""

    dims: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.dims) >= 1, "dims must name every per-sample dim, in their new order")

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(self.dims) == len(x), f"dims {list(self.dims)} must name all {len(x)} per-sample "
                     f"dims of {shape_text(x)} in their new order", x)
        return tuple(x[d] for d in dims_in(self, self.dims, x))

    def order(self, x: Shape) -> tuple[int, ...]:
        return tuple(d % len(x) for d in self.dims)

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        return permute(layout, self.order(x))

    def describe(self) -> str:
        return "(" + ", ".join(map(str, self.dims)) + ")"


@register("transpose")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Transpose(View):
    """`x.transpose(dim0 + 1, dim1 + 1)`: two per-sample dims swapped; a view."""

    dim0: int
    dim1: int

    def order(self, x: Shape) -> tuple[int, ...]:
        a, b = dim_in(self, self.dim0, x), dim_in(self, self.dim1, x)
        order = list(range(len(x)))
        order[a], order[b] = b, a
        return tuple(order)

    def out_shape(self, x: Shape) -> Shape:
        return tuple(x[d] for d in self.order(x))

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        return permute(layout, self.order(x))

    def describe(self) -> str:
        return f"{self.dim0}<->{self.dim1}"


@register("unflatten")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Unflatten(View):
    """`x.unflatten(dim + 1, sizes)`: one dim split into `sizes` (one may be -1); always a view
    (one dim splits at any stride)."""

    dim: int
    sizes: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.sizes) >= 1 and all(s >= 1 or s == -1 for s in self.sizes)
                     and list(self.sizes).count(-1) <= 1,
                     f"sizes must be positive, with at most one -1, got {list(self.sizes)}")

    def out_shape(self, x: Shape) -> Shape:
        d = dim_in(self, self.dim, x)
        sizes = infer_sizes(self, self.sizes, x[d], x)
        return (*x[:d], *sizes, *x[d + 1:])

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        d = dim_in(self, self.dim, x)
        k = len(y) - len(x) + 1
        inner = contiguous(y[d:d + k])[1:]
        return (*layout[:1 + d], *(s * layout[1 + d] for s in inner), *layout[2 + d:])

    def describe(self) -> str:
        return f"{self.dim} -> " + "x".join(map(str, self.sizes))


def infer_sizes(node: Node, sizes: tuple[int, ...], total: int, shape: Shape) -> tuple[int, ...]:
    """`sizes` with its -1 (if any) worked out so that they hold `total` elements."""
    known = numel(tuple(s for s in sizes if s != -1))
    if -1 in sizes:
        if not holds(total % known == 0):
            node.fail(f"cannot view {total} elements as {'x'.join(map(str, sizes))}", shape)
        return tuple(total // known if s == -1 else s for s in sizes)
    if not holds(known == total):
        node.fail(f"cannot view {total} elements as {'x'.join(map(str, sizes))}", shape)
    return sizes


def slice_range(node: Node, size: int, start: int, stop: int | None, step: int, shape: Shape) -> tuple[int, int]:
    """(first index, count) of `x[start:stop:step]` along a dim of `size`, clamped as Python and
    PyTorch clamp; an empty slice is refused."""
    if type(size) is int:
        first = max(0, min(size, start + size if start < 0 else start))
        end = size if stop is None else max(0, min(size, stop + size if stop < 0 else stop))
        count = max(0, -(-(end - first) // step))
    else:  # a sweep's array of sizes: no clamping, so the bounds must lie inside every size
        first = start + size if start < 0 else start
        end = size if stop is None else (stop + size if stop < 0 else stop)
        if not holds(first >= 0, end <= size):
            node.fail(f"slice {start}:{stop} is out of range at some input sizes", shape)
        count = (end - first + step - 1) // step
    if not at_least(1, count):
        node.fail(f"slice {start}:{'' if stop is None else stop}:{step} of a dim of {size} is empty", shape)
    return first, count


@register("slice")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Slice(View):
    """`x[..., start:stop:step, ...]` along per-sample `dim` (strided subsampling: `x[:, :, ::2,
    ::2]` is two slices, dims 1 and 2); a view. Bounds clamp as Python's do; an empty slice is
    refused."""

    dim: int
    start: int = 0
    stop: int | None = None
    step: int = 1

    def validate(self) -> None:
        self.require_positive(step=self.step)

    def out_shape(self, x: Shape) -> Shape:
        d = dim_in(self, self.dim, x)
        _, count = slice_range(self, x[d], self.start, self.stop, self.step, x)
        return (*x[:d], count, *x[d + 1:])

    def first(self, x: Shape) -> int:
        d = dim_in(self, self.dim, x)
        return slice_range(self, x[d], self.start, self.stop, self.step, x)[0]

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        d = dim_in(self, self.dim, x)
        return (*layout[:1 + d], layout[1 + d] * self.step, *layout[2 + d:])

    def describe(self) -> str:
        stop = "" if self.stop is None else self.stop
        step = "" if self.step == 1 else f":{self.step}"
        return f"dim {self.dim} [{self.start or ''}:{stop}{step}]"


@register("select")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Select(View):
    """`x.select(dim + 1, index)` (`x[:, index]` for dim 0): one position of `dim`, which goes
    away; a view. A negative index counts from the end."""

    dim: int
    index: int

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) >= 2, f"cannot select from the 1-D per-sample shape {shape_text(x)}: the result "
                     "would be one number per sample; use slice to keep the dim", x)
        d = dim_in(self, self.dim, x)
        if not holds(-x[d] <= self.index, self.index < x[d]):
            self.fail(f"index {self.index} is out of range for dim {self.dim} of size {shape_text((x[d],))}", x)
        return (*x[:d], *x[d + 1:])

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        d = dim_in(self, self.dim, x)
        return (*layout[:1 + d], *layout[2 + d:])

    def describe(self) -> str:
        return f"dim {self.dim} [{self.index}]"


@register("expand")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Expand(View):
    """`x.expand(N, *shape)`: dims of size 1 repeated to `shape` (-1 keeps a dim; new leading
    dims may be added); a view with stride 0 along the repeated dims, no new memory."""

    shape: tuple[int, ...]

    def validate(self) -> None:
        self.require(len(self.shape) >= 1 and all(s >= 1 or s == -1 for s in self.shape),
                     f"shape must be positive sizes or -1, got {list(self.shape)}")

    def out_shape(self, x: Shape) -> Shape:
        lead = len(self.shape) - len(x)
        self.require(lead >= 0, f"cannot expand the {len(x)}-D {shape_text(x)} to fewer dims "
                     f"({'x'.join(map(str, self.shape))})", x)
        out = []
        for i, size in enumerate(self.shape):
            if i < lead:
                self.require(size != -1, "a new leading dim cannot be -1", x)
                out.append(size)
                continue
            have = x[i - lead]
            if size == -1 or holds(have == size):
                out.append(have)
            elif holds(have == 1):
                out.append(size)
            else:
                self.fail(f"cannot expand dim {i - lead} of size {have} to {size} (only a size-1 dim expands)", x)
        return tuple(out)

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        lead = len(y) - len(x)
        kept = [0 if x[i] != y[lead + i] else layout[1 + i] for i in range(len(x))]
        return (layout[0], *([0] * lead), *kept)

    def describe(self) -> str:
        return "-> " + "x".join(map(str, self.shape))


@register("contiguous")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Contiguous(View):
    """`x.contiguous()`: x itself where it is contiguous, else a contiguous copy (a new tensor;
    nothing saved). `batch_dim` k > 0: the copy is laid out with the batch before per-sample dim
    k, `x.movedim(0, k).contiguous().movedim(k, 0)`, as torch's reshape copies SAM's
    (3, N, heads, L, E) to (3, N * heads, L, E): the samples interleave in the storage, and the
    pieces along the dims before k are each contiguous."""

    batch_dim: int = 0

    def validate(self) -> None:
        self.require(self.batch_dim >= 0, f"batch_dim must be 0 or more, got {self.batch_dim}")

    def out_shape(self, x: Shape) -> Shape:
        self.require(self.batch_dim < max(len(x), 1), f"batch_dim {self.batch_dim} must name a dim of the "
                     f"{len(x)}-D per-sample shape {shape_text(x)}", x)
        return x

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout | None:
        if self.batch_dim:
            return layout if layout == self.copy_layout(x) else None
        return layout if is_contiguous(x, layout) else None

    def copy_layout(self, x: Shape) -> Layout:
        """(batch stride, *strides) of the copy: row-major over (x[:k], batch, x[k:])."""
        k = self.batch_dim
        whole = contiguous((*x[:k], BATCH, *x[k:]))[1:]
        return (whole[k], *whole[:k], *whole[k + 1:])

    def describe(self) -> str:
        return f"batch at dim {self.batch_dim}" if self.batch_dim else ""


def reshape_layout(x: Shape, y: Shape, layout: Layout) -> Layout | None:
    """`reshape`'s rule, for the reshaping layers: a view's layout, or None (a copy)."""
    return reshape(x, layout, y)



def split_sizes(node: Node, size: int, split: int | tuple[int, ...], shape: Shape) -> tuple[int, ...]:
    """`torch.split`'s pieces of a dim of `size`: pieces of `split` (the last smaller), or the
    listed sizes, which must add up to `size`."""
    if isinstance(split, int):
        return tuple(min(split, size - start) for start in range(0, size, split))
    if sum(split) != size:
        node.fail(f"split sizes {list(split)} add up to {sum(split)}, not to the dim's {size}", shape)
    return tuple(split)


@register("split")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Split(View):
    """Piece `index` of `torch.split(x, sizes, dim + 1)`: `sizes` is one size (pieces of it, the
    last smaller) or the list of every piece's size. A view, as a chunk (PyTorch refuses in-place
    ops on it)."""

    sizes: int | tuple[int, ...]
    index: int = 0
    dim: int = 0

    def validate(self) -> None:
        self.require_positive(sizes=self.sizes)
        self.require(self.index >= 0, f"index must be >= 0, got {self.index}")

    def pieces(self, x: Shape) -> tuple[int, ...]:
        d = dim_in(self, self.dim, x)
        pieces = split_sizes(self, x[d], self.sizes, x)
        if self.index >= len(pieces):
            self.fail(f"dim {self.dim} of size {x[d]} splits into {len(pieces)} pieces {list(pieces)}, so there "
                      f"is no piece {self.index}", x)
        return pieces

    def out_shape(self, x: Shape) -> Shape:
        d = dim_in(self, self.dim, x)
        return (*x[:d], self.pieces(x)[self.index], *x[d + 1:])

    def first(self, x: Shape) -> int:
        return sum(self.pieces(x)[:self.index])

    def out_layout(self, x: Shape, y: Shape, layout: Layout) -> Layout:
        return layout

    def describe(self) -> str:
        sizes = self.sizes if isinstance(self.sizes, int) else "/".join(map(str, self.sizes))
        return f"{self.index + 1} of {sizes}" + (f" dim {self.dim}" if self.dim else "")
