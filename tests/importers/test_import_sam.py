"""Importing timm's Segment Anything ViT (vision_transformer_sam.py) in small: q, k, v packed in
one projection, viewed (N, L, 3, heads, E), permuted to (3, N, heads, L, E) and reshaped to
(3, N * heads, L, E) (the batch folded into dim 1, after the three parts: torch's reshape copies,
laying the samples out inside the copy), unbound; decomposed relative positions from q (here a
linear by a parameter, as timm's einsum with a gathered table is another op) broadcast with
`[:, :, :, :, None]` and added as attention's mask; windows padded and partitioned, and the
padding cropped after. Each small module is imported by both tracers and its params, MACs and
saved bytes equal the real module's (check_against measures them: parameter count,
FlopCounterMode's MACs, autograd's saved tensors at batch 2, CPU fp32)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


class SamAttention(nn.Module):
    """timm's vision_transformer_sam.Attention on (N, H, W, C), the relative-position bias made
    from q by two linears (timm: einsums of q with tables gathered from parameters)."""

    def __init__(self, c: int = 8, heads: int = 2, size: int = 4, fused: bool = True, relpos: bool = True) -> None:
        super().__init__()
        self.heads, self.fused, self.relpos = heads, fused, relpos
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        if relpos:
            self.rel_h = nn.Linear(c // heads, size, bias=False)
            self.rel_w = nn.Linear(c // heads, size, bias=False)

    def forward(self, x):
        B, H, W, _ = x.shape
        N = H * W
        x = x.reshape(B, N, -1)
        qkv = self.qkv(x).view(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * self.heads, N, -1).unbind(0)
        bias = None
        if self.relpos:
            r_q = q.reshape(B * self.heads, H, W, -1)
            rel_h, rel_w = self.rel_h(r_q), self.rel_w(r_q)
            bias = (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(-1, N, N)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            a = (q * 0.5) @ k.transpose(-2, -1)
            if bias is not None:
                a = a + bias
            x = a.softmax(dim=-1) @ v
        x = x.view(B, self.heads, N, -1).transpose(1, 2).reshape(B, N, -1)
        return self.proj(x).view(B, H, W, -1)


class SamBlock(nn.Module):
    """timm's vision_transformer_sam.Block's attention half on a channels-first map: layer norm,
    windows of `ws` (the map padded to a multiple; 0: global attention), attention, the windows
    back and the padding cropped, the residual."""

    def __init__(self, c: int = 8, ws: int = 3, **kw) -> None:
        super().__init__()
        self.ws = ws
        self.norm = nn.LayerNorm(c)
        self.attn = SamAttention(c, size=ws or 4, **kw)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        shortcut, x, ws = x, self.norm(x), self.ws
        if ws:  # timm's window_partition
            ph, pw = (ws - H % ws) % ws, (ws - W % ws) % ws
            x = F.pad(x, (0, 0, 0, pw, 0, ph))
            Hp, Wp = H + ph, W + pw
            x = x.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)
        x = self.attn(x)
        if ws:  # timm's window_unpartition (the crop one dim a call: both tracers' row order)
            x = x.view(B, Hp // ws, Wp // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1)
            x = x[:, :H][:, :, :W].contiguous()
        return (shortcut + x).permute(0, 3, 1, 2)


def _assert_exact(model: nn.Module, tracer: str) -> cnncost.Net:
    return assert_imports_exactly(model, (8, 4, 4), tracer)


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("ws", [0, 3])
@pytest.mark.parametrize("fused, relpos", [(True, True), (True, False), (False, True), (False, False)])
def test_sam_attention_with_the_batch_folded_after_the_parts_imports_exactly(tracer: str, ws: int, fused: bool,
                                                                             relpos: bool) -> None:
    """Global (ws 0: 16 tokens) and windowed (ws 3: a 4x4 map padded to 6x6, 4 windows of 9)."""
    net = _assert_exact(SamBlock(ws=ws, fused=fused, relpos=relpos), tracer)
    nodes = cnncost.compile(net).nodes
    copy = next(n for n in nodes if n.type == "contiguous" and n.layer.batch_dim)
    # per sample (3, heads, L, E), or (3, windows, heads, L, E) where the batch was folded with the
    # windows already: the batch inside, before the heads or the windows
    assert copy.layer.batch_dim == 1 and copy.output_shape == ((3, 4, 2, 9, 4) if ws else (3, 2, 16, 4))
    assert [n.output_shape for n in nodes if n.type == "select"] == [(8, 9, 4) if ws else (2, 16, 4)] * 3


@pytest.mark.parametrize("relpos", [True, False])
def test_a_copy_with_the_batch_inside_round_trips_through_a_spec(relpos: bool) -> None:
    from cnncost.spec import dump_spec, parse_spec
    net = from_torch(SamBlock(ws=0, relpos=relpos), (8, 4, 4))
    text = dump_spec(net)
    assert "batch_dim: 1" in text
    back = parse_spec(text)
    assert back == net
    assert cnncost.table(back, batch=2, memory="autograd").totals == cnncost.table(net, batch=2, memory="autograd").totals


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_pieces_of_a_copy_with_the_batch_inside_save_what_pytorch_saves(dtype: str) -> None:
    """(3, heads, L, E) per sample copied with the batch at dim 1: each part is a contiguous
    (N * heads, L, E), so a linear folds it into rows without a copy and saves the whole copy
    (measured by the torch backend, which makes the same copy: fp32 and bf16 autocast, CPU). Laid
    out with the batch first, the same part would be copied by the linear (a chunk of each sample)."""
    from cnncost.torch_backend import check
    saved = {}
    for batch_dim in (0, 1):
        layers = (cnncost.Linear(name="embed", out=8), cnncost.Linear(name="qkv", out=24),
                  cnncost.Reshape(name="split", shape=(5, 3, 2, 4)), cnncost.Permute(name="parts", dims=(1, 2, 0, 3)),
                  cnncost.Contiguous(name="copy", batch_dim=batch_dim), cnncost.Select(name="v", dim=0, index=2),
                  cnncost.Linear(name="fc", out=3))
        net = cnncost.Net("parts", input=(5, 8), layers=layers)
        result = check(net, batch=2, device="cpu", dtype=dtype)
        wrong = [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.rows
                 if r.quantity in ("shape", "saved_bytes") and r.ours != r.torch]
        assert not wrong, "\n".join(wrong)
        saved[batch_dim] = cnncost.table(net, batch=2, memory="autograd", dtype=dtype).rows[-1].saved_bytes
    size = 2 if dtype == "bf16" else 4
    assert saved[1] == 2 * 3 * 2 * 5 * 4 * size  # the whole copy, batch 2
    assert saved[0] == 2 * 2 * 5 * 4 * size  # the linear's own copy of the part


def test_a_batch_dim_past_the_shape_is_one_line() -> None:
    net = cnncost.Net("bad", input=(3, 4), layers=(cnncost.Contiguous(name="copy", batch_dim=2),))
    with pytest.raises(cnncost.CnnCostError, match=r"copy.*batch_dim 2 must name a dim of the 2-D per-sample shape"):
        cnncost.table(net)


class PermutedCopy(nn.Module):
    """q, k, v permuted before the batch and copied, `qkv.permute(2, 0, 3, 1, 4).contiguous()`:
    the copy keeps the batch at dim 1 (torch lays it out (3, N, heads, L, E)), so each part is a
    contiguous (N, heads, L, E) that matmul folds into rows without a copy, and saving one part
    keeps the whole copy alive."""

    def __init__(self, c: int = 8, heads: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4).contiguous().unbind(0)
        if self.dropout:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout)
        else:
            x = ((q * 0.5) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_a_copy_of_parts_permuted_before_the_batch_imports_exactly(tracer: str, dropout: float) -> None:
    """Exact saved bytes (PyTorch 2.13 CPU saves 10,240 and 19,456 bytes at batch 2, measured by
    check_against): the copy laid out with the batch first made matmul and attention's math path
    copy each part again (9,216 and 17,408 bytes, before `Contiguous.batch_dim`)."""
    net = _assert_exact(PermutedCopy(dropout=dropout), tracer)
    copies = [n for n in cnncost.compile(net).nodes if n.type == "contiguous"]
    assert [(n.layer.batch_dim, n.output_shape) for n in copies] == [(1, (3, 2, 16, 4))]

