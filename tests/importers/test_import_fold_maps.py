"""Convolutions, pools and batch norms on tensors whose batch is folded into their first dim (issue
18): windows or heads of an imported model, torch's (N*k, C, H, W), per sample (k, C, H, W), k maps
each (`folded` on Conv, MaxPool, AvgPool and BatchNorm). Each small module reproduces a pattern of
a real model (timm's EfficientViT (MSRA) cascaded group attention on windows, TNT's pixel
embedding, HieraDet's pooled q on windows, torchvision's MViT pooling of the heads by a Conv3d) and
is imported by both tracers; its params, MACs and saved bytes equal the real module's
(check_against measures them: parameter count, FlopCounterMode's MACs, autograd's saved tensors at
batch 2, CPU fp32). The layers in a spec are checked against the torch backend (fp32 and bf16
autocast), and the peer tools' rules against the tools themselves where the side venv has them."""
from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


def folded_rows(net: cnncost.Net) -> dict[str, tuple]:
    """type -> input shape of each folded row."""
    return {n.type: n.input_shapes[0] for n in cnncost.compile(net).nodes if getattr(n.layer, "folded", False)}


class WindowConvs(nn.Module):
    """Windows of a map (N*2, C, H/2, W) through a conv, a batch norm, a max and an average pool,
    then back to (N, C', H', W')."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3, padding=1)
        self.bn = nn.BatchNorm2d(5)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(1)

    def forward(self, x):
        B, C, H, W = x.shape
        w = x.view(B, C, 2, H // 2, W).transpose(1, 2).reshape(B * 2, C, H // 2, W)
        w = self.avg(self.pool(self.act(self.bn(self.conv(w)))))
        return w.reshape(B, 2, 5, H // 4, W // 2).transpose(1, 2).reshape(B, 5, H // 2, W // 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_conv_batch_norm_and_pools_on_windows_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(WindowConvs(), (3, 8, 8), tracer)
    assert folded_rows(net) == {"conv": (2, 3, 4, 8), "batchnorm": (2, 5, 4, 8), "maxpool": (2, 5, 4, 8),
                                "avgpool": (2, 5, 2, 4)}
    nodes = {n.path: n for n in cnncost.compile(net).nodes}
    assert nodes["conv"].params == 5 * 3 * 9 + 5 and nodes["bn"].params == 2 * 5  # once, not per window
    # MACs per sample: 2 windows x 5 x 4 x 8 outputs x 3 x 9 taps
    assert nodes["conv"].macs == 2 * 5 * 4 * 8 * 27


class CascadedGroupAttention(nn.Module):
    """timm's efficientvit_msra CascadedGroupAttention on windows (LocalWindowAttention): the
    windows (N*nW, C, ws, ws) chunked per head, each head's piece (plus the last head's output)
    through a 1x1 ConvNorm, split into q, k, v, q through a depthwise ConvNorm, attention with a
    bias gathered from a table of parameters, the heads concatenated and projected by a ConvNorm."""

    def __init__(self, dim: int = 8, key_dim: int = 2, heads: int = 2, ratio: int = 2, ws: int = 4) -> None:
        super().__init__()
        self.heads, self.key_dim, self.val_dim, self.ws = heads, key_dim, ratio * key_dim, ws
        self.qkvs = nn.ModuleList(nn.Sequential(nn.Conv2d(dim // heads, 2 * key_dim + self.val_dim, 1, bias=False),
                                                nn.BatchNorm2d(2 * key_dim + self.val_dim)) for _ in range(heads))
        self.dws = nn.ModuleList(nn.Sequential(nn.Conv2d(key_dim, key_dim, 3, padding=1, groups=key_dim, bias=False),
                                               nn.BatchNorm2d(key_dim)) for _ in range(heads))
        self.proj = nn.Sequential(nn.ReLU(), nn.Conv2d(self.val_dim * heads, dim, 1, bias=False), nn.BatchNorm2d(dim))
        points = list(itertools.product(range(ws), range(ws)))
        offsets: dict = {}
        idxs = [offsets.setdefault((abs(a[0] - b[0]), abs(a[1] - b[1])), len(offsets)) for a in points for b in points]
        self.biases = nn.Parameter(torch.randn(heads, len(offsets)))
        self.register_buffer("idxs", torch.tensor(idxs).view(len(points), len(points)), persistent=False)

    def attend(self, x):
        B, C, H, W = x.shape
        feats_in, feats_out = x.chunk(self.heads, dim=1), []
        feat, bias = feats_in[0], self.biases[:, self.idxs]
        for i, (qkv, dws) in enumerate(zip(self.qkvs, self.dws)):
            if i > 0:
                feat = feat + feats_in[i]
            feat = qkv(feat)
            q, k, v = feat.view(B, -1, H, W).split([self.key_dim, self.key_dim, self.val_dim], dim=1)
            q = dws(q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
            attn = ((q * 0.5).transpose(-2, -1) @ k + bias[i]).softmax(dim=-1)
            feat = (v @ attn.transpose(-2, -1)).view(B, self.val_dim, H, W)
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, 1))

    def forward(self, x):
        B, C, H, W = x.shape
        ws = self.ws
        w = x.permute(0, 2, 3, 1).view(B, H // ws, ws, W // ws, ws, C).transpose(2, 3).reshape(-1, ws, ws, C)
        w = self.attend(w.permute(0, 3, 1, 2))
        w = w.permute(0, 2, 3, 1).view(B, H // ws, W // ws, ws, ws, C).transpose(2, 3).reshape(B, H, W, C)
        return w.permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_efficientvit_cascaded_attention_on_windows_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(CascadedGroupAttention(), (8, 8, 8), tracer)
    assert folded_rows(net)["conv"][0] == 4  # 4 windows of 4x4 per sample


class PixelEmbed(nn.Module):
    """timm's TNT PixelEmbed: the image unfolded into patches, (N*patches, C, p, p), a strided conv on
    each, a position parameter added, the pixels of each patch as tokens."""

    def __init__(self, pos: bool = True) -> None:
        super().__init__()
        self.unfold = nn.Unfold(kernel_size=4, stride=4)
        self.proj = nn.Conv2d(3, 6, kernel_size=3, padding=1, stride=2)
        self.pos = nn.Parameter(torch.zeros(1, 6, 2, 2)) if pos else None

    def forward(self, x):
        B, C, H, W = x.shape
        x = self.unfold(x)
        x = x.transpose(1, 2).reshape(B * x.shape[-1], C, 4, 4)
        x = self.proj(x)
        x = x + self.pos if self.pos is not None else x
        return x.reshape(x.shape[0], 6, -1).transpose(1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_tnt_pixel_embedding_on_patches_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(PixelEmbed(), (3, 8, 8), tracer)
    assert folded_rows(net) == {"conv": (4, 3, 4, 4)}


class HeadsPool3d(nn.Module):
    """torchvision's MViT pooling of q/k/v: the heads (N, heads, T*H*W, Dh) folded into the batch as
    (N*heads, Dh, T, H, W), a depthwise Conv3d, a layer norm over Dh after unfolding. The tokens are
    contiguous, as MViT's after its position embedding."""

    def __init__(self, heads: int = 2, dh: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(8, 8)
        self.pool = nn.Conv3d(dh, dh, 3, stride=(1, 2, 2), padding=1, groups=dh, bias=False)
        self.norm = nn.LayerNorm(dh)

    def forward(self, x):
        B, C, T, H, W = x.shape
        x = self.qkv(x.flatten(2).transpose(1, 2).contiguous()).reshape(B, T * H * W, self.heads, -1).transpose(1, 2)
        x = self.pool(x.reshape(B * self.heads, T, H, W, -1).permute(0, 4, 1, 2, 3))
        return self.norm(x.reshape(B, self.heads, x.shape[1], -1).transpose(2, 3))


@pytest.mark.parametrize("tracer", TRACERS)
def test_mvit_heads_pooled_by_a_conv3d_import_exactly(tracer: str) -> None:
    net = assert_imports_exactly(HeadsPool3d(), (8, 2, 4, 4), tracer)
    assert folded_rows(net) == {"conv": (2, 4, 2, 4, 4)}
    conv = next(n for n in cnncost.compile(net).nodes if n.type == "conv")
    assert "folded" in conv.layer.describe_at(conv.input_shapes[0]) and conv.params == 4 * 27


class HieraQPool(nn.Module):
    """timm's hieradet_sam2 MultiScaleAttention on windows: q of a packed projection viewed as a
    channels-first map (channels-last strides), max-pooled on each window, then attention, fused
    or not. The pool writes channels last (its input's strides suggest it), so q permuted back is
    dense and the fused kernel runs (measured, torch 2.13 CPU)."""

    def __init__(self, c: int = 8, heads: int = 2, ws: int = 4, fused: bool = True) -> None:
        super().__init__()
        self.ws, self.heads, self.fused = ws, heads, fused
        self.qkv = nn.Linear(c, 3 * c)
        self.q_pool = nn.MaxPool2d(2, 2)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        B, C, H, W = x.shape
        ws = self.ws
        x = x.permute(0, 2, 3, 1).view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
        x = x.contiguous().view(-1, ws, ws, C)
        B, H, W, _ = x.shape
        q, k, v = torch.unbind(self.qkv(x).reshape(B, H * W, 3, self.heads, -1), 2)
        q = self.q_pool(q.reshape(B, H, W, -1).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        H, W = q.shape[1:3]
        q, k, v = q.reshape(B, H * W, self.heads, -1).transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.fused:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * 0.5) @ k.transpose(-1, -2)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(B, H, W, -1))


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("fused", [True, False])
def test_hieradet_q_pooled_on_windows_imports_exactly(tracer: str, fused: bool) -> None:
    # fused sdpa MACs at batch 2: 2 samples x 4 windows x 2 heads x 4 queries x 16 keys x (4 + 4)
    net = assert_imports_exactly(HieraQPool(fused=fused), (8, 8, 8), tracer, sdpa_macs=8192 if fused else 0)
    assert folded_rows(net)["maxpool"] == (4, 8, 4, 4)


def _spec(shape: tuple[int, ...], stride: int = 1) -> cnncost.Net:
    return cnncost.Net("maps", input=shape, layers=(
        cnncost.Conv(name="conv", out=6, kernel=3, stride=stride, padding=1, folded=True),
        cnncost.BatchNorm(name="bn", folded=True), cnncost.ReLU(name="relu"),
        cnncost.MaxPool(name="max", kernel=2, folded=True), cnncost.AvgPool(name="avg", kernel=1, folded=True),
        cnncost.Conv(name="same", out=4, kernel=2, padding="same", folded=True)))


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("shape", [(3, 4, 16), (3, 4, 8, 8), (2, 4, 4, 8, 8)])
def test_folded_layers_in_a_spec_match_the_torch_backend(dtype: str, shape: tuple[int, ...]) -> None:
    """k = 3 (or 2) maps per sample of 1, 2 and 3 spatial dims: the torch backend runs each layer
    on (N*k, C, ...), so shapes, params, MACs and saved bytes are PyTorch's (CPU, fp32 and bf16)."""
    from cnncost.torch_backend import check
    result = check(_spec(shape), batch=2, device="cpu", dtype=dtype)
    wrong = [f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}" for r in result.rows
             if r.quantity in ("shape", "params", "macs", "saved_bytes") and r.ours != r.torch]
    assert not wrong, "\n".join(wrong)
    assert {r.path for r in result.rows if r.quantity == "saved_bytes"} >= {"conv", "bn", "max"}


def test_a_folded_layer_counts_per_map_and_its_weights_once() -> None:
    g = cnncost.compile(_spec((3, 4, 8, 8)))
    conv, bn, pool = (g.nodes[i] for i in (1, 2, 4))
    assert conv.output_shape == (3, 6, 8, 8) and conv.params == 6 * 4 * 9 + 6
    assert conv.macs == 3 * 6 * 8 * 8 * 4 * 9  # 3 maps x |output map| x in x kh x kw
    assert bn.params == 2 * 6 and pool.output_shape == (3, 6, 4, 4)
    table = cnncost.table(_spec((3, 4, 8, 8)), batch=1)
    assert "folded" in next(r for r in table.rows if r.name == "conv").attrs


def test_a_folded_layer_needs_maps() -> None:
    with pytest.raises(CnnCostError, match=r"folded: needs \(maps, C, \.\.\.\)"):
        cnncost.compile(cnncost.Net("v", input=(8,), layers=(cnncost.BatchNorm(folded=True),)))
    with pytest.raises(CnnCostError, match="needs a map with 1, 2 or 3 spatial dims"):
        cnncost.compile(cnncost.Net("v", input=(3, 8), layers=(cnncost.Conv(out=2, kernel=1, folded=True),)))


def test_the_peer_tools_count_folded_layers_as_their_conventions_say() -> None:
    """Each tool on the real module (it sees torch's N*k maps) gives what cnncost's rule for it
    says, on the imported net; params too. (TNT's position parameter left out: under the `cnncost`
    profile a learnable is its own module, which torchinfo would count.)"""
    import tools_live  # tests/support
    tools_live.require()
    for model, shape in ((WindowConvs(), (3, 8, 8)), (PixelEmbed(pos=False), (3, 8, 8)), (HeadsPool3d(), (8, 2, 4, 4))):
        tools_live.assert_tools_count_as_their_conventions(from_torch(model, shape), model, shape)


def test_an_imported_net_with_folded_layers_round_trips_through_yaml(tmp_path) -> None:
    """`import -o x.yaml` then `table x.yaml`: the folded field is written and read back."""
    from cnncost.spec import dump_spec
    net = from_torch(HieraQPool(), (8, 8, 8))
    path = tmp_path / "hiera.yaml"
    path.write_text(dump_spec(net))
    assert "folded: true" in path.read_text()
    a, b = (cnncost.table(n, batch=2, memory="autograd", device="cpu").totals for n in (net, str(path)))
    assert (a.params, a.macs, a.saved_bytes) == (b.params, b.macs, b.saved_bytes)


def test_a_folded_batch_norm_has_the_buffers_of_its_channels():
    """Running mean and variance per channel, not per folded map (torch's BatchNorm2d(6))."""
    net = cnncost.parse_spec("name: f\ninput: [4, 6, 8, 8]\nlayers:\n  - {name: bn, type: batchnorm, folded: true}\n")
    assert cnncost.table(net).param_split()["buffers"] == 2 * 6 + 1
