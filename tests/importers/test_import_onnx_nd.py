"""Importing ONNX exports of models with tensors of any rank (issue 18): each small module is
exported by torch's TorchScript exporter in training mode (and by the torch.export-based one where
onnxscript is installed), imported with `from_onnx`, and its params, MACs and saved bytes (batch 2)
equal both the torch import of the same module and the real module's measurement (check_against:
parameter count, FlopCounterMode's MACs, autograd's saved tensors, CPU fp32)."""
from __future__ import annotations

import importlib.util
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.onnx_graph import from_onnx  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.spec import dump_spec, parse_spec  # noqa: E402
from cnncost.torch_backend.against import check_against  # noqa: E402

EXPORTERS = ["torchscript"] + (["dynamo"] if importlib.util.find_spec("onnxscript") else [])


def _export(model: nn.Module, shape: tuple[int, ...], path: str, exporter: str) -> None:
    x = torch.randn(2, *shape)
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":  # optimize=False keeps the batch norms (docs/import.md)
            torch.onnx.export(model, (x,), path, dynamo=True, optimize=False,
                              training=torch.onnx.TrainingMode.TRAINING)
        else:
            torch.onnx.export(model, (x,), path, dynamo=False, training=torch.onnx.TrainingMode.TRAINING,
                              do_constant_folding=False)


def _totals(net: cnncost.Net) -> tuple[int, int, int]:
    t = cnncost.table(net, batch=2, memory="autograd", device="cpu").totals
    return t.params, t.macs, t.saved_bytes


def _exact(model: nn.Module, shape: tuple[int, ...], tmp_path, exporter: str, sdpa_macs: int = 0) -> cnncost.Net:
    """The ONNX import's totals equal the torch import's and the real module's. `sdpa_macs`: the
    MACs of F.scaled_dot_product_attention at batch 2, which FlopCounterMode in torch 2.13 does not
    count on CPU (tests/importers/test_import_nd.py): both imports count them, the measurement lacks them."""
    path = str(tmp_path / f"m_{exporter}.onnx")
    _export(model, shape, path, exporter)
    net = from_onnx(path)
    assert _totals(net) == _totals(from_torch(model, shape))
    assert _totals(parse_spec(dump_spec(net))) == _totals(net)  # the written spec gives the same numbers
    result = check_against(net, model)
    for q in ("params", "macs", "saved_bytes"):
        ours, theirs = result.totals[q]
        assert ours == theirs + (sdpa_macs if q == "macs" else 0) and theirs > 0, q
    return net


def _types(net: cnncost.Net) -> list[str]:
    return [n.type for n in cnncost.compile(net).nodes]


def _sdpa(heads: int, length: int, head_dim: int) -> int:
    """One self-attention's MACs at batch 2: FlopCounterMode's sdpa formula / 2, heads x L x S x (E + Ev)."""
    return 2 * heads * length * length * 2 * head_dim


class Attention(nn.Module):
    """timm's Attention: packed qkv, reshape and permute (the batch moves to dim 1), unbind, sdpa
    (fused) or q @ k^T, softmax, @ v (explicit), heads merged by transpose + reshape."""

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


class ViTBlock(nn.Module):
    """A ViT in small: patches by a strided conv, flatten + transpose to tokens, a class token, a
    position embedding, pre-norm attention (timm's) and an MLP with GELU, the class token's row to
    the head."""

    def __init__(self, d: int = 16, fused: bool = True) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, d, 4, 4)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 17, d))
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = Attention(d, 2, fused)
        self.mlp = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, d))
        self.head = nn.Linear(d, 5)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = x + self.att(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return self.head(x[:, 0])


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("fused", [True, False])
def test_a_vit_block_imports_exactly(tmp_path, exporter: str, fused: bool) -> None:
    net = _exact(ViTBlock(fused=fused), (3, 16, 16), tmp_path, exporter, _sdpa(2, 17, 8) if fused else 0)
    types = _types(net)
    assert {"tokens", "learnable", "permute", "layer_norm", "select", "gelu", "linear"} <= set(types)
    assert ("attention" in types) == fused and types.count("matmul") == (0 if fused else 2)
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in ViTBlock().parameters())


class Conv1dNet(nn.Module):
    """A 1-D conv net: Conv1d, BatchNorm1d, ReLU, MaxPool1d, AvgPool1d, nearest and linear
    upsampling, an adaptive pool and a linear head."""

    def __init__(self, mode: str = "linear") -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv1d(4, 8, 5, stride=2, padding=2), nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=2)
        self.pool, self.avg = nn.MaxPool1d(3, 2, 1), nn.AvgPool1d(2)
        self.up = nn.Upsample(scale_factor=2, mode=mode)
        self.gap, self.fc = nn.AdaptiveAvgPool1d(1), nn.Linear(8, 3)

    def forward(self, x):
        y = self.pool(torch.relu(self.b1(self.c1(x))))
        y = self.avg(self.up(self.c2(y))) + F.interpolate(y, scale_factor=1.0, mode="nearest")
        return self.fc(self.gap(y).flatten(1))


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_a_1d_conv_net_imports_exactly(tmp_path, exporter: str, mode: str) -> None:
    if exporter == "dynamo" and mode == "linear":  # onnxscript 0.7.2 decomposes upsample_linear1d into gathers
        with pytest.raises(CnnCostError, match="unsupported ONNX operator GatherND at 'up'"):
            _exact(Conv1dNet(mode), (4, 32), tmp_path, exporter)
        return
    net = _exact(Conv1dNet(mode), (4, 32), tmp_path, exporter)
    assert _types(net).count("conv") == 2 and "upsample" in _types(net)


class Conv3dNet(nn.Module):
    """A 3-D conv net: Conv3d, BatchNorm3d, MaxPool3d, AvgPool3d, trilinear upsampling, a channel
    slice, the global pool."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv3d(3, 8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
        self.bn = nn.BatchNorm3d(8)
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.avg = nn.AvgPool3d(2)
        self.up = nn.Conv3d(8, 4, 1, bias=False)  # onnxscript: a zero bias expanded from a constant
        self.tri = nn.Upsample(scale_factor=2, mode="trilinear")
        self.gap = nn.AdaptiveAvgPool3d(1)

    def forward(self, x):
        y = self.pool(torch.relu(self.bn(self.c1(x))))
        z = self.tri(self.up(self.avg(y))) + self.tri(self.avg(y))[:, :4]
        return self.gap(z).flatten(1)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_a_3d_conv_net_imports_exactly(tmp_path, exporter: str) -> None:
    net = _exact(Conv3dNet(), (3, 4, 16, 16), tmp_path, exporter)
    assert {"conv", "maxpool", "avgpool", "upsample"} <= set(_types(net))


class TokenMixer(nn.Module):
    """An MLP-Mixer block: patches, a token-mixing MLP on the transposed tokens, a channel MLP,
    a mean over the tokens."""

    def __init__(self, d: int = 16, tokens: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, d, 4, 4)
        self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.tok = nn.Sequential(nn.Linear(tokens, 32), nn.GELU(), nn.Linear(32, tokens))
        self.ch = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))
        self.head = nn.Linear(d, 4)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        x = x + self.tok(self.n1(x).transpose(1, 2)).transpose(1, 2)
        x = x + self.ch(self.n2(x))
        return self.head(x.mean(dim=1))


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_a_token_mixing_mlp_imports_exactly(tmp_path, exporter: str) -> None:
    net = _exact(TokenMixer(), (3, 16, 16), tmp_path, exporter)
    assert _types(net).count("permute") >= 3 and "reduce" in _types(net)


class TensorOps(nn.Module):
    """A chain of tensor ops: permute, slices with steps on any dim, split on the last dim (chunk
    sizes and others), concat on a middle dim, reductions with keepdim (sum, amax, norm), pad of
    the token dim, constants and weights (x - c, c / x, x ** 2, a learnable scale), tensor / tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(12, 12)
        self.g, self.h = nn.Parameter(torch.ones(6, 6)), nn.Parameter(torch.ones(1, 6))

    def forward(self, x):
        x = self.lin(x.permute(0, 2, 1))                    # (6, 12)
        a, b = x.split([4, 8], dim=-1)
        c, d = x.chunk(2, dim=-1)
        y = torch.cat([a, b[:, :, ::2], c], dim=-1)          # (6, 14)
        y = F.pad(y, (0, 0, 1, 1))[:, 1:7]
        s = y.amax(dim=-1, keepdim=True) + y.norm(dim=-1, keepdim=True)
        z = (d - 1) * self.g / (1 + s ** 2)
        return z, (2 / (d * d + 1)) * self.h, y.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_a_tensor_op_chain_imports_exactly(tmp_path, exporter: str) -> None:
    net = _exact(TensorOps(), (12, 6), tmp_path, exporter)
    # torch.chunk is exported as two Slices (their rows: slice), split([4, 8]) as a Split
    assert {"permute", "slice", "split", "concat", "reduce", "arith", "div", "learnable"} <= set(_types(net))


class TorchvisionViT(nn.Module):
    """torchvision's ViT in small: nn.MultiheadAttention (batch first, need_weights=False), whose
    export (its in-projection on (L, N, E), views that merge the batch with the heads, sdpa) is
    one multihead_attention row, as the torch importer maps the module."""

    def __init__(self, d: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, d, 4, 4)
        self.ln = nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, batch_first=True)
        self.head = nn.Linear(d, 5)

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        y = self.ln(x)
        y, _ = self.att(y, y, y, need_weights=False)
        return self.head((x + y)[:, 0])


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_multihead_attention_modules_import_exactly(tmp_path, exporter: str) -> None:
    net = _exact(TorchvisionViT(), (3, 16, 16), tmp_path, exporter, _sdpa(2, 16, 8))
    assert repr(net.layers).count("MultiheadAttention(") == 1 and _types(net).count("attention") == 1
