"""Importing torch models with 1-D and 3-D maps and token layouts (issue 18): each small module
below is imported by both tracers, and its params, MACs and saved bytes equal the real module's
(check_against measures them: parameter count, FlopCounterMode's MACs, autograd's saved tensors at
batch 2, CPU fp32)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)


def _sdpa(heads: int, length: int, head_dim: int) -> int:
    """One self-attention's MACs at batch 2: FlopCounterMode's sdpa formula / 2, heads x L x S x (E + Ev)."""
    return 2 * heads * length * length * 2 * head_dim


class Video(nn.Module):
    """A tiny video net: Conv3d, BatchNorm3d, MaxPool3d, trilinear and nearest upsampling, an
    adaptive 3-D pool; then a Conv1d / BatchNorm1d / AvgPool1d on the flattened map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
        self.bn = nn.BatchNorm3d(8)
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.up = nn.Upsample(scale_factor=2, mode="trilinear")
        self.gap = nn.AdaptiveAvgPool3d(1)
        self.conv1 = nn.Conv1d(8, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(4)
        self.avg1 = nn.AvgPool1d(2)

    def forward(self, x):
        y = self.pool(torch.relu(self.bn(self.conv(x))))
        z = self.up(y)
        u = F.interpolate(y, scale_factor=(1, 2, 2), mode="nearest")
        v = self.gap(z).flatten(1) + self.gap(u).flatten(1)
        w = self.avg1(self.bn1(self.conv1(y.flatten(2))))
        return v, w


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_a_video_net_with_3d_and_1d_maps_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(Video(), (3, 4, 16, 16), tracer)
    types = [n.type for n in cnncost.compile(net).nodes]
    assert types.count("conv") == 2 and "upsample" in types and "adaptive_avgpool" in types
    # 8 x 3 x 3 x 5 x 5 + 8 (conv3d) + 16 (bn3d) + 4 x 8 x 3 + 4 (conv1d) + 8 (bn1d): the module's own count
    assert cnncost.table(net, batch=1).totals.params == 1932


class ViTBlock(nn.Module):
    """torchvision's ViT in small: patches by a strided conv, reshape and permute to tokens, a
    class token (cat with an expanded parameter), a position embedding (a learnable add),
    pre-norm nn.MultiheadAttention and MLP blocks, the class token's row to the head."""

    def __init__(self, d: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, d, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 17, d))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, d))
        self.head = nn.Linear(d, 5)

    def forward(self, x):
        n = x.shape[0]
        x = self.proj(x).reshape(n, 16, -1).permute(0, 2, 1)
        x = torch.cat([self.cls.expand(n, -1, -1), x], dim=1) + self.pos
        y = self.ln1(x)
        y, _ = self.att(y, y, y, need_weights=False)
        x = x + y
        x = x + self.mlp(self.ln2(x))
        return self.head(x[:, 0])


def test_a_vit_block_with_multihead_attention_imports_exactly() -> None:
    net = assert_imports_exactly(ViTBlock(), (3, 16, 16), "fx", sdpa_macs=_sdpa(2, 17, 8))
    types = [n.type for n in cnncost.compile(net).nodes]
    assert {"tokens", "learnable", "permute", "layer_norm", "attention", "select"} <= set(types)
    # conv 16x3x4x4+16, cls 16, pos 17x16, 2 norms 2x32, in_proj 48x16+48, out_proj 16x16+16, mlp 32x16+32+16x32+16, head 16x5+5
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in ViTBlock().parameters()) == 3381


class TimmAttention(nn.Module):
    """timm's Attention: the packed qkv reshaped and permuted so that the batch is dim 1, split by
    unbind (fused: sdpa) or by indexing (q @ k.T, softmax, @ v), heads merged by transpose + reshape."""

    def __init__(self, d: int = 16, heads: int = 2, fused: bool = True) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.heads, self.fused, self.scale = heads, fused, (d // heads) ** -0.5

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.fused:
            q, k, v = qkv.unbind(0)
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            q, k, v = qkv[0], qkv[1], qkv[2]
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


@pytest.mark.parametrize("tracer", ["fx", "export"])
@pytest.mark.parametrize("fused", [True, False])
def test_timm_attention_with_the_batch_moved_imports_exactly(tracer: str, fused: bool) -> None:
    net = assert_imports_exactly(TimmAttention(fused=fused), (9, 16), tracer, sdpa_macs=_sdpa(2, 9, 8) if fused else 0)
    types = [n.type for n in cnncost.compile(net).nodes]
    assert ("attention" in types) == fused and (types.count("matmul") == 2) == (not fused)


class TokenOps(nn.Module):
    """Tokens by flatten + transpose; chunk on the last dim; matmul, softmax on the last dim,
    sdpa over an unsqueezed heads dim; constants ((a + b) / 2, 0 + y, 1 - r); a learnable
    per-feature scale; mean / amax / sum over a dim; stack; slicing with a step."""

    def __init__(self, d: int = 16) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.g = nn.Parameter(torch.ones(d))

    def forward(self, x):
        x = x.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        y = ((q @ k.transpose(-2, -1)) * 0.25).softmax(dim=-1)
        y = torch.matmul(y, v)
        z = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        y = 0 + self.proj((y + z) / 2) * self.g
        r = y.mean(dim=1) + y.amax(dim=1) + y.sum(1)
        return torch.stack([r, 1 - r], dim=1), y[:, 1:3, ::2]


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_token_ops_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(TokenOps(), (16, 4, 4), tracer, sdpa_macs=_sdpa(1, 16, 16))
    types = set(n.type for n in cnncost.compile(net).nodes)
    assert {"matmul", "softmax", "attention", "arith", "learnable", "reduce", "stack", "slice"} <= types


class Einsum(nn.Module):
    """maxvit's attention products written as einsum: q k^T and a v."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)
        a = torch.einsum("bhid,bhjd->bhij", q, k).softmax(-1)
        return torch.einsum("bhij,bhjd->bhid", a, v)


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_einsum_as_a_batched_matrix_product_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(Einsum(), (5, 8), tracer)
    assert [n.type for n in cnncost.compile(net).nodes].count("matmul") == 2


class Padded(nn.Module):
    """F.pad on a token tensor (coat's crpe pads the sequence dim): zero pads of any dims."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(F.pad(self.lin(x), (0, 0, 1, 0)))


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_padding_of_any_dim_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(Padded(), (5, 8), tracer)
    assert cnncost.compile(net).nodes[-1].output_shape == (6, 8)


class ChannelsLastArith(nn.Module):
    """A channels-last map (ConvNeXt's permute) read by ops that want a plain tensor: a norm over
    H and W (x.pow(2).sum, ** 0.5), tensor / tensor, tensor - tensor; then back to channels-first."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.ln = nn.LayerNorm(8)

    def forward(self, x):
        x = self.ln(self.conv(x).permute(0, 2, 3, 1))
        gx = x.pow(2).sum(dim=(1, 2), keepdim=True) ** 0.5
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return (x * nx - x).permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_channels_last_maps_read_by_plain_ops_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(ChannelsLastArith(), (4, 6, 6), tracer)
    types = [n.type for n in cnncost.compile(net).nodes]
    assert {"arith", "reduce", "div", "sub", "permute"} <= set(types)
