"""Importing torch views that fold the batch into another dimension and unfold it back (issue 18):
Swin's window partition and reverse, (N*nW, ws*ws, C) windows through attention, a shifted
window's mask added to the attention unfolded to (N, nW, heads, L, L), BoTNet's heads folded into
the batch with its relative-position logits, rows of tokens (N*H*W, C), and channels-last maps
viewed. Each small module is imported by both tracers and its params, MACs and saved bytes equal
the real module's (check_against measures them: parameter count, FlopCounterMode's MACs,
autograd's saved tensors at batch 2, CPU fp32). A fold whose batch is not the outermost factor,
and a layer that would read the folded dim as channels are refused with one line; fused attention on
folded windows is the kernel PyTorch runs on them (`Attention.folded`)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)
from timm_windows import window_partition, window_reverse  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


class SwinBlock(nn.Module):
    """A Swin block in small on a channels-first map: to channels-last, layer norm, windows, qkv
    heads permuted with the batch folded in, attention (q @ k^T + a learnable mask on the windows
    unfolded, softmax, @ v; or F.scaled_dot_product_attention), windows back, the residual, an MLP."""

    def __init__(self, c: int = 8, heads: int = 2, ws: int = 4, fused: bool = False, masked: bool = False,
                 opaque: bool = False, relbias: bool = False, cosine: bool = False) -> None:
        super().__init__()
        self.ws, self.heads, self.fused, self.masked, self.opaque = ws, heads, fused, masked, opaque
        self.relbias, self.cosine = relbias, cosine
        if relbias:  # Swin's relative position bias: a table of parameters gathered by a buffer of indices
            self.table = nn.Parameter(torch.randn((2 * ws - 1) ** 2, heads))
            coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
            rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
            self.register_buffer("index", rel[..., 0] * (2 * ws - 1) + rel[..., 1], persistent=False)
        if opaque:  # a group norm over the heads of the windows' q (refused: its statistics are per window)
            self.odd = nn.GroupNorm(1, heads)
        self.norm = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        self.mlp = nn.Sequential(nn.LayerNorm(c), nn.Linear(c, 2 * c), nn.GELU(), nn.Linear(2 * c, c))
        if masked:
            self.mask = nn.Parameter(torch.zeros(4, ws * ws, ws * ws))  # nW windows of an 8x8 map

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        w = window_partition(self.norm(x), self.ws).view(-1, self.ws * self.ws, C)
        B_, N, _ = w.shape
        qkv = self.qkv(w).reshape(B_, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.opaque:
            o = self.odd(q)
        elif self.fused == "mask":  # a mask computed from q and k: it needs a gradient (the math path)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=q[..., :1] @ k[..., :1].transpose(-2, -1))
        elif self.fused == "dropout":
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25)
        elif self.fused:
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            if self.cosine:  # Swin V2's cosine attention: q and k normalised over their features
                q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            a = (q * 0.5) @ k.transpose(-2, -1)
            if self.relbias:
                a = a + self.table[self.index.view(-1)].view(N, N, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
            if self.masked:
                nw = self.mask.shape[0]
                a = a.view(B_ // nw, nw, self.heads, N, N) + self.mask.unsqueeze(1).unsqueeze(0)
                a = a.view(-1, self.heads, N, N)
            o = a.softmax(dim=-1) @ v
        o = self.proj(o.transpose(1, 2).reshape(B_, N, -1)).view(-1, self.ws, self.ws, C)
        x = x + window_reverse(o, self.ws, H, W)
        x = x + self.mlp(x)
        return x.permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_swin_windows_fold_the_batch_and_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(SwinBlock(), (8, 8, 8), tracer)
    rows = {n.path: n for n in cnncost.compile(net).nodes}
    # (N*4, 16, 8) windows: per sample 4 windows of 16 tokens
    assert any(n.type == "linear" and n.input_shapes[0] == (4, 16, 8) for n in rows.values())
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in SwinBlock().parameters())


@pytest.mark.parametrize("tracer", TRACERS)
# sdpa MACs at batch 2: 8 windows x 2 heads x 16 queries x 16 keys x (4 + 4); FlopCounterMode (torch
# 2.13 CPU) counts them only where dropout decomposes the op into its matmuls.
@pytest.mark.parametrize("fused, sdpa_macs", [(True, 32768), ("mask", 32768), ("dropout", 0)])
def test_attention_on_folded_windows_is_the_kernel_pytorch_runs_on_them(tracer: str, fused: object,
                                                                        sdpa_macs: int) -> None:
    """F.scaled_dot_product_attention on (N*nW, heads, L, E): rank 4 in torch, so CPU runs the
    fused kernel (its saved q, k, v, output and log-sum-exp) where no dropout or mask needing a
    gradient sends it to the math path; the layer is `folded`, and the saved bytes equal PyTorch's."""
    net = assert_imports_exactly(SwinBlock(fused=fused), (8, 8, 8), tracer, sdpa_macs=sdpa_macs)
    attention = next(n for n in cnncost.compile(net).nodes if n.type == "attention")
    assert attention.layer.folded and attention.input_shapes[0] == (4, 2, 16, 4)
    from cnncost.spec import dump_spec, parse_spec
    back = parse_spec(dump_spec(net))  # `folded: true` round-trips
    assert back == net
    assert cnncost.table(back, batch=2, memory="autograd").totals == cnncost.table(net, batch=2, memory="autograd").totals


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_shifted_windows_mask_added_to_the_unfolded_attention_imports_exactly(tracer: str) -> None:
    assert_imports_exactly(SwinBlock(masked=True), (8, 8, 8), tracer)


class BotAttention(nn.Module):
    """timm's BottleneckAttn in small: heads folded into the batch by reshape(N*heads, d, -1),
    q @ k, relative-position logits (q times a parameter, padded, flattened, sliced, expanded), softmax,
    @ v, back to a map."""

    def __init__(self, c: int = 8, heads: int = 2, size: int = 4) -> None:
        super().__init__()
        self.heads, self.d, self.size = heads, c // heads, size
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.rel_w = nn.Parameter(torch.randn(2 * size - 1, c // heads) * 0.1)

    def rel_logits(self, q):
        B, H, W, dim = q.shape
        x = F.linear(q, self.rel_w).reshape(-1, W, 2 * W - 1)  # timm: q @ rel_w.transpose(-1, -2)
        x_pad = F.pad(x, [0, 1]).flatten(1)
        x_pad = F.pad(x_pad, [0, W - 1]).reshape(-1, W + 1, 2 * W - 1)
        x = x_pad[:, :W][:, :, W - 1:]  # timm: x_pad[:, :W, W - 1:] (one slice a call: both tracers' order)
        x = x.reshape(B, H, 1, W, W).expand(-1, -1, H, -1, -1)
        return x.permute(0, 1, 3, 2, 4).reshape(B, H * W, H * W)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = torch.split(self.qkv(x), [C, C, C], dim=1)
        q = q.reshape(B * self.heads, self.d, -1).transpose(-1, -2)
        k = k.reshape(B * self.heads, self.d, -1)
        v = v.reshape(B * self.heads, self.d, -1).transpose(-1, -2)
        attn = (q @ k) * 0.5 + self.rel_logits(q.reshape(-1, H, W, self.d))
        out = (attn.softmax(dim=-1) @ v).transpose(-1, -2).reshape(B, C, H, W)
        return out


@pytest.mark.parametrize("tracer", TRACERS)
def test_botnet_heads_folded_into_the_batch_import_exactly(tracer: str) -> None:
    assert_imports_exactly(BotAttention(), (8, 4, 4), tracer)


class TokenRows(nn.Module):
    """A linear over the channels written on the batch's rows, (N*H*W, C) (torch's reshape copies
    the channels-last view: the batch does not merge with H), and the view back; a channels-last
    map viewed as tokens (N, H*W, C) and flattened back."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)

    def forward(self, x):
        y = self.conv(x)
        n, c, h, w = y.shape
        t = self.fc(y.permute(0, 2, 3, 1).reshape(-1, c))
        z = t.view(n, h, w, c).permute(0, 3, 1, 2)
        u = self.fc2(z.permute(0, 2, 3, 1).reshape(n, h * w, c))
        return z + u.transpose(1, 2).reshape(n, c, h, w)


@pytest.mark.parametrize("tracer", TRACERS)
def test_rows_of_the_batch_and_channels_last_views_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(TokenRows(), (3, 4, 4), tracer)
    types = [n.type for n in cnncost.compile(net).nodes]
    # the fold copies (torch's reshape cannot merge the batch with H): one copy row, before it only
    assert types[2:6] == ["permute", "contiguous", "reshape", "linear"] and types.count("contiguous") == 1


class LinearNorm(nn.Module):
    """LeViT's LinearNorm: a linear on tokens, then a batch norm over the channels of the rows with
    the batch folded in, `bn(y.flatten(0, 1)).reshape_as(y)`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 2, 2)
        self.fc = nn.Linear(8, 16, bias=False)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 8)

    def forward(self, x):
        x = self.conv(x).flatten(2).transpose(1, 2)
        y = self.fc(x)
        y = self.bn(y.flatten(0, 1)).reshape_as(y)
        return self.fc2(torch.relu(y))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_batch_norm_of_rows_with_the_batch_folded_in_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(LinearNorm(), (3, 8, 8), tracer)
    bn = next(n for n in cnncost.compile(net).nodes if n.type == "batchnorm")
    assert bn.input_shapes[0] == (16, 16) and bn.params == 2 * 16  # (C, L): the channels first


class GatedCNN(nn.Module):
    """MambaOut's gated CNN block on a channels-last map: a split along the last dim, a depthwise
    conv on one piece (permuted to channels-first and back), a concat along the last dim, the
    residual added to the channels-last input."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, 2 * c)
        self.conv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc2 = nn.Linear(c, c)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        g, i, c = torch.split(self.fc1(self.norm(x)), [8, 4, 4], dim=-1)
        c = self.conv(c.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        y = self.fc2(F.gelu(g) * torch.cat((i, c), dim=-1))
        return (y + x).permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_channels_last_gated_block_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(GatedCNN(), (8, 4, 4), tracer)
    concat = next(n for n in cnncost.compile(net).nodes if n.type == "concat")
    assert concat.output_shape == (4, 4, 8)  # along the last dim of (H, W, C)


class NotOutermost(nn.Module):
    """A fold whose batch is not the outermost factor: (C*N, H*W), the channels outside the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return self.conv(x).transpose(0, 1).reshape(-1, 16)


class BatchInside(NotOutermost):
    """(C, N*H*W): the batch folded into dim 1 (SAM's qkv view maps so), given as the output,
    which must have the batch first."""

    def forward(self, x):
        return self.conv(x).transpose(0, 1).reshape(4, -1)


class ConvOnWindows(nn.Module):
    """A conv reading windows whose batch is folded: the conv runs on each window (`Conv.folded`,
    tests/importers/test_import_fold_maps.py has more)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        w = x.view(B, C, 2, H // 2, W).transpose(1, 2).reshape(B * 2, C, H // 2, W)
        return self.conv(w)


@pytest.mark.parametrize("model, line", [
    (SwinBlock(opaque=True), r"at module 'odd' \(groupnorm of a tensor whose batch is folded into its first dim\)"),
    (NotOutermost(), r"Tensor.reshape at module '\(top level\)' \(view of a tensor whose batch is dim 1: the batch "
                     r"would not be the outermost factor"),
    (BatchInside(), r"the network's output reads a tensor whose batch is dim 1, not the first"),
])
def test_folds_that_do_not_map_are_refused_with_one_line(model: nn.Module, line: str) -> None:
    with pytest.raises(CnnCostError, match=line):
        from_torch(model, (8, 8, 8) if isinstance(model, SwinBlock) else (3, 4, 4))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_conv_on_windows_runs_on_each_window(tracer: str) -> None:
    net = assert_imports_exactly(ConvOnWindows(), (3, 4, 4), tracer)
    conv = next(n for n in cnncost.compile(net).nodes if n.type == "conv")
    assert conv.layer.folded and conv.input_shapes[0] == (2, 3, 2, 4) and conv.params == 3 * 3 + 3


def test_an_opaque_op_on_folded_windows_gives_folded_windows() -> None:
    """Under allow_unknown a refused op on the windows (a group norm of q's heads) is one opaque row
    whose output keeps the windows folded, so the projection and the windows' reverse after it still map."""
    net = from_torch(SwinBlock(opaque=True), (8, 8, 8), allow_unknown=True)
    nodes = cnncost.compile(net).nodes
    assert [n.output_shape for n in nodes if n.type == "opaque"] == [(4, 2, 16, 4)]  # 4 windows, 2 heads
    assert next(n for n in nodes if n.path == "proj").type == "linear"
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in SwinBlock(opaque=True).parameters())


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("dropout, masked", [(0.0, False), (0.25, False), (0.0, True)])
def test_a_folded_attention_layer_saves_what_pytorch_saves(dtype: str, dropout: float, masked: bool) -> None:
    """`Attention(folded=True)` in a spec, on 3 windows x 2 heads x 5 tokens x 4 per sample: the
    torch backend runs it on (N*3, 2, 5, 4) as the windows were; fused without dropout or a mask
    needing a gradient, else the math path (fp32 and bf16 autocast, CPU)."""
    from cnncost.torch_backend import check
    layers = [cnncost.Linear(name=n, out=4, inputs=("input",)) for n in ("q", "k", "v")]
    mask = ()
    if masked:
        layers.append(cnncost.Linear(name="mask", out=5, inputs=("input",)))
        mask = ("mask",)
    layers += [cnncost.Attention(name="attn", inputs=("q", "k", "v") + mask, dropout=dropout, folded=True),
               cnncost.Linear(name="out", out=4)]
    result = check(cnncost.Net("windows", input=(3, 2, 5, 4), layers=tuple(layers)), batch=2, device="cpu",
                   dtype=dtype)
    wrong = [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.rows
             if r.quantity in ("shape", "params", "macs", "saved_bytes") and r.ours != r.torch]
    assert not wrong, "\n".join(wrong)
    assert any(r.path == "attn" and r.quantity == "saved_bytes" for r in result.rows)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_relative_position_bias_added_to_folded_windows_imports_exactly(tracer: str) -> None:
    """Swin's bias (heads, L, L), computed from a table of parameters, added to the windows' attention
    (N*nW, heads, L, L): it broadcasts over the folded dim; the table counted once."""
    net = assert_imports_exactly(SwinBlock(relbias=True), (8, 8, 8), tracer)
    assert any(n.type == "computed" and n.input_shapes[0] == (4, 2, 16, 16) for n in cnncost.compile(net).nodes)


class ChannelAttention(nn.Module):
    """DaViT's channel attention: the scaled k transposed, (k^T v) over the tokens, softmax, q by it."""

    def __init__(self, c: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        k = k * 0.25
        attn = (k.transpose(-1, -2) @ v).softmax(dim=-1)
        x = (attn @ q.transpose(-1, -2)).transpose(-1, -2)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_scaled_tensor_transposed_imports_exactly(tracer: str) -> None:
    """(k * scale).transpose(-1, -2): the product is its own row before the transpose, as torch runs it."""
    net = assert_imports_exactly(ChannelAttention(), (8, 4, 4), tracer)
    types = [n.type for n in cnncost.compile(net).nodes]
    assert "arith" in types or "mul" in types, types


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_norm_over_the_features_of_folded_windows_imports_exactly(tracer: str) -> None:
    """F.normalize(q, dim=-1) on (N*nW, heads, L, E) (Swin V2's cosine attention): a reduce over the
    last dim, the folded dim kept; torch's dim -1 is the per-sample dim -1."""
    # export: normalize's expand, rows the reference does not have
    net = assert_imports_exactly(SwinBlock(cosine=True), (8, 8, 8), tracer, rows=tracer == "fx")
    norms = [n for n in cnncost.compile(net).nodes if n.type == "reduce"]
    assert len(norms) == 2 and all(n.layer.dims == (3,) and n.input_shapes[0] == (4, 2, 16, 4) for n in norms)


def test_the_peer_tools_count_a_folded_attention_as_their_conventions_say() -> None:
    """FlopCounterMode and ptflops' aten backend see no formula for the fused CPU kernel that a
    folded rank-4 attention runs (the same shape unfolded, rank 5 in torch, runs the math path's
    bmm's): every live tool's total and params on the torch module (where the side venv's tools are)."""
    import tools_live  # tests/support
    tools_live.require()
    from cnncost.counting import ops
    for folded in (True, False):
        layers = [cnncost.Linear(name=n, out=4, inputs=("input",)) for n in ("q", "k", "v")]
        layers += [cnncost.Attention(name="attn", inputs=("q", "k", "v"), folded=folded), cnncost.Linear(name="out", out=4)]
        net = cnncost.Net("windows", input=(3, 2, 5, 4), layers=tuple(layers))
        tools_live.assert_tools_count_as_their_conventions(net)
    assert ops(cnncost.compile(net), "flopcounter", 1, "cnncost").total > 0  # unfolded: the math path's bmm's


class ContiguousHeads(nn.Module):
    """Heads made contiguous before fused attention: its output is laid out as q is, (heads, L, E),
    so merging the heads after copies (measured, torch 2.13 CPU); a q sliced from a permuted packed
    projection gives (L, heads, E), where the merge is a view (the Swin block above)."""

    def __init__(self, c: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.proj = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        B, L, C = x.shape
        q, k, v = (f(x).view(B, L, self.heads, -1).transpose(1, 2).contiguous() for f in (self.q, self.k, self.v))
        o = F.scaled_dot_product_attention(q, k, v)
        return self.proj(o.transpose(1, 2).reshape(B, L, C))


@pytest.mark.parametrize("tracer", TRACERS)
def test_the_fused_attention_output_is_laid_out_as_q(tracer: str) -> None:
    # sdpa MACs at batch 2: 2 samples x 2 heads x 16 queries x 16 keys x (4 + 4) = 8192
    assert_imports_exactly(ContiguousHeads(), (8, 4, 4), tracer, sdpa_macs=8192)
