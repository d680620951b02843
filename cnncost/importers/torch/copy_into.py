"""`dst.copy_(src)` into an activation, as torch.export records a slice assignment
`attn[:, :, s:, s:] = x` (timm's MViTv2 adding its relative positions to the attention logits):
later readers of the tensor written read its new value.

A copy into the whole tensor: its readers read src (the same values and size; the copy saves
nothing). A copy into slices of it (step 1, along per-sample dims): the tensor rebuilt around
src, its parts outside the slices seen as slice views and joined by concat rows. PyTorch writes
in place, so those concats are activations PyTorch does not allocate; they save nothing, so
params, MACs and saved bytes stay exact."""
from __future__ import annotations

from typing import Any

from ...layers import ConcatMerge, Slice
from ..graphbuild import TV, Unsupported
from .values import arg

# ATen and method names of ops whose result is a view of their input (a copy into one writes the input)
_VIEWS = {"slice", "select", "narrow", "view", "reshape", "_unsafe_view", "permute", "transpose", "t", "expand",
          "as_strided", "unsqueeze", "squeeze", "diagonal", "unfold", "alias", "view_as", "expand_as",
          "__getitem__", "getitem", "movedim", "swapaxes", "unflatten", "flatten", "chunk", "split", "unbind"}


def copy_(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """dst.copy_(src), src of dst's shape."""
    dst, src = args[0], arg(args, kwargs, 1, "src")
    if not isinstance(dst, TV) or not isinstance(src, TV):
        raise Unsupported("a copy into a tensor of something other than an activation")
    dst, src = imp.tensor(dst), imp.tensor(src)
    if src.shape != dst.shape or dst.folded or src.folded:
        raise Unsupported(f"a copy of a {'x'.join(map(str, src.shape))} tensor that broadcasts to "
                          f"{'x'.join(map(str, dst.shape))}, or with the batch folded")
    base, slices = _slices(imp, node.args[0])
    if not slices:
        return imp.rebind(node, src)
    value = imp.env.get(base)
    if not isinstance(value, TV) or value.folded or value.form != "std":
        raise Unsupported("a copy into slices of a tensor other than an activation")
    imp.env[base] = _rebuilt(imp, imp.tensor(value), slices, src)
    return src


def _slices(imp: Any, target: Any) -> tuple[Any, list[tuple[int, int, int | None]]]:
    """The tensor a chain of slices of `target` views, and the slices (torch dim, start, end), outermost first."""
    slices: list[tuple[int, int, int | None]] = []
    node = target
    while _name(node) == "slice":
        given = list(node.args[1:5])
        dim, start, end, step = given + [0, None, None, 1][len(given):]
        if step != 1 or node.kwargs:
            raise Unsupported("a copy into a strided slice")
        slices.insert(0, (int(dim), int(start or 0), end))
        node = node.args[0]
    if node is not target and _name(node) in _VIEWS or node is target and _name(node) in _VIEWS - {"slice"}:
        raise Unsupported(f"a copy into a view ({_name(node)}) of a tensor")
    return node, slices


def _name(node: Any) -> str:
    target = getattr(node, "target", None)
    packet = getattr(target, "overloadpacket", None)
    if packet is not None:
        return getattr(packet, "__name__", "")
    return target if isinstance(target, str) else getattr(target, "__name__", "")


def _rebuilt(imp: Any, v: TV, slices: list, src: TV) -> TV:
    """v with its part in `slices` (the first along v's own dim) replaced by src."""
    dim, start, end = slices[0]
    d = dim - 1  # per-sample dim (the batch's is 0)
    if d < 0 or d >= len(v.shape):
        raise Unsupported("a copy into a slice of the batch")
    size = v.shape[d]
    start = start + size if start < 0 else min(start, size)
    end = size if end is None else (end + size if end < 0 else min(int(end), size))
    if end <= start:
        raise Unsupported("a copy into an empty slice")

    def part(a: int, b: int) -> TV:
        shape = (*v.shape[:d], b - a, *v.shape[d + 1:])
        return imp.emit(Slice(dim=d, start=a, stop=b), [v], shape, base="slice")
    if len(slices) > 1:  # (a whole dim's slice is v itself: no row)
        inner = _rebuilt(imp, v if (start, end) == (0, size) else part(start, end), slices[1:], src)
    else:
        inner = src
    parts = ([part(0, start)] if start else []) + [inner] + ([part(end, size)] if end < size else [])
    if len(parts) == 1:
        return inner
    return imp.emit(ConcatMerge(dim=d), parts, v.shape, base="assign")
