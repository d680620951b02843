"""Computations on parameters and buffers that do not read the input (issue 18): each is run once
per forward, and imported as one `computed` row (its parameters counted once, its saved bytes a
fixed figure that does not scale with the batch). Each small module below reproduces a pattern of
a real model (named in its docstring); its params, MACs and saved bytes equal the real module's at
batch 2 and at batch 5 (check_against measures them: parameter count, FlopCounterMode's MACs,
autograd's saved tensors, CPU fp32), by both tracers."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly, assert_saves_what_torch_saves  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


def _computed(net: cnncost.Net) -> list:
    return [n.layer for n in cnncost.compile(net).nodes if n.type == "computed"]


class RelativePositionBias(nn.Module):
    """torchvision's Swin `_get_relative_position_bias` and timm's LeViT / EfficientFormer
    attention biases: a parameter table gathered by an index buffer (getitem), reshaped, permuted,
    unsqueezed and added to the attention logits."""

    def __init__(self, heads: int = 2, window: int = 3, d: int = 8) -> None:
        super().__init__()
        n = window * window
        self.heads, self.n = heads, n
        self.qkv = nn.Linear(d, 3 * d)
        self.table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("index", (rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]).flatten())
        self.biases = nn.Parameter(torch.randn(heads, n))  # EfficientFormer's attention_biases[:, idxs]
        self.register_buffer("idxs", torch.randint(0, n, (n, n)))
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * 0.5
        bias = self.table[self.index].view(self.n, self.n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        attn = attn + bias
        attn = attn + self.biases[:, self.idxs]
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_relative_position_bias_table_is_one_computed_row(tracer: str) -> None:
    net = assert_imports_exactly(RelativePositionBias(), (9, 8), tracer, batches=(2, 5))
    rows = _computed(net)
    # the table's 25 x 2 and the biases' 2 x 9: each parameter once; the gathers save nothing
    assert [(r.weights, r.shape, r.saved) for r in rows] == [(50, (2, 9, 9), 0), (18, (2, 9, 9), 0)]
    assert cnncost.table(net, batch=1).totals.params == sum(p.numel() for p in RelativePositionBias().parameters())


class SigmoidGates(nn.Module):
    """timm's EfficientViM block: alpha = sigmoid(parameter).view(4, -1, 1, 1), each alpha[i]
    gating a residual branch (x + alpha[0] * (f(x) - x)); the sigmoid saves its output once per
    forward, and every mul saves that one storage again (counted once)."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.randn(2 * c))
        self.stem = nn.Conv2d(c, c, 1)
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.conv2 = nn.Conv2d(c, c, 1)

    def forward(self, x):
        alpha = torch.sigmoid(self.alpha).view(2, -1, 1, 1)
        x = self.stem(x)  # (check --against's row matching fails on a row that reads the input and another row)
        x = x + alpha[0] * (self.conv1(x) - x)
        x = x + alpha[1] * (self.conv2(x) - x)
        return x / alpha[1]


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_sigmoid_of_a_parameter_gates_with_fixed_saved_bytes(tracer: str) -> None:
    net = assert_imports_exactly(SigmoidGates(), (4, 5, 5), tracer, batches=(2, 5))
    rows = _computed(net)
    # the sigmoid's output (8 fp32 elements) saved once, by the first row; the parameter counted once
    assert [(r.op, r.weights, r.saved) for r in rows] == [("mul", 8, 8), ("mul", 0, 0), ("div", 0, 0)]
    report = cnncost.table(net, batch=3, memory="autograd")
    report7 = cnncost.table(net, batch=7, memory="autograd")
    # 8 x 4 bytes per forward: the same at every batch (the rest scales with it)
    per_sample = (report7.totals.saved_bytes - report.totals.saved_bytes) // 4
    assert report.totals.saved_bytes == 3 * per_sample + 32


class DistilledTokens(nn.Module):
    """timm's DeiT distilled: torch.cat((cls.expand(N, -1, -1), dist.expand(N, -1, -1), x), 1)."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.dist = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.zeros(1, 6, d))
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        n = x.shape[0]
        x = torch.cat((self.cls.expand(n, -1, -1), self.dist.expand(n, -1, -1), x), dim=1) + self.pos
        return self.fc(x)


@pytest.mark.parametrize("tracer", TRACERS)
def test_two_tokens_prepended_are_one_tokens_row(tracer: str) -> None:
    net = assert_imports_exactly(DistilledTokens(), (4, 8), tracer, batches=(2, 5))
    assert [n.layer.count for n in cnncost.compile(net).nodes if n.type == "tokens"] == [2]


class ConcatenatedBias(nn.Module):
    """timm's BEiT attention: qkv bias = torch.cat((q_bias, k_bias, v_bias)), k_bias a buffer of
    zeros, passed to F.linear: the linear without bias, then + the computed bias."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.q_bias = nn.Parameter(torch.randn(d))
        self.register_buffer("k_bias", torch.zeros(d), persistent=False)
        self.v_bias = nn.Parameter(torch.randn(d))

    def forward(self, x):
        bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        return F.linear(x, weight=self.qkv.weight, bias=bias).relu()


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_bias_concatenated_from_parameters_and_a_buffer(tracer: str) -> None:
    net = assert_imports_exactly(ConcatenatedBias(), (5, 8), tracer, batches=(2, 5))
    assert [(r.weights, r.shape) for r in _computed(net)] == [(16, (24,))]  # q_bias and v_bias, not the buffer


class ResizedPositionEmbedding(nn.Module):
    """timm's Hiera (hieradet): F.interpolate(pos_embed, size, mode="bicubic") plus a window
    embedding tiled, permuted to channels last and added to the channels-last tokens."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.randn(1, c, 3, 3))
        self.window = nn.Parameter(torch.randn(1, c, 2, 2))
        self.conv = nn.Conv2d(3, c, 2, 2)

    def forward(self, x):
        x = self.conv(x).permute(0, 2, 3, 1)
        h, w = x.shape[1:3]
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        pos = (pos + self.window.tile((h // 2, w // 2))).permute(0, 2, 3, 1)
        return (x + pos).mean((1, 2))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_position_embedding_resized_by_interpolation(tracer: str) -> None:
    net = assert_imports_exactly(ResizedPositionEmbedding(), (3, 8, 8), tracer, batches=(2, 5))
    assert [r.weights for r in _computed(net)] == [36 + 16]


class SineEncoding(nn.Module):
    """A sin/cos position encoding made in forward from torch.arange (no parameter, no gradient),
    scaled by a learnable scalar (its sigmoid)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(1))
        self.pre = nn.Linear(6, 6)
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        pos = torch.arange(x.shape[1], dtype=torch.float32)[:, None] / torch.arange(1, 4)
        pos = torch.cat((pos.sin(), pos.cos()), dim=1)
        x = pos / (self.pre(x) + 2) + pos  # c / x keeps x (and c, once) although c needs no gradient
        x = x * pos.cos()  # x * c keeps c only (c needs no gradient)
        return self.fc(x) * self.gain.sigmoid()


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_sine_encoding_from_arange(tracer: str) -> None:
    net = assert_imports_exactly(SineEncoding(), (5, 6), tracer, batches=(2, 5))
    rows = _computed(net)
    assert rows[0].saved == 5 * 6  # c, the 5 x 6 encoding, kept by c / x
    assert rows[2].saved == 5 * 6  # cos(c), kept by x * cos(c)
    assert [(r.op, r.reverse, r.weights, r.grad) for r in rows] == [("div", True, 0, False), ("add", False, 0, False),
                                                                   ("mul", False, 0, False), ("mul", False, 1, True)]


class MlpOnBuffer(nn.Module):
    """torchvision's Swin V2 continuous position bias: an MLP on a constant coordinates buffer.
    Its MACs run once per forward, whatever the batch (test_import_once.py has more)."""

    def __init__(self) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        self.register_buffer("coords", torch.randn(9, 2))

    def forward(self, x):
        return x + 16 * torch.sigmoid(self.mlp(self.coords)).T


@pytest.mark.parametrize("tracer", TRACERS)
def test_an_mlp_on_a_buffer_counts_its_macs_once_per_forward(tracer: str) -> None:
    net = assert_imports_exactly(MlpOnBuffer(), (2, 9), tracer, batches=(2, 5))
    assert sum(r.macs_once for r in _computed(net)) == 9 * (2 * 8 + 8 * 2)  # two linears on 9 coordinates


class FourierEncoding(nn.Module):
    """timm's EdgeNeXt / XCiT PositionalEncodingFourier: a sine encoding made in forward from
    torch.zeros(B, H, W) (the batch's size, every sample the same), then a 1x1 convolution: its
    MACs scale with the batch, as the rows of any other convolution."""

    def __init__(self, hidden: int = 4, dim: int = 6) -> None:
        super().__init__()
        self.hidden = hidden
        self.token_projection = nn.Conv2d(hidden * 2, dim, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        not_mask = ~torch.zeros((b, h, w)).bool()
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        dim_t = 10000 ** (2 * (torch.arange(self.hidden, dtype=torch.int64) // 2) / self.hidden)
        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
        return x + self.token_projection(pos)


def test_a_fourier_encoding_made_at_the_batch_size_is_per_sample_work() -> None:
    net = assert_imports_exactly(FourierEncoding(), (6, 5, 4), "fx", batches=(2, 5))
    rows = _computed(net)
    assert [(r.op, r.shape, r.grad) for r in rows] == [("expand", (8, 5, 4), False)]
    # the convolution on it: 6 x 8 MACs per position, 20 positions, per sample
    assert cnncost.table(net, batch=1).totals.macs == 6 * 8 * 20


class MaskedAttention(nn.Module):
    """timm's BEiT: the relative position bias passed as scaled_dot_product_attention's mask: a
    tensor made once per forward, broadcast over the batch (it needs a gradient: the math path)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(2, 4, 4))
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        q = self.proj(x).unsqueeze(1).expand(-1, 2, -1, -1)
        return F.scaled_dot_product_attention(q, q, q, attn_mask=self.table.sigmoid())


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_computed_mask_of_attention_is_one_tensor_for_the_batch(tracer: str) -> None:
    net = assert_imports_exactly(MaskedAttention(), (4, 8), tracer, batches=(2, 5))
    rows = _computed(net)
    # the table's 32 counted once; the sigmoid's output (2x4x4) saved once per forward
    assert [(r.op, r.shape, r.weights, r.saved) for r in rows] == [("tensor", (2, 4, 4), 32, 32)]


class ComputedOperand(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3))

    def forward(self, x):
        return torch.matmul(x, self.w.sigmoid())


def test_a_computed_tensor_read_by_another_op_is_refused_naming_it() -> None:
    with pytest.raises(CnnCostError, match=r"matmul.*computed from parameters and buffers only"):
        from_torch(ComputedOperand(), (4, 8), tracer="fx")


def test_an_imported_computed_row_round_trips_through_yaml() -> None:
    net = from_torch(SigmoidGates(), (4, 5, 5), tracer="fx")
    again = cnncost.parse_spec(cnncost.dump_spec(net))
    for batch in (1, 3):
        a = cnncost.table(net, batch=batch, memory="autograd").totals
        b = cnncost.table(again, batch=batch, memory="autograd").totals
        assert (a.params, a.macs, a.saved_bytes) == (b.params, b.macs, b.saved_bytes)


class ScaledStdConv(nn.Conv2d):
    """timm's ScaledStdConv2d (NF-ResNets, NFNets): the weight standardised per output channel by
    a batch norm over its (1, O, I*k*k) view, scaled by gain * gamma / sqrt(fan_in), then the
    convolution with it. The standardisation runs once per forward: the batch norm saves its
    statistics and the gain's scaled copy, the convolution the standardised weight."""

    def __init__(self, cin: int, cout: int, k: int, gain: bool = True, **kw) -> None:
        super().__init__(cin, cout, k, **kw)
        self.gain = nn.Parameter(torch.full((cout, 1, 1, 1), 1.0)) if gain else None
        self.scale = self.weight[0].numel() ** -0.5

    def forward(self, x):
        scale = None if self.gain is None else (self.gain * self.scale).reshape(-1)
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, weight=scale,
                              training=True, momentum=0., eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class StdConvNet(nn.Module):
    """A stem as ResNetV2's (StdConv2d, no gain) then NF-ResNet's convs (with gain, grouped)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = ScaledStdConv(3, 8, 3, gain=False, bias=False, stride=2, padding=1)
        self.conv = ScaledStdConv(8, 8, 3, padding=1, groups=2)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.conv(torch.relu(self.stem(x)))
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_convolution_with_a_standardised_weight(tracer: str) -> None:
    net = assert_imports_exactly(StdConvNet(), (3, 10, 10), tracer, batches=(2, 5))
    rows = _computed(net)
    # the gain (8) counted once on its row; the weight's own 8x3x3x3 and 8x4x3x3 on the convs
    assert [(r.op, r.shape, r.weights) for r in rows] == [("weight", (8, 3, 3, 3), 0), ("weight", (8, 4, 3, 3), 8)]
    # saved once per forward: the standardised weight (the conv's), the mean and 1/std (8 each),
    # and where there is a gain, its scaled copy (8)
    assert [r.saved for r in rows] == [8 + 8, 8 + 8 + 8]


class ScaledTwice(nn.Module):
    """NF-ResNet's first block: out = act(x) * beta, read by the shortcut's conv and by conv1:
    one tensor in PyTorch, so one x * beta row that both convolutions read (each saves it: the
    same storage, counted once)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 6, 1), nn.Conv2d(4, 6, 3, padding=1)

    def forward(self, x):
        out = torch.relu(x) * 0.5
        return self.a(out) + self.b(out)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_scaled_tensor_read_twice_is_one_row(tracer: str) -> None:
    net = assert_imports_exactly(ScaledTwice(), (4, 5, 5), tracer, batches=(2, 5))
    assert [n.type for n in cnncost.compile(net).nodes].count("arith") == 1


@pytest.mark.parametrize("batch", [2, 5])
def test_a_standardised_weight_under_bf16_autocast(batch: int) -> None:
    """Under CPU bf16 autocast the convolution saves its low cast of the standardised weight: a
    new tensor each forward (an activation, not a parameter's cached cast), beside the fp32
    statistics; the rebuilt check module saves the same."""
    from cnncost.torch_backend.measure import saved_tensors
    from cnncost.torch_backend.saved_check import compare_saved
    model = StdConvNet()
    net = from_torch(model, (3, 10, 10), tracer="fx")
    kinds = saved_tensors(model, torch.randn(batch, 3, 10, 10), torch.bfloat16).by_kind()
    ours = cnncost.table(net, batch=batch, memory="autograd", device="cpu", dtype="bf16").totals.saved_bytes
    assert ours == kinds["activation"] + kinds["input"]
    for dtype in ("fp32", "bf16"):
        result = compare_saved(net, batch=batch, dtype=dtype)
        assert result.mismatches() == {} and result.predicted == result.measured, dtype


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_computed_mask_saves_what_pytorch_saves(dtype: str) -> None:
    """The mask's row against PyTorch under CPU bf16 autocast too, and the rebuilt check module
    against the memory rule."""
    model = MaskedAttention()
    assert_saves_what_torch_saves(model, from_torch(model, (4, 8), tracer="fx"), (4, 8), dtype)


class VideoPositionalEncoding(nn.Module):
    """torchvision's MViT PositionalEncoding: a class token of shape (D,) expanded over the batch
    and unsqueezed to one token, then a position embedding made of three parameters
    (repeat_interleave, an in-place add, a cat) added in place."""

    def __init__(self, d: int = 6, hw: int = 4, t: int = 2) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.randn(d))
        self.spatial_pos = nn.Parameter(torch.randn(hw, d))
        self.temporal_pos = nn.Parameter(torch.randn(t, d))
        self.class_pos = nn.Parameter(torch.randn(d))
        self.t = t
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        x = self.proj(x)
        class_token = self.class_token.expand(x.size(0), -1).unsqueeze(1)
        x = torch.cat((class_token, x), dim=1)
        hw, d = self.spatial_pos.shape
        pos = torch.repeat_interleave(self.temporal_pos, hw, dim=0)
        pos.add_(self.spatial_pos.unsqueeze(0).expand(self.t, -1, -1).reshape(-1, d))
        pos = torch.cat((self.class_pos.unsqueeze(0), pos), dim=0).unsqueeze(0)
        x.add_(pos)
        return x


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_class_token_of_one_dim_and_a_made_position_embedding(tracer: str) -> None:
    net = assert_imports_exactly(VideoPositionalEncoding(), (8, 6), tracer, batches=(2, 5))
    assert [(r.op, r.shape, r.weights) for r in _computed(net)] == [("add", (9, 6), 6 * 4 + 2 * 6 + 6)]
