"""Where attention's tensors lie in memory (memory/rules.py's attention rules): the fused CPU
kernel's output, the heads split off a projection; what a later view of them sees; the copies of
a mask it keeps; and whether the fused kernel runs at all."""
from __future__ import annotations

from ..layers.attention import Attention
from ..shapes import Shape, numel
from .builder import StepBuilder
from .tensors import Tensor


def split_heads_view(x: Tensor, xs: Shape, y: Shape, b: StepBuilder) -> Tensor:
    """x (..., L, features) seen as (..., heads, L, E): the heads strided over the features, so
    not contiguous even where the view shows all of x."""
    strides = x.map_strides(xs)
    heads = (*strides[:-2], y[-1] * strides[-1], strides[-2], strides[-1])
    return x.view(numel(y), "strided", heads) if numel(y) == x.elements else b.view(x, y, "strided", heads)


def fused_output_strides(q: Tensor, sq: Shape, y: Shape) -> tuple[int, ...]:
    """The fused kernel's output strides per sample (measured, torch 2.13 CPU): dense, its dims
    in the order of q's strides, as empty_like(q) lays it out (timm's q, a slice of a permuted
    packed projection, gives (L, heads, E): merging the heads after is a view). Where the batch
    is not q's outermost dim (not representable per sample), or q's strides are not known (a
    SplitHeads view), the (L, heads, E) layout stands in."""
    strides = q.batch_layout(sq)
    order = sorted(range(len(strides)), key=lambda d: -strides[d])  # stable: ties keep the dims' order
    if order[0] != 0 or (q.strides is None and not q.contiguous):
        heads_inner = (y[-1], y[-3] * y[-1], 1)
        return heads_inner if len(y) == 3 else (numel(y[1:]), *heads_inner)  # a folded (fold, heads, L, E)
    out, step = [0] * len(strides), 1
    for d in reversed(order):
        out[d] = step
        step *= (1, *y)[d]
    return tuple(out[1:])


def mask_folds(layer: Attention, mask: Tensor, q: Shape, m: Shape) -> int:
    """How many copies of a per-sample mask the fused kernel keeps: a folded attention's mask
    without the fold (a lower rank, or a leading 1) is expanded over q's folds and merged with the
    batch, a copy (measured, torch 2.13 and 2.14.1 CPU, batch 1 to 3); one made once per forward
    (fixed) is not."""
    return q[0] if layer.folded and mask.per_sample and (len(m) < len(q) or m[0] == 1) else 1
def sdpa_fused(layer: Attention, xs: list[Tensor], shapes: tuple[Shape, ...], mask_grad: bool,
               release: tuple[int, int]) -> bool:
    """Whether PyTorch's CPU dispatch runs the fused (flash) kernel: q, k, v of per-sample rank 3
    (torch 2.14: 2 or 3), one head size for all three, each with a last dim of stride 1 (a
    chunk of a transposed projection is not), no dropout, no mask that needs a gradient
    (measured, torch 2.13 and 2.14.1 CPU; everything else runs the composite math path); k's and
    v's heads q's, or broadcast over them (multi-query) with enable_gqa or on torch 2.14."""
    q, k, v = shapes[:3]
    ranks = (2, 3) if release >= (2, 14) else (3,)
    return (len(q) - layer.folded in ranks and q[-1] == v[-1] and layer.dropout == 0 and not mask_grad
            and all(t.map_strides(s)[-1] == 1 for t, s in zip(xs[:3], shapes[:3]))
            and (tuple(k[:-2]) == tuple(q[:-2]) or layer.enable_gqa or release >= (2, 14)))
