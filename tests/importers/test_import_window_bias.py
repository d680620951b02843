"""Windowed attention whose mask is made once per forward and broadcast over the windows (issue 18,
timm's TinyViT): q, k and v of (N*nW, heads, L, E) windows, the batch folded into the first dim,
and an attention bias gathered from a (heads, L) parameter by an (L, L) index buffer, (heads, L, L),
passed as scaled_dot_product_attention's mask (or added to the logits). The mask is one `computed`
row (its parameter counted once) that broadcasts over the folded windows; it needs a gradient, so
PyTorch runs the math path whatever its rank (measured: torch 2.13 and 2.14.1 CPU). Each module is
imported by both tracers and its params, MACs and saved bytes equal the real module's (check_against
measures them: parameter count, FlopCounterMode's MACs, autograd's saved tensors, CPU fp32)."""
from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly, assert_saves_what_torch_saves  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


class BiasAttention(nn.Module):
    """timm's tiny_vit.Attention: layer norm, a packed qkv viewed (B, N, heads, -1) and split into
    q, k, v, permuted to (B, heads, N, d); the bias `biases[:, idxs]` (TinyViT's
    attention_biases[:, attention_bias_idxs]: one bias per distinct offset, (heads, N, N)) the
    attention's mask (`fused`) or added to the scaled logits."""

    def __init__(self, c: int, heads: int, ws: int, fused: bool) -> None:
        super().__init__()
        self.heads, self.fused = heads, fused
        self.norm = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c)
        self.proj = nn.Linear(c, c)
        points = list(itertools.product(range(ws), range(ws)))
        offsets: dict[tuple[int, int], int] = {}
        idxs = [offsets.setdefault((abs(a[0] - b[0]), abs(a[1] - b[1])), len(offsets)) for a in points for b in points]
        self.biases = nn.Parameter(torch.randn(heads, len(offsets)))
        self.register_buffer("idxs", torch.tensor(idxs).view(ws * ws, ws * ws), persistent=False)

    def forward(self, x):
        bias = self.biases[:, self.idxs]
        b, n, c = x.shape
        x = self.norm(x)
        d = c // self.heads
        q, k, v = self.qkv(x).view(b, n, self.heads, -1).split([d, d, d], dim=3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            x = ((q * d ** -0.5) @ k.transpose(-2, -1) + bias).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class WindowBlock(nn.Module):
    """timm's TinyVitBlock on a channels-first map: channels-last, windows partitioned by view,
    transpose and reshape to (N*nW, ws*ws, C), the attention, the windows reversed, the residual."""

    def __init__(self, c: int = 8, heads: int = 2, ws: int = 3, fused: bool = True) -> None:
        super().__init__()
        self.ws = ws
        self.attn = BiasAttention(c, heads, ws, fused)

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        ws, nH, nW = self.ws, H // self.ws, W // self.ws
        w = x.view(B, nH, ws, nW, ws, C).transpose(2, 3).reshape(B * nH * nW, ws * ws, C)
        w = self.attn(w)
        w = w.view(B, nH, nW, ws, ws, C).transpose(2, 3).reshape(B, H, W, C)
        return (x + w).permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("fused", [True, False])
def test_a_window_attention_bias_broadcast_over_the_windows_imports_exactly(tracer: str, fused: bool) -> None:
    net = assert_imports_exactly(WindowBlock(fused=fused), (8, 6, 6), tracer, batches=(2, 5))
    nodes = cnncost.compile(net).nodes
    [bias] = [n.layer for n in nodes if n.type == "computed"]
    # 2 heads x the 9 distinct offsets (|dy|, |dx|) of a 3x3 window, counted once; the gather
    # saves nothing (its index is a buffer); (heads, L, L) for the whole batch
    op = "tensor" if fused else "add"  # the attention's mask, or added to the logits
    assert (bias.op, bias.shape, bias.weights, bias.saved, bias.grad) == (op, (2, 9, 9), 18, 0, True)
    if fused:
        [attention] = [n for n in nodes if n.type == "attention"]
        assert attention.layer.folded and attention.input_shapes == ((4, 2, 9, 4),) * 3 + ((2, 9, 9),)
    # per sample: qkv 36 tokens x 8 x 24 + proj 36 x 8 x 8 = 9216; attention 4 windows x 2 heads
    # x 9 x 9 x (4 + 4) = 5184 (FlopCounterMode's sdpa formula / 2; the unfused path's two bmm's)
    assert cnncost.table(net, batch=1).totals.macs == 9216 + 5184


@pytest.mark.parametrize("tracer", TRACERS)
def test_window_attention_with_one_head_and_windows_of_two(tracer: str) -> None:
    assert_imports_exactly(WindowBlock(c=6, heads=1, ws=2), (6, 4, 6), tracer, batches=(2, 5))
    assert_imports_exactly(WindowBlock(c=12, heads=3, ws=2), (12, 4, 4), tracer, batches=(2, 5))


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_window_attention_bias_saves_what_pytorch_saves(dtype: str) -> None:
    """The math path under CPU bf16 autocast too (it computes in fp32), against the real module
    and the rebuilt check module."""
    model = WindowBlock()
    assert_saves_what_torch_saves(model, from_torch(model, (8, 6, 6), tracer="export"), (8, 6, 6), dtype)


def test_a_window_attention_mask_that_needs_no_gradient_is_refused_naming_it() -> None:
    """A bias gathered from a buffer needs no gradient: PyTorch then runs the fused kernel on a
    2-D or 4-D mask and the math path on a 3-D one (measured, torch 2.13 and 2.14.1 CPU), which the
    attention row does not tell apart: one line naming the op and the module."""
    model = WindowBlock()
    frozen = model.attn.biases.detach().clone()
    del model.attn.biases
    model.attn.register_buffer("biases", frozen)
    with pytest.raises(CnnCostError, match=r"scaled_dot_product_attention.* at module 'attn' .*needs no gradient"):
        from_torch(model, (8, 6, 6), tracer="export")


FOLDED_MASK = """
name: folded_mask
input: {{x: [4, 2, 9, 4], mask: {mask}}}
layers:
- {{name: q, type: linear, from: [x], out: 4}}
- {{name: m, type: {mask_layer}, from: [mask]}}
- {{name: attn, type: attention, from: [q, q, q, m], folded: true}}
"""


@pytest.mark.parametrize("mask", ["[2, 9, 9]", "[9, 9]", "[1, 2, 9, 9]", "[4, 2, 9, 9]"])
@pytest.mark.parametrize("mask_layer", ["identity", "linear, out: 9"])
def test_a_per_sample_mask_without_the_fold_is_copied_over_it(mask: str, mask_layer: str) -> None:
    """A hand-written folded attention whose per-sample mask has no fold (a lower rank, or a
    leading 1): the check module expands it over q's folds, a copy of nW masks per sample that
    the fused kernel keeps (no gradient); one that needs a gradient runs the math path, which
    keeps none (the memory rule against the rebuilt module, torch's CPU kernels, batch 1 to 3)."""
    from cnncost.torch_backend.saved_check import compare_saved
    net = cnncost.parse_spec(FOLDED_MASK.format(mask=mask, mask_layer=mask_layer))
    for batch in (1, 2, 3):
        result = compare_saved(net, batch=batch)
        assert result.mismatches() == {} and result.predicted == result.measured > 0, batch
