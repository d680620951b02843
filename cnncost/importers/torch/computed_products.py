"""Matrix products of the input with a tensor computed from parameters and buffers only (a `CV`,
constants.py): relative position logits. The work is per sample (it scales with the batch), so
each is an ordinary row, the computed tensor an operand read by it.

- `q @ rel_k.transpose(-1, -2)` (timm's BoTNet, HaloNet, LambdaNet position embeddings): the
  transpose of a 2-D parameter is that parameter seen as a matrix: torch.matmul folds q to rows
  and multiplies them by it, a linear without bias by the parameter (its storage is the
  parameter's: nothing saved beyond q's rows).
- `torch.einsum("byhwc,hkc->byhwk", q, rel)` (MViTv2's relative position tables gathered by
  index): a matmul by the table made once per forward (a `computed` row of op tensor).
"""
from __future__ import annotations

from typing import Any

from ...layers import Matmul, Permute
from ..graphbuild import TV, Unsupported
from . import constants
from .constants import CV
from .values import PV


def parameter_view(imp: Any, c: CV) -> PV:
    """c as the parameter it views (a 2-D parameter or its transpose, read in place: nothing
    made, nothing saved), or Unsupported."""
    params = list(c.params.values())
    t = c.tensor
    if len(params) != 1 or c.saved or t.dim() != 2:
        raise Unsupported(f"a matrix product by a {'x'.join(map(str, c.shape))} tensor computed from parameters and buffers only "
                          "(other than a 2-D parameter or its transpose)")
    p = params[0]
    same = (t.untyped_storage().data_ptr(), t.storage_offset()) == (p.untyped_storage().data_ptr(), p.storage_offset())
    if not same or tuple(t.shape) not in (tuple(p.shape), tuple(p.shape)[::-1]) or t.stride() not in (
            p.stride(), p.stride()[::-1]) or (tuple(t.shape) != tuple(p.shape)) != (t.stride() != p.stride()):
        raise Unsupported(f"a matrix product by a {'x'.join(map(str, c.shape))} tensor computed from a parameter "
                          "(other than the parameter or its transpose)")
    return PV(c.source, p, c.shape)


def einsum(imp: Any, equation: str, x: Any, c: Any) -> TV:
    """torch.einsum("byhwc,hkc->byhwk", q, rel) with rel computed from parameters (MViTv2's
    relative position table gathered by index): per sample a matmul of q, its dims ordered (...,
    h, w, c), by rel seen as (h, c, k), one matrix per h. torch.einsum runs it as one bmm over h
    with the batch folded into the rows: rel is saved once, q (or its copy) per sample (the
    Matmul's rule for a batch-free operand). Permute views put q's dims in that order and the
    result's back."""
    if not isinstance(x, TV) or not isinstance(c, CV):
        raise Unsupported("an einsum whose first operand is computed from parameters")
    left, out = equation.replace(" ", "").split("->")
    sa, sc = left.split(",")
    shared = set(sa) & set(sc)
    lead, contracted, own = shared & set(out), shared - set(out), set(sc) - shared
    if len(set(sa)) != len(sa) or len(sc) != 3 or len(lead) != 1 or len(contracted) != 1 or len(own) != 1 \
            or sa[-1] not in contracted or len(sa) < 4 or out != sa[:-1] + "".join(own):
        raise Unsupported(f"einsum '{equation}' of the input and a tensor computed from parameters (only "
                          "'b...lmk,lnk->b...lmn' and its like: one matrix per dim of the table)")
    (l,), (k,), (n,) = lead, contracted, own
    x = imp.tensor(x)
    letters = sa[1:]  # x's per-sample dims (the batch's letter is sa's first)
    m = [ch for ch in letters if ch not in (l, k)][-1]  # the rows: x's last dim other than l and k
    wanted = "".join(ch for ch in letters if ch not in (l, m, k)) + l + m + k
    xm = _order(imp, x, letters, wanted)
    table = constants.tensor_row(imp, xm, c, tuple(c.shape[sc.index(ch)] for ch in (l, k, n)), "table")
    layer = Matmul()
    y = imp.emit(layer, [xm, table], layer.merge_shape((xm.shape, table.shape)), base="einsum")
    return _order(imp, y, wanted[:-1] + n, letters[:-1] + n)


def _order(imp: Any, x: TV, letters: str, wanted: str) -> TV:
    """x (its per-sample dims named by `letters`) with its dims in `wanted`'s order: a permute view."""
    if letters == wanted:
        return x
    order = tuple(letters.index(ch) for ch in wanted)
    return imp.emit(Permute(dims=order), [x], tuple(x.shape[d] for d in order), base="permute")
