"""Matrix products of the input with a tensor computed from parameters and buffers only (a `CV`,
constants.py): relative position logits. The work is per sample (it scales with the batch), so
each is an ordinary row, the computed tensor an operand read by it.

- `q @ rel_k.transpose(-1, -2)` (timm's BoTNet, HaloNet, LambdaNet position embeddings): the
  transpose of a 2-D parameter is that parameter seen as a matrix: torch.matmul folds q to rows
  and multiplies them by it, a linear without bias by the parameter (its storage is the
  parameter's: nothing saved beyond q's rows).
- `torch.matmul(r_q, Rt.transpose(1, 2))` with r_q (t, N*rows, c), the batch folded into the rows
  (torchvision's MViT V2, the time axis): per sample a matmul of (t, rows, c) by the table (t,
  c, k), one bmm as torch runs it.
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


def by_table_rows(x: Any, c: CV) -> bool:
    """Whether x @ c is a bmm by a table with the batch folded into x's rows: x's batch folded
    into its second-to-last torch dim, c of rank 3 or more with x's leading dims (not broadcast:
    torch.matmul would expand c to the batch's leading dims and copy it) and x's last dim as its
    rows."""
    return isinstance(x, TV) and x.folded and x.form == "std" and x.scale is None and len(x.shape) >= 3 \
        and x.batch == len(x.shape) - 2 and c.tensor.dim() == len(x.shape) \
        and tuple(c.shape[:-1]) == (*x.shape[:-2], x.shape[-1])


def matmul_rows(imp: Any, x: TV, c: CV) -> TV:
    """torch.matmul(r_q, Rt.transpose(1, 2)), r_q (t, N*rows, c) (torchvision's MViT V2's time
    axis, r_q permuted and reshaped so that the batch sits inside the rows): per sample a matmul
    of (t, rows, c) by the table (t, c, k) made once per forward, torch's bmm over t with the
    batch in the rows (the Matmul's rule for a batch-free operand: the table saved once, x per
    sample, copied first only where the rows do not view it). The result keeps x's batch in its
    rows."""
    table = constants.tensor_row(imp, x, c, tuple(c.shape), "table")
    layer = Matmul()
    y = imp.emit(layer, [TV(x.leaf, x.shape), table], layer.merge_shape((x.shape, table.shape)), base="matmul")
    return TV(y.leaf, y.shape, batch=x.batch, folded=True)


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
    if x.batch:
        raise Unsupported(f"einsum '{equation}' of a tensor whose batch is dim {x.batch} and a tensor computed "
                          "from parameters")
    (l,), (k,), (n,) = lead, contracted, own
    x = imp.tensor(x)
    # x's per-sample dims: sa's first letter is the batch's dim, per sample the dim it is folded
    # into (SAM's (N*heads, h, w, c)) or none
    letters = sa if x.folded else sa[1:]
    if len(letters) != len(x.shape):
        raise Unsupported(f"einsum '{equation}' of a {len(x.shape)}-D tensor per sample")
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
