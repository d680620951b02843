"""Handlers of matrix products between tensors and of attention: matmul / bmm / @, F.scaled_dot_
product_attention and nn.MultiheadAttention (self-attention on batch-first tokens)."""
from __future__ import annotations

from typing import Any, cast

from ...layers import Attention, Matmul, MultiheadAttention
from ...layers.computed import Computed
from ..graphbuild import TV, Unsupported
from .values import PV, arg, params_of
from .walker import GraphWalker
from . import weighted as w
from . import computed_products as products
from .constants import CV


def matmul(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """a @ b of two tensors (Matmul); by a 2-D parameter it is a Linear without bias."""
    a, b = args[0], arg(args, kwargs, 1, "other", arg(args, kwargs, 1, "mat2"))
    if isinstance(a, CV):
        raise Unsupported("a matrix product whose first operand is computed from parameters")
    if isinstance(b, CV) and products.by_table_rows(a, b):  # MViT V2's time axis: rows by a table
        return products.matmul_rows(imp, a, b)
    if isinstance(b, CV):  # q @ rel_k.transpose(-1, -2): by the parameter itself
        b = products.parameter_view(imp, b)
    if isinstance(b, PV):
        if len(b.shape) != 2:
            raise Unsupported("matrix product by a parameter that is not 2-D")
        return w.linear_on(imp, a, (b.shape[1], b.shape[0]), False, result, params_of(b))
    xs = [imp.tensor(a), imp.tensor(b)]
    layer = Matmul()
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="matmul")


matmul.takes_computed = True  # type: ignore[attr-defined]  # constants hands it a computed operand


def sdpa(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa)."""
    q, k, v = (imp.tensor(arg(args, kwargs, i, n)) for i, n in enumerate(("query", "key", "value")))
    mask = arg(args, kwargs, 3, "attn_mask")
    if mask is not None and not isinstance(mask, TV):
        raise Unsupported("attention with a mask that is not a tensor of the graph")
    scale = arg(args, kwargs, 6, "scale")
    layer = Attention(causal=bool(arg(args, kwargs, 5, "is_causal", False)),
                      dropout=float(arg(args, kwargs, 4, "dropout_p", 0.0)),
                      scale=None if scale is None else float(scale),
                      enable_gqa=bool(arg(args, kwargs, 7, "enable_gqa", False)), folded=q.folded)
    xs = [q, k, v] + ([imp.tensor(mask)] if mask is not None else [])
    if q.folded and any(not x.folded or x.shape[0] != q.shape[0] or len(x.shape) != len(q.shape) for x in xs[:3]):
        raise Unsupported("attention of q whose batch is folded with k or v folded otherwise")
    if q.folded and len(xs) == 4 and not _folded_alike(q, xs[3]):
        _check_broadcast_over_folds(imp, q, xs[3])
    return imp.emit(layer, xs, layer.merge_shape(tuple(x.shape for x in xs)), base="attention")


def _folded_alike(q: TV, mask: TV) -> bool:
    """Whether the mask's batch is folded into its first dim as q's is (Swin's shifted-window mask,
    (N*nW, heads, L, L))."""
    return mask.folded and mask.shape[0] == q.shape[0] and len(mask.shape) == len(q.shape)


def _check_broadcast_over_folds(imp: GraphWalker, q: TV, mask: TV) -> None:
    """A mask without q's fold must be one tensor for the whole batch (a `computed` tensor row:
    TinyViT's attention biases gathered by an index buffer, (heads, L, L)), of a lower rank than
    q's or with a leading 1, so that it broadcasts over the folds, and it must need a gradient:
    PyTorch then runs the math path whatever its rank (measured, torch 2.13 and 2.14.1 CPU). One
    that needs none runs the fused kernel if torch sees it 2-D or 4-D and the math path if 3-D,
    which the attention row does not tell apart: refused."""
    leaf = imp.builder.leaves[mask.leaf] if mask.leaf > 0 else None
    layer = leaf.layer if leaf is not None else None
    made_once = isinstance(layer, Computed) and layer.op == "tensor"
    if not made_once or not (len(mask.shape) < len(q.shape) or mask.shape[0] == 1):
        raise Unsupported("attention of q whose batch is folded with a mask folded otherwise")
    if not cast(Computed, layer).grad:  # made_once: a Computed
        raise Unsupported("attention of q whose batch is folded with a mask made once per forward that needs "
                          "no gradient (PyTorch's kernel then depends on the mask's rank)")


def m_multihead(imp: GraphWalker, node: Any, m: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
    """nn.MultiheadAttention(x, x, x, need_weights=False) with batch_first: self-attention on
    (L, E) tokens, as cnncost's multihead_attention block computes it."""
    q, k, v = (arg(args, kwargs, i, n) for i, n in enumerate(("query", "key", "value")))
    if not (isinstance(q, TV) and isinstance(k, TV) and isinstance(v, TV) and q.leaf == k.leaf == v.leaf):
        raise Unsupported("multi-head attention other than self-attention")
    if arg(args, kwargs, 4, "need_weights", True) or arg(args, kwargs, 3, "key_padding_mask") is not None \
            or arg(args, kwargs, 5, "attn_mask") is not None or arg(args, kwargs, 7, "is_causal", False):
        raise Unsupported("multi-head attention returning weights, or with a mask")
    if not m.batch_first or not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        raise Unsupported("multi-head attention other than batch-first with one packed projection")
    x = imp.tensor(q)
    if len(x.shape) != 2:
        raise Unsupported("multi-head attention on tokens that are not (L, E)")
    layer = MultiheadAttention(heads=int(m.num_heads), bias=m.in_proj_bias is not None,
                               dropout=float(m.dropout) if imp.train else 0.0)
    # a preset block emitted whole as one leaf (the net builder expands it): a Node, not a Layer
    return (imp.emit(layer, [x], x.shape, params=list(m.parameters())), None)  # type: ignore[arg-type]


def einsum(imp: GraphWalker, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """torch.einsum of two tensors that is a batched matrix product ("bhid,bhjd->bhij",
    "bhij,bhjd->bhid"): the operands permuted to (..., M, K) and (..., K, N) where needed, then a
    Matmul. The leading letters (the batch's first) are shared by both operands and the output."""
    equation = args[0]
    operands = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    if not isinstance(equation, str) or len(operands) != 2 or "->" not in equation or "." in equation:
        raise Unsupported("einsum other than a product of two tensors with an explicit output")
    left, out = equation.replace(" ", "").split("->")
    sa, sb = left.split(",")
    if isinstance(operands[1], CV):  # by a tensor computed from parameters (computed_products.py)
        return products.einsum(imp, equation, *operands)
    a, b = imp.tensor(operands[0]), imp.tensor(operands[1])
    lead = out[:-2]
    m, n = out[-2], out[-1]
    shared = set(sa) & set(sb)
    contracted = shared - set(out)
    if len(contracted) != 1 or not lead or set(sa) != set(lead) | {m} | contracted \
            or set(sb) != set(lead) | {n} | contracted or sa[:len(lead)] != lead or sb[:len(lead)] != lead:
        raise Unsupported(f"einsum '{equation}' (only a batched matrix product)")
    k = contracted.pop()
    xa = _order(imp, a, sa, lead + m + k)
    xb = _order(imp, b, sb, lead + k + n)
    layer = Matmul()
    return imp.emit(layer, [xa, xb], layer.merge_shape((xa.shape, xb.shape)), base="einsum")


einsum.takes_computed = True  # type: ignore[attr-defined]  # constants hands it a computed operand


def _order(imp: GraphWalker, x: TV, letters: str, wanted: str) -> TV:
    """x (its dims named by `letters`, the batch's first) with its per-sample dims in `wanted`'s order."""
    from ...layers import Permute
    if letters == wanted:
        return x
    order = tuple(letters.index(c) - 1 for c in wanted[1:])
    return imp.emit(Permute(dims=order), [x], tuple(x.shape[d] for d in order), base="permute")
