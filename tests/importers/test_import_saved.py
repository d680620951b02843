"""Saved bytes of imported token and attention patterns (issue 18, the timm models that imported
with other saved bytes: coat, cait, cpubone, shvit): each tiny module below reproduces one pattern
and its import's saved bytes at batch 2 equal autograd's (check_against measures them, torch 2.13
CPU fp32), as do params and MACs."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.memory import Precision, trace  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)


class FactorAttention(nn.Module):
    """CoaT's factorized attention: softmax over the tokens of k (a view of the packed qkv), its
    transpose times v, q times that. softmax writes a contiguous tensor whatever its input's
    strides, so the transposed softmax folds into bmm's 3-D operand as a view (saved once, with
    softmax's output); q and v, views with the heads split, are copied."""

    def __init__(self, c: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(c, 3 * c), nn.Linear(c, c)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        factor = k.softmax(dim=2).transpose(-1, -2) @ v
        x = (q @ factor).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class SoftmaxThenMergeHeads(nn.Module):
    """softmax over heads split by a permute, then the heads merged back: softmax's output is
    contiguous in the permuted order, so the merge is a copy, which the linear saves."""

    def forward(self, x):
        b, n, c = x.shape
        y = self.lin(x).reshape(b, n, 2, c // 2).permute(0, 2, 1, 3).softmax(dim=-1)
        return self.out(y.transpose(1, 2).reshape(b, n, c))

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.lin, self.out = nn.Linear(c, c), nn.Linear(c, c)


class ConvAttention(nn.Module):
    """CPUBone's attention on a map: q, k, v chunks of a transposed projection have a last dim of
    stride H*W, so PyTorch runs the math path (q and k scaled, the weights, v) instead of the
    fused kernel; merging the heads back into a map copies. With several heads, v's heads still
    nest in the projection's storage, so the math path's bmm sees v as a view, not a copy."""

    def __init__(self, c: int = 8, heads: int = 1) -> None:
        super().__init__()
        self.heads, self.pwise, self.out = heads, nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        qkv = self.pwise(x).reshape(n, self.heads, 3 * c // self.heads, h * w).permute(0, 1, 3, 2)
        q, k, v = qkv.chunk(3, dim=3)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.out(o.permute(0, 1, 3, 2).reshape(n, c, h, w))


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_factorized_attention_saves_the_transposed_softmax_once(tracer: str) -> None:
    assert_imports_exactly(FactorAttention(), (9, 16), tracer, rows=False)


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_softmax_output_is_contiguous_so_merging_heads_copies(tracer: str) -> None:
    assert_imports_exactly(SoftmaxThenMergeHeads(), (9, 16), tracer, rows=False)


@pytest.mark.parametrize("tracer", ["fx", "export"])
@pytest.mark.parametrize("heads", [1, 2])
def test_attention_on_chunks_with_a_strided_last_dim_runs_the_math_path(tracer: str, heads: int) -> None:
    net = assert_imports_exactly(ConvAttention(heads=heads), (8, 3, 3), tracer, rows=False)
    assert "attention" in {n.type for n in cnncost.compile(net).nodes}


class SplitGroupNorm(nn.Module):
    """SHViT's mixer: a group norm on the first channels of a split."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm, self.out = nn.Conv2d(3, 8, 1), nn.GroupNorm(1, 3), nn.Conv2d(8, 8, 1)

    def forward(self, x):
        a, b = torch.split(self.conv(x), [3, 5], dim=1)
        return self.out(torch.cat([self.norm(a), b], dim=1))


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_group_norm_on_a_channel_split_by_release(tracer: str) -> None:
    """torch 2.13 saves a contiguous copy of the split (measured here); 2.14 saves the view, which
    keeps the whole 8-channel conv output: 2 x 8 x 4 x 4 x 4 B = 1024 B instead of 2 x 3 x 4 x 4
    x 4 B = 384 B (measured, torch 2.14.1 CPU: the norm's saved storages 1024, 8, 8 B)."""
    net = assert_imports_exactly(SplitGroupNorm(), (3, 4, 4), tracer, rows=False)
    norm = next(n.path for n in cnncost.compile(net).nodes if n.type == "group_norm")
    by_release = {release: trace(net, precision=Precision("fp32", "cpu", release)).saved_by_module(2)[norm]
                  for release in ((2, 13), (2, 14))}
    assert by_release == {(2, 13): 384 + 16, (2, 14): 1024 + 16}


class TalkingHeads(nn.Module):
    """CaiT's talking-heads attention: linears across the heads, applied to the weights permuted
    channels-last. torch.matmul cannot fold that permute of a contiguous tensor into rows: it
    copies it, and the copy is what the linear saves (so the second one saves a copy of softmax's
    output, which softmax already saved)."""

    def __init__(self, c: int = 16, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.proj_l, self.proj_w = nn.Linear(heads, heads), nn.Linear(heads, heads)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * 0.5, qkv[1], qkv[2]
        attn = self.proj_l((q @ k.transpose(-2, -1)).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        attn = self.proj_w(attn.softmax(dim=-1).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_talking_heads_linears_on_permuted_weights_save_copies(tracer: str) -> None:
    net = assert_imports_exactly(TalkingHeads(), (6, 16), tracer, rows=False)
    assert [n.type for n in cnncost.compile(net).nodes].count("linear") == 4
