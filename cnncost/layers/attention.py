"""Products of two activations and attention: `matmul` (torch.matmul on per-sample shapes),
`attention` (F.scaled_dot_product_attention), and `multihead_attention`, a block that lowers into
leaves as nn.MultiheadAttention computes self-attention: one in-projection to 3E, the heads split
off as views (`split_heads`), attention, the heads merged back (`merge_heads`, a copy) and the
out-projection.

    - {name: scores, type: matmul, from: [q, kt]}
    - {name: attn, type: attention, from: [q, k, v], causal: true}
    - {name: mha, type: multihead_attention, heads: 8}

Shapes are per sample (the batch is never part of them); leading dims broadcast as torch.matmul's
batch dims do, between the two operands' own dims (never against the batch)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

from ..shapes import Shape, numel, same_sizes, shape_text
from .base import Block, Layer, Merge, Ref, Visit, register
from .linear import Linear


def broadcast(node: Layer, a: Shape, b: Shape) -> Shape:
    """The broadcast of two leading-dim tuples (numpy's rule, aligned on the right)."""
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if same_sizes(x, y) or (type(y) is int and y == 1):
            out.append(x)
        elif type(x) is int and x == 1:
            out.append(y)
        else:
            node.fail(f"leading dims {shape_text(a)} and {shape_text(b)} do not broadcast (dim {i}: {x} vs {y})")
    return tuple(out)


@register("matmul")
class Matmul(Layer):
    """torch.matmul of two tensors (`from: [a, b]`; bmm is one): a (..., M, K) @ b (..., K, N) ->
    (..., M, N), the leading dims broadcast; a 1-D a (K) drops M, a 1-D b (K) drops N (two vectors
    would make a scalar per sample: refused). MACs = prod(leading) x M x K x N; no params."""

    arity = None
    min_inputs = 2
    matmul_like = True

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) == 2, f"multiplies two tensors, got {len(xs)}", xs[0])
        a, b = xs
        self.require(len(a) + len(b) > 2, "two vectors make a scalar per sample; give one operand as 1xK", a)
        k_a = a[-1]
        k_b = b[0] if len(b) == 1 else b[-2]
        self.require(same_sizes(k_a, k_b), f"inner dims differ: {shape_text(a)} @ {shape_text(b)}", a)
        lead = broadcast(self, a[:-2], b[:-2])
        return lead + a[-2:-1] + b[-1:] if len(b) > 1 else lead + a[-2:-1]

    def merge_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        a = xs[0]
        return numel(y) * a[-1]  # every output element is one K-term dot product

    def out_shape(self, x: Shape) -> Shape:
        self.fail("needs two inputs: from: [a, b]", x)


@register("attention")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class Attention(Layer):
    """F.scaled_dot_product_attention(q, k, v[, mask]) (`from: [q, k, v]` or `[q, k, v, mask]`):
    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev); k and v have one set of leading
    dims, each equal to q's or 1 (broadcast, as multi-query attention's single k, v head), or with
    `enable_gqa` their heads dim (third from the end) may divide q's. The mask broadcasts to (..., L, S); `causal` and a mask exclude each other.
    MACs as FlopCounterMode's sdpa formula counts them (its FLOPs / 2): prod(q's leading dims) x
    (L x S x E + L x S x Ev), whatever the mask, causality or dropout; no params.
    `folded`: the batch is folded into q's first dim as its outermost factor, as torch sees it
    ((N*nW, heads, L, E) windows: an importer sets it); the shapes stay per sample, and only which
    kernel PyTorch picks (memory) and the torch module's view of the inputs change. A mask of a
    lower rank than q's broadcasts over the folded dim (TinyViT's biases, (heads, L, L))."""

    arity = None
    min_inputs = 3
    matmul_like = True

    causal: bool = False
    dropout: float = 0.0
    scale: float | None = None
    enable_gqa: bool = False
    folded: bool = False

    def validate(self) -> None:
        self.require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        self.require(self.scale is None or self.scale > 0, f"scale must be positive, got {self.scale}")

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        self.require(len(xs) in (3, 4), f"reads q, k, v and an optional mask, got {len(xs)} inputs", xs[0])
        q, k, v = xs[:3]
        for name, t in (("q", q), ("k", k), ("v", v)):
            self.require(len(t) >= 2, f"{name} must be (..., length, features), got {shape_text(t)}", t)
        self.require(len(q) == len(k) == len(v), f"q, k and v must have one rank: {shape_text(q)}, "
                     f"{shape_text(k)}, {shape_text(v)}", q)
        self.require(same_sizes(q[-1], k[-1]), f"q and k must have the same features: {shape_text(q)}, "
                     f"{shape_text(k)}", q)
        self.require(same_sizes(k[-2], v[-2]), f"k and v must have the same length: {shape_text(k)}, "
                     f"{shape_text(v)}", k)
        self.require(all(same_sizes(a, b) for a, b in zip(k[:-2], v[:-2])),
                     f"k and v must have the same leading dims: {shape_text(k)}, {shape_text(v)}", k)
        if self.enable_gqa and len(q) >= 3:
            self.require(all(same_sizes(a, b) for a, b in zip(q[:-3], k[:-3])) and q[-3] % k[-3] == 0,
                         f"k's heads ({k[-3]}) must divide q's ({q[-3]}) with equal other leading dims", q)
        else:  # k's and v's leading dims broadcast to q's (multi-query attention: one k, v head)
            self.require(all(same_sizes(a, b) or (type(b) is int and b == 1) for a, b in zip(q[:-2], k[:-2])),
                         f"k's and v's leading dims must equal q's or be 1: {shape_text(q)}, {shape_text(k)}", q)
        y = q[:-1] + v[-1:]
        self.require(not self.folded or len(q) >= 3, f"folded: q must be (fold, ..., L, E), got {shape_text(q)}", q)
        if len(xs) == 4:
            self.require(not self.causal, "takes a mask or causal, not both", q)
            mask = xs[3]
            scores = q[:-1] + k[-2:-1]
            fits = len(mask) <= len(scores) and all(same_sizes(m, d) or (type(m) is int and m == 1)
                                                    for m, d in zip(mask[::-1], scores[::-1]))
            self.require(fits, f"the mask {shape_text(mask)} does not broadcast to {shape_text(scores)}", mask)
        return y

    def merge_macs(self, xs: tuple[Shape, ...], y: Shape) -> int:
        q, k, v = xs[:3]
        return numel(q[:-1]) * k[-2] * (q[-1] + v[-1])

    def out_shape(self, x: Shape) -> Shape:
        self.fail("needs q, k and v: from: [q, k, v]", x)

    def describe(self) -> str:
        parts = ["causal" if self.causal else "", f"dropout {self.dropout:g}" if self.dropout else "",
                 f"scale {self.scale:g}" if self.scale is not None else "", "gqa" if self.enable_gqa else ""]
        return " ".join(p for p in parts if p)


@register("split_heads")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class SplitHeads(Layer):
    """(..., L, parts x heads x D) -> (..., heads, L, D): part `part` of a packed projection seen
    per head, `x.unflatten(-1, (parts, heads, D)).select(-3, part).transpose(-3, -2)` (timm's
    qkv.reshape(...).permute(...).unbind(0)): a view, no new tensor, nothing saved."""

    heads: int
    parts: int = 1
    part: int = 0

    def validate(self) -> None:
        self.require_positive(heads=self.heads, parts=self.parts)
        self.require(0 <= self.part < self.parts, f"part must be in [0, {self.parts}), got {self.part}")

    def creates_tensor(self) -> bool:
        return False

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) >= 2, f"needs (..., length, features), got {shape_text(x)}", x)
        width = self.parts * self.heads
        self.require(x[-1] % width == 0, f"features {x[-1]} not divisible by parts x heads = {width}", x)
        return x[:-2] + (self.heads, x[-2], x[-1] // width)

    def describe(self) -> str:
        return f"{self.heads} heads" + (f", part {self.part} of {self.parts}" if self.parts > 1 else "")


@register("merge_heads")
class MergeHeads(Layer):
    """(..., heads, L, D) -> (..., L, heads x D): `x.transpose(-3, -2).reshape(...)`, a copy
    (the transpose is not contiguous); nothing saved."""

    def out_shape(self, x: Shape) -> Shape:
        self.require(len(x) >= 3, f"needs (..., heads, length, features), got {shape_text(x)}", x)
        return x[:-3] + (x[-2], x[-3] * x[-1])


@register("multihead_attention")
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)  # eq, hash, repr: Node's
class MultiheadAttention(Block):
    """Self-attention as nn.MultiheadAttention(E, heads, bias=bias, batch_first=True) computes it
    on (..., L, E) tokens (need_weights=False): in_proj (a linear to 3E: in_proj_weight 3E x E,
    in_proj_bias 3E), q, k, v split per head, attention (`dropout` while training), heads merged,
    out_proj (E x E + E). params = 4E^2 + 4E with bias, as nn.MultiheadAttention's."""

    heads: int
    bias: bool = True
    dropout: float = 0.0
    causal: bool = False

    def validate(self) -> None:
        self.require_positive(heads=self.heads)
        self.require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")

    def lower(self, x: Ref) -> Generator[Visit | Merge, Ref, Ref]:
        embed = x.shape[-1]
        if embed % self.heads:
            self.fail(f"embed dim {embed} not divisible by heads={self.heads}", x.shape)
        qkv = yield Visit(Linear(out=3 * embed, bias=self.bias), x, "in_proj")
        parts = []
        for i, name in enumerate(("q", "k", "v")):
            parts.append((yield Visit(SplitHeads(heads=self.heads, parts=3, part=i), qkv, name)))
        out = yield Merge(Attention(name="attention", dropout=self.dropout, causal=self.causal), tuple(parts))
        merged = yield Visit(MergeHeads(), out, "merge_heads")
        return (yield Visit(Linear(out=embed, bias=self.bias), merged, "out_proj"))
