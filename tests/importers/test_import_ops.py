"""Operations the torch importer maps since issue 18's coverage round, each in a tiny module that
reproduces how a real model writes it (the model named in each class's docstring), imported and
compared with the real module: params, FlopCounterMode's MACs and autograd's saved bytes at batch
2, CPU fp32 (`check_against` measures them)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from import_figures import assert_imports_exactly, assert_saves_as_torch_in_bf16, row_types  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


def _exact(model: nn.Module, shape: tuple[int, ...], tracer: str, rows: bool = True) -> set[str]:
    """Params, MACs and saved bytes (batch 2) equal the real module's; the row types imported.
    `rows=False`: the totals only (torch.export slices H before W, fx's import W before H, so the
    rows of a two-dim slice pair up differently with the reference's)."""
    return row_types(assert_imports_exactly(model, shape, tracer, rows=rows, nonzero=False))


class DistilledHead(nn.Module):
    """A distilled head's train-mode output (timm's pit_*_distilled, repvit, iformer): (x + x_dist) / 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 5)
        self.head_dist = nn.Linear(8, 5)

    def forward(self, x):
        x = self.conv(x).mean((2, 3))
        return (self.head(x) + self.head_dist(x)) / 2


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_scaled_sum_as_the_output_imports_exactly(tracer: str) -> None:
    assert "arith" in _exact(DistilledHead(), (3, 8, 8), tracer)




class NoBiasNorms(nn.Module):
    """Norms with a weight and no bias (timm's metaformer: LayerNorm2dNoBias, LayerNormNoBias,
    GroupNorm1NoBias) and SquaredReLU's torch.square (caformer's head)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.gn = nn.GroupNorm(1, 8)
        self.gn.bias = None
        self.ln = nn.LayerNorm(8, bias=False)
        self.w = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = self.gn(self.conv(x))
        x = F.layer_norm(x.permute(0, 2, 3, 1), (8,), self.w, None, 1e-6).permute(0, 3, 1, 2)
        x = F.group_norm(x, 2, self.w, None)
        return torch.square(self.ln(x.flatten(2).transpose(1, 2)))


@pytest.mark.parametrize("tracer", TRACERS)
def test_norms_without_a_bias_import_exactly(tracer: str) -> None:
    assert {"group_norm", "layer_norm", "arith"} <= _exact(NoBiasNorms(), (3, 8, 8), tracer)


def test_norms_without_a_bias_save_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(NoBiasNorms(), (3, 8, 8))


class Addcmul(nn.Module):
    """torch.addcmul(bias, weight, x): ResMLP's Affine on tokens (timm's resmlp_*), and the global
    response norm of ConvNeXt-V2 (timm's GlobalResponseNorm) on a channels-last and on a
    channels-first map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.alpha, self.beta = nn.Parameter(torch.ones(8)), nn.Parameter(torch.zeros(8))
        self.weight, self.bias = nn.Parameter(torch.ones(8)), nn.Parameter(torch.zeros(8))
        self.w2, self.b2 = nn.Parameter(torch.ones(8)), nn.Parameter(torch.zeros(8))

    def forward(self, x):
        x = self.conv(x).permute(0, 2, 3, 1)
        g = x.norm(p=2, dim=(1, 2), keepdim=True)
        n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
        x = x + torch.addcmul(self.bias.view(1, 1, 1, -1), self.weight.view(1, 1, 1, -1), x * n)
        x = x.permute(0, 3, 1, 2)
        g = x.norm(p=2, dim=(2, 3), keepdim=True)
        x = x + torch.addcmul(self.b2.view(1, -1, 1, 1), self.w2.view(1, -1, 1, 1), x * (g / (g.mean(1, True) + 1e-6)))
        return torch.addcmul(self.beta, self.alpha, x.flatten(2).transpose(1, 2))


@pytest.mark.parametrize("tracer", TRACERS)
def test_addcmul_affines_import_exactly(tracer: str) -> None:
    assert "affine" in _exact(Addcmul(), (3, 8, 8), tracer)


def test_addcmul_affines_save_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(Addcmul(), (3, 8, 8))


class Normalize(nn.Module):
    """F.normalize: torchvision's SSD L2Norm (`weight.view(1, -1, 1, 1) * F.normalize(x)`) on a
    map, SwiftFormer's efficient additive attention on tokens (dim -1), and a clamp_min."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.scale = nn.Parameter(torch.full((8,), 20.0))

    def forward(self, x):
        x = self.scale.view(1, -1, 1, 1) * F.normalize(self.conv(x))
        t = F.normalize(x.flatten(2).transpose(1, 2), dim=-1)
        return t.clamp_min(0.01), torch.clamp(x, min=-1.0)


@pytest.mark.parametrize("tracer", TRACERS)
def test_normalize_imports_exactly(tracer: str) -> None:
    # torch.export's decomposition expands the norm before the division (an `expand` row the
    # reference, imported by fx, does not have): there the totals are compared, not the rows
    assert {"reduce", "threshold", "div"} <= _exact(Normalize(), (3, 8, 8), tracer, rows=tracer == "fx")


def test_normalize_saves_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(Normalize(), (3, 8, 8))


class Bicubic(nn.Module):
    """Bicubic resizing (timm's crossvit resizes its second branch's patches with it), to a size
    and by a factor, with and without align_corners."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.up = nn.Upsample(scale_factor=2, mode="bicubic")

    def forward(self, x):
        x = self.conv(x)
        y = F.interpolate(x, size=(9, 11), mode="bicubic", align_corners=True)
        return self.up(x), y.relu()


@pytest.mark.parametrize("tracer", TRACERS)
def test_bicubic_resizing_imports_exactly(tracer: str) -> None:
    assert "upsample" in _exact(Bicubic(), (3, 8, 8), tracer)


def test_bicubic_resizing_saves_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(Bicubic(), (3, 8, 8))


def test_bicubic_receptive_field_reads_four_taps() -> None:
    from fractions import Fraction
    from cnncost import Net, Upsample
    from cnncost.receptive import receptive_field
    up = receptive_field(Net("n", input=(1, 8, 8), layers=[Upsample(name="up", scale_factor=2.0, mode="bicubic")]))[1]
    assert up.effective_stride == Fraction(1, 2) and up.receptive_field == 4
    # output 2 reads src (2 + 1/2) / 2 - 1/2 = 0.75: rows floor - 1 .. floor + 2 = -1..2; 3 (1.25): 0..3
    assert up.extent(2, 3) == ((-1, 2), (0, 3))


class GlobalContext(nn.Module):
    """timm's GlobalContext (gcresnet): attention-pooled context, `x + mlp_add(context)`, a
    C x H x W map plus a C x 1 x 1 term."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.conv_attn = nn.Conv2d(8, 1, 1)
        self.mlp_add = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        attn = F.softmax(self.conv_attn(x).reshape(b, 1, h * w), dim=-1).unsqueeze(3)
        context = (x.reshape(b, c, h * w).unsqueeze(1) @ attn).view(b, c, 1, 1)
        return x + self.mlp_add(context)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_broadcast_addition_imports_exactly(tracer: str) -> None:
    assert "add" in _exact(GlobalContext(), (3, 8, 8), tracer)


class EllipsisCrop(nn.Module):
    """LowFormer's attention output cropped to the input's size after an upsampling: o[..., :H, :W]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2)

    def forward(self, x):
        h, w = x.shape[-2:]
        o = self.up(self.conv(x))
        return o[..., :h - 2, :w - 3], o[..., 1]


@pytest.mark.parametrize("tracer", TRACERS)
def test_indexing_with_an_ellipsis_imports_exactly(tracer: str) -> None:
    assert "slice" in _exact(EllipsisCrop(), (3, 9, 9), tracer, rows=tracer == "fx")


class UnfoldFold(nn.Module):
    """im2col and col2im: nn.Unfold as TNT's inner patches, F.unfold and F.fold as VOLO's outlook
    attention (3x3 windows, padding 1, stride 2: overlapping windows summed back)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.unfold = nn.Unfold(kernel_size=2, stride=2)
        self.proj = nn.Linear(16, 8)

    def forward(self, x):
        x = self.conv(x)
        cols = self.proj(self.unfold(x).transpose(1, 2))
        v = F.unfold(x, kernel_size=3, padding=1, stride=2)
        y = F.fold(v.relu(), output_size=(6, 6), kernel_size=3, padding=1, stride=2)
        return cols, y


@pytest.mark.parametrize("tracer", TRACERS)
def test_unfold_and_fold_import_exactly(tracer: str) -> None:
    assert {"unfold", "fold"} <= _exact(UnfoldFold(), (3, 8, 8), tracer)


def test_unfold_and_fold_save_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(UnfoldFold(), (3, 8, 8))


class RmsNorm(nn.Module):
    """timm's RmsNorm2d written out (convnext_atto_rms): x * rsqrt(mean(x ** 2) + eps) * weight;
    and the other element-wise functions: sqrt (EvoNorm's std), exp, log, reciprocal, abs, -x."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.weight = nn.Parameter(torch.ones(8))

    def forward(self, x):
        x = self.conv(x)
        v = x.pow(2).mean(dim=1, keepdim=True)
        x = x * torch.rsqrt(v + 1e-6) * self.weight.view(1, -1, 1, 1)
        y = torch.exp(x).log() + x.abs().sqrt() - (x * x + 1).reciprocal()
        return -y


@pytest.mark.parametrize("tracer", TRACERS)
def test_element_wise_functions_import_exactly(tracer: str) -> None:
    assert "unary" in _exact(RmsNorm(), (3, 8, 8), tracer)


def test_element_wise_functions_save_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(RmsNorm(), (3, 8, 8))


class GroupStd(nn.Module):
    """EvoNorm-S0's group std (timm's resnetv2_*_evos), as far as a layer goes: the variance over
    a group's channels and positions (unbiased=False) and over the channels (correction 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        x = self.conv(x)
        b, c, h, w = x.shape
        std = x.reshape(b, 2, 4, h, w).var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(1e-5).sqrt()
        return std, torch.var(x, 1)


@pytest.mark.parametrize("tracer", TRACERS)
def test_variance_imports_exactly(tracer: str) -> None:
    assert "reduce" in _exact(GroupStd(), (3, 8, 8), tracer)


def test_variance_saves_as_torch_does_in_bf16() -> None:
    assert_saves_as_torch_in_bf16(GroupStd(), (3, 8, 8))


class LowFormerAttention(nn.Module):
    """LowFormer's ConvAttention (timm's lowformer_*): q, k, v are chunks of a permuted packed
    projection, so their last dim is not contiguous: PyTorch's CPU dispatch takes sdpa's math
    path, and v's heads merge with the batch as a view; then the output is cropped with an
    Ellipsis, o[..., :H, :W]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2)
        self.pwise = nn.Conv2d(16, 48, 1)
        self.o_proj = nn.Conv2d(16, 16, 1)

    def forward(self, x):
        h0, w0 = x.shape[-2:]
        x = self.conv(x)
        n, _, h, w = x.shape
        qkv = self.pwise(x).reshape(n, 2, 24, h * w).permute(0, 1, 3, 2)
        q, k, v = qkv.chunk(3, dim=3)
        o = F.scaled_dot_product_attention(q, k, v)
        o = self.o_proj(o.permute(0, 1, 3, 2).reshape(n, 16, h, w))
        return o[..., :h0 // 2 - 2, :w0 // 2 - 2]


@pytest.mark.parametrize("tracer", TRACERS)
def test_attention_on_non_contiguous_heads_imports_exactly(tracer: str) -> None:
    assert {"attention", "slice"} <= _exact(LowFormerAttention(), (3, 10, 10), tracer, rows=tracer == "fx")
