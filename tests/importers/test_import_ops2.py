"""Operations the torch importer maps since issue 18's second coverage round, each in a tiny module
that reproduces how a real model writes it (the model named in each class's docstring), imported
and compared with the real module: params, FlopCounterMode's MACs and autograd's saved bytes at
batch 2, CPU fp32 (`check_against` measures them)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402
from import_figures import assert_imports_exactly, assert_saves_as_torch_in_bf16, row_types  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


def _exact(model: nn.Module, shape: tuple[int, ...], tracer: str) -> set[str]:
    """Params, MACs and saved bytes (batch 2) equal the real module's; the row types imported."""
    return row_types(assert_imports_exactly(model, shape, tracer, nonzero=False))


class StackedHeads(nn.Module):
    """Several heads stacked along dim 0, before the batch, then averaged or summed over it (timm's
    crossvit_*: torch.mean(torch.stack([...], dim=0), dim=0); efficientvim_*: torch.stack(logits).sum(0))."""

    def __init__(self, heads: int, op: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.heads = nn.ModuleList(nn.Linear(8, 5) for _ in range(heads))
        self.op = op

    def forward(self, x):
        x = self.conv(x).mean((2, 3))
        stacked = torch.stack([h(x) for h in self.heads], dim=0)
        return torch.mean(stacked, dim=0) if self.op == "mean" else stacked.sum(0)


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("heads,op", [(2, "mean"), (3, "mean"), (4, "sum")])
def test_heads_stacked_before_the_batch_import_exactly(tracer: str, heads: int, op: str) -> None:
    assert {"stack", "reduce"} <= _exact(StackedHeads(heads, op), (3, 8, 8), tracer)


class SwappedWindows(nn.Module):
    """A grid partition's axis swap (torchvision's maxvit_t: SwapAxes(-2, -3) is torch.swapaxes) and
    torch.movedim / Tensor.swapdims spellings of the same permutes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        x = self.conv(x)  # (N, 8, 6, 6)
        x = torch.movedim(x, 1, -1)  # channels last
        x = x.reshape(x.shape[0], 2, 3, 2, 3, 8)
        x = torch.swapaxes(x, -2, -3).swapdims(2, 3)
        x = self.fc(x)
        return torch.movedim(x, (-1, 1), (1, 2)).flatten(1)


@pytest.mark.parametrize("tracer", TRACERS)
def test_swapaxes_and_movedim_import_exactly(tracer: str) -> None:
    assert "permute" in _exact(SwappedWindows(), (3, 8, 8), tracer)




class MultiQuery(nn.Module):
    """Multi-query attention: q with several heads, k and v with one that broadcasts (timm's
    MultiQueryAttention2d in mobilenetv5_*: q (N, 8, L, 64), k and v (N, 1, S, 64))."""

    def __init__(self, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.q = nn.Conv2d(8, 4 * heads, 1)
        self.k = nn.Conv2d(8, 4, 1, stride=2)
        self.v = nn.Conv2d(8, 4, 1, stride=2)

    def forward(self, x):
        n = x.shape[0]
        q = self.q(x).reshape(n, self.heads, 4, -1).transpose(-1, -2).contiguous()
        k = self.k(x).reshape(n, 4, -1).transpose(1, 2).unsqueeze(1).contiguous()
        v = self.v(x).reshape(n, 4, -1).transpose(1, 2).unsqueeze(1).contiguous()
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout)


@pytest.mark.parametrize("tracer", TRACERS)
def test_multi_query_attention_imports_exactly(tracer: str) -> None:
    assert "attention" in _exact(MultiQuery(), (8, 4, 4), tracer)


def test_multi_query_attention_saves_as_pytorch_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(MultiQuery(), (8, 4, 4))


def test_multi_query_attention_shape_macs_and_refusals() -> None:
    """MACs: FlopCounterMode's count of sdpa with one k, v head (the math path's bmm of the k, v
    expanded to q's heads: it counts q's heads), FLOPs / 2; k's heads must be 1 or q's."""
    from torch.utils.flop_counter import FlopCounterMode
    from cnncost.errors import ShapeError
    from cnncost.layers import Attention
    q, k = (8, 16, 4), (1, 5, 4)
    y = Attention().merge_shape((q, k, k))
    tq, tk = torch.randn(2, *q), torch.randn(2, *k)
    with FlopCounterMode(display=False) as counter:
        out = F.scaled_dot_product_attention(tq, tk, tk)
    assert y == tuple(out.shape[1:])
    assert 2 * 2 * Attention().merge_macs((q, k, k), y) == counter.get_total_flops()  # batch 2
    with pytest.raises(ShapeError, match="leading dims must equal q's or be 1: 8x16x4, 2x5x4"):
        Attention().merge_shape((q, (2, 5, 4), (2, 5, 4)))


class ShiftedWindows(nn.Module):
    """Swin's cyclic shift of the windows (timm's swin_*, torchvision's swin_t: torch.roll(x,
    shifts=(-s, -s), dims=(1, 2)) on the (N, H, W, C) tokens), a linear between, the shift back."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        x = self.conv(x).permute(0, 2, 3, 1)  # (N, 6, 6, 8)
        x = torch.roll(x, shifts=(-2, -2), dims=(1, 2))
        x = torch.relu(self.fc(x))
        x = x.roll((2, 1), (-3, 2))
        return torch.roll(x, 3, 3)  # the channels too


@pytest.mark.parametrize("tracer", TRACERS)
def test_roll_imports_exactly(tracer: str) -> None:
    assert "roll" in _exact(ShiftedWindows(), (3, 8, 8), tracer)


def test_roll_saves_as_pytorch_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(ShiftedWindows(), (3, 8, 8))


def test_roll_spec_shape_field_and_refusals() -> None:
    """roll keeps the shape and counts nothing; a roll along H or W leaves the receptive field
    (positions wrap around); a dim out of range or unmatched shifts are one clear line."""
    from cnncost.errors import ShapeError, SpecError
    net = cnncost.Net("r", input=(4, 6, 6), layers=[cnncost.Conv(out=4, kernel=3),
                                                   cnncost.Roll(shifts=(1, -1), dims=(1, -1))])
    g = cnncost.compile(net)
    assert g.nodes[-1].output_shape == (4, 4, 4) and g.nodes[-1].macs == 0 and g.nodes[-1].params == 0
    from cnncost.receptive import receptive_field
    row = receptive_field(net)[-1]
    assert row.whole_input and "leaves the channels-first map" in row.note
    with pytest.raises(ShapeError, match="dim 3 is out of range"):
        cnncost.compile(cnncost.Net("r", input=(4, 6, 6), layers=[cnncost.Roll(shifts=(1,), dims=(3,))]))
    with pytest.raises(SpecError, match="must have one entry each"):
        cnncost.Roll(shifts=(1, 2), dims=(1,))


class RotaryAttention(nn.Module):
    """Rotary embeddings on q and k before fused attention (timm's vit_*_rope_*: a class token kept
    apart, the rest rotated by `x * cos + rot(x) * sin`, rot(x) a stack of -x[..., 1::2] and
    x[..., ::2], then cat): q and k are contiguous, so the fused kernel's output is too and the
    heads' merge before the projection copies it."""

    def __init__(self, heads: int = 2, dim: int = 8) -> None:
        super().__init__()
        self.heads, self.dim = heads, dim
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("sin", torch.randn(16, dim // heads))
        self.register_buffer("cos", torch.randn(16, dim // heads))

    def rope(self, x):
        t = x[:, :, 1:]
        rot = torch.stack([-t[..., 1::2], t[..., ::2]], -1).reshape(t.shape)
        return torch.cat([x[:, :, :1], t * self.cos + rot * self.sin], dim=2)

    def forward(self, x):
        n, length, _ = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(self.rope(q), self.rope(k), v)
        return self.proj(out.transpose(1, 2).reshape(n, length, self.dim))


@pytest.mark.parametrize("tracer", TRACERS)
def test_fused_attention_on_contiguous_q_imports_exactly(tracer: str) -> None:
    """Params and saved bytes equal; MACs differ by the attention's alone: FlopCounterMode has no
    formula for the fused CPU kernel (cnncost counts it as its sdpa formula does)."""
    model = RotaryAttention()
    net = from_torch(model, (17, 8), tracer=tracer)
    result = check_against(net, model)
    for q in ("params", "saved_bytes"):
        ours, theirs = result.totals[q]
        assert ours == theirs, q
    attention = [n for n in cnncost.compile(net).nodes if n.type == "attention"]
    assert len(attention) == 1 and attention[0].macs == 2 * 17 * 17 * (4 + 4)  # heads x L x S x (E + Ev)
    assert result.totals["macs"][0] - result.totals["macs"][1] == 2 * attention[0].macs  # batch 2


class HaloWindows(nn.Module):
    """Overlapping key windows by Tensor.unfold (timm's HaloAttn in halo2botnet50ts_256 and
    lamhalobotnet50ts_256: F.pad, then kv.unfold(2, win, block).unfold(3, win, block).reshape(...)):
    the unfolds are views, the reshape copies the overlapping windows."""

    def __init__(self) -> None:
        super().__init__()
        self.kv = nn.Conv2d(3, 4, 1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        n = x.shape[0]
        kv = F.pad(self.kv(x), [1, 1, 1, 1])  # (N, 4, 10, 10)
        kv = kv.unfold(2, 4, 2).unfold(3, 4, 2)  # (N, 4, 4, 4, 4, 4)
        kv = kv.reshape(n, 4, 16, -1).transpose(1, 2)  # (N, blocks, C, window)
        return self.fc(torch.relu(kv))


@pytest.mark.parametrize("tracer", TRACERS)
def test_tensor_unfold_imports_exactly(tracer: str) -> None:
    assert "unfold_dim" in _exact(HaloWindows(), (3, 8, 8), tracer)


def test_tensor_unfold_saves_as_pytorch_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(HaloWindows(), (3, 8, 8))


class TokenMaxHead(nn.Module):
    """The values of x.max(dim) (timm's VOLO head: x_cls + 0.5 * aux_head(x[:, 1:]).max(1)[0]):
    torch.max(dim) saves its int64 indices, not x and the output as amax does."""

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.head, self.aux = nn.Linear(6, 5), nn.Linear(6, 5)
        self.keepdim = keepdim

    def forward(self, x):  # (N, L, 6)
        aux = self.aux(x[:, 1:])
        return self.head(x[:, 0]) + 0.5 * aux.max(1, keepdim=self.keepdim)[0].reshape(x.shape[0], 5)


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_values_import_exactly(tracer: str, keepdim: bool) -> None:
    net = from_torch(TokenMaxHead(keepdim), (7, 6), tracer=tracer)
    reduce = [n for n in cnncost.compile(net).nodes if n.type == "reduce"]
    assert [n.layer.op for n in reduce] == ["max"]
    _exact(TokenMaxHead(keepdim), (7, 6), tracer)


def test_max_values_save_their_indices_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(TokenMaxHead(), (7, 6))


class MaxIndicesUsed(nn.Module):
    def forward(self, x):
        values, indices = x.max(1)
        return values + indices


@pytest.mark.parametrize("tracer", TRACERS)
def test_max_indices_refused(tracer: str) -> None:
    with pytest.raises(Exception, match=r"unsupported operation (operator.add|aten.add\S*) .*\(the indices of x.max\(dim\)\)"):
        from_torch(MaxIndicesUsed(), (7, 6), tracer=tracer)


class ClassTokenSplit(nn.Module):
    """torch.tensor_split splitting the class token off (torchvision's mvit_v1_b / mvit_v2_s
    _MultiScaleAttention pooling: torch.tensor_split(x, indices=(1,), dim=2))."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):  # (N, L, 6)
        y = self.fc(x).reshape(x.shape[0], 7, 2, 3).transpose(1, 2)  # (N, 2, 7, 3)
        cls, rest = torch.tensor_split(y, indices=(1,), dim=2)
        first, second = rest.tensor_split(2, dim=2)  # sections: torch.chunk's sizes
        return torch.cat((cls, torch.relu(first) * 2, second), dim=2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_tensor_split_imports_exactly(tracer: str) -> None:
    assert {"split", "chunk"} <= _exact(ClassTokenSplit(), (7, 6), tracer)
