"""Importing Tensor.repeat_interleave (issue 18): GCViT's global query, one per image, repeated over
that image's windows (`q_global.repeat_interleave(B_ // B, dim=0)`: (N, h, w, C) -> (N*nW, h, w, C),
each image's copies together), so that it lines up with keys and values whose batch is folded with
the windows; and repeats along a per-sample dim, of a map and of folded windows. Each small module is
imported by both tracers and its params, MACs and saved bytes equal the real module's (check_against
measures them: parameter count, FlopCounterMode's MACs, autograd's saved tensors at batch 2, CPU fp32).
A count that is the batch size, a tensor of counts and a repeat of the flattened tensor are refused
with one line."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.spec import dump_spec, parse_spec  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)
from timm_windows import window_partition, window_reverse  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


class GlobalQueryBlock(nn.Module):
    """timm's GlobalContextVitBlock with WindowAttentionGlobal in small: a global query made by a
    strided conv of the whole map (timm's FeatureBlock), channels-last, one window's size; keys and
    values from the windows, (N*nW, L, C); the query repeated over each image's windows, split into
    heads, scaled; q @ k^T, softmax, @ v; the windows back, the residual."""

    def __init__(self, c: int = 8, heads: int = 2, ws: int = 4, stride: int = 2) -> None:
        super().__init__()
        self.ws, self.heads = ws, heads
        self.global_block = nn.Conv2d(c, c, 3, stride, 1)
        self.norm = nn.LayerNorm(c)
        self.kv = nn.Linear(c, 2 * c)
        self.proj = nn.Linear(c, c)

    def forward(self, x):
        q_global = self.global_block(x).permute(0, 2, 3, 1)  # (N, ws, ws, C)
        x = x.permute(0, 2, 3, 1)
        B, H, W, C = x.shape
        w = window_partition(self.norm(x), self.ws).view(-1, self.ws * self.ws, C)
        B_, N, _ = w.shape
        k, v = self.kv(w).reshape(B_, N, 2, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        q = q_global.repeat_interleave(B_ // q_global.shape[0], dim=0)
        q = q.reshape(B_, N, self.heads, -1).permute(0, 2, 1, 3) * 0.5
        attn = (q @ k.transpose(-2, -1).contiguous()).softmax(dim=-1)
        o = self.proj((attn @ v).transpose(1, 2).reshape(B_, N, C)).view(-1, self.ws, self.ws, C)
        return (x + window_reverse(o, self.ws, H, W)).permute(0, 3, 1, 2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_global_query_repeated_over_each_images_windows_imports_exactly(tracer: str) -> None:
    net = assert_imports_exactly(GlobalQueryBlock(), (8, 8, 8), tracer)
    nodes = cnncost.compile(net).nodes
    # per sample: the (4, 4, 8) query seen 4 times (one per window of the 8x8 map), then copied
    expand = next(n for n in nodes if n.type == "expand")
    assert expand.input_shapes[0] == (4, 4, 8) and expand.output_shape == (4, 4, 4, 8)
    copy = nodes[nodes.index(expand) + 1]
    assert copy.type == "contiguous"
    back = parse_spec(dump_spec(net))
    assert cnncost.table(back, batch=2, memory="autograd").totals == cnncost.table(net, batch=2, memory="autograd").totals


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_global_query_over_one_window_imports_exactly(tracer: str) -> None:
    """GCViT's last stage: one window per image, `repeat_interleave(1, dim=0)`, a contiguous copy of
    the channels-last query (the batch not folded: (N, h, w, C) as it was)."""
    # torch.export drops the window partition's .contiguous() of a contiguous permute (one window):
    # a row fewer than the reference's fx import, the totals equal
    net = assert_imports_exactly(GlobalQueryBlock(stride=1), (8, 4, 4), tracer, rows=tracer == "fx")
    nodes = cnncost.compile(net).nodes
    assert "expand" not in [n.type for n in nodes]
    copy = next(n for n in nodes if n.path.endswith("repeat_interleave"))
    assert copy.type == "contiguous" and copy.output_shape == (4, 4, 8)


class RepeatAlong(nn.Module):
    """repeat_interleave along a per-sample dim: of a map's width (a nearest upsampling written by
    hand), then of windows whose batch is folded (each window's tokens repeated, and the windows)."""

    def __init__(self, dim: int, folded: bool = False) -> None:
        super().__init__()
        self.dim, self.folded = dim, folded
        self.conv = nn.Conv2d(3, 4, 1)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.conv(x)
        if not self.folded:
            return self.fc(y.repeat_interleave(3, dim=self.dim).permute(0, 2, 3, 1))
        B, C, H, W = y.shape
        w = y.permute(0, 2, 3, 1).reshape(B * H, W, C)  # rows of the map, the batch folded in
        return self.fc(torch.repeat_interleave(w, 2, dim=self.dim))


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("dim, folded, out", [
    (-1, False, (4, 12, 4)),  # (H, W*3, C) after the permute
    (2, False, (12, 4, 4)),
    (0, True, (8, 4, 4)),  # the folded dim: each row twice, per sample (H*2, W, C)
    (-2, True, (4, 8, 4)),
])
def test_repeats_along_a_per_sample_dim_import_exactly(tracer: str, dim: int, folded: bool,
                                                       out: tuple[int, ...]) -> None:
    net = assert_imports_exactly(RepeatAlong(dim, folded), (3, 4, 4), tracer)
    nodes = cnncost.compile(net).nodes
    assert nodes[-1].type == "linear" and nodes[-1].output_shape == out


class ByBatchSize(nn.Module):
    def forward(self, x):
        return x.repeat_interleave(x.shape[0], dim=0) * 2


class ByTensor(nn.Module):
    def forward(self, x):
        return x.repeat_interleave(torch.tensor([1, 2, 1]), dim=1) * 2


class Flattened(nn.Module):
    def forward(self, x):
        return x.repeat_interleave(2).view(x.shape[0], -1) * 2


@pytest.mark.parametrize("model, tracer, line", [
    (ByBatchSize(), "fx", r"Tensor.repeat_interleave at module '\(top level\)' \(repeat_interleave by a count made "
                          r"from the batch size"),
    # torch.export leaves x.shape[0] as the number 2: a count of 2 along the batch could be it
    (ByBatchSize(), "export", r"aten.repeat_interleave.self_int at module '\(top level\)' \(repeat_interleave "
                              r"along the batch by 2, the traced batch"),
    (ByTensor(), "fx", r"Tensor.repeat_interleave at module '\(top level\)' \(repeat_interleave by a tensor of counts"),
    (Flattened(), "fx", r"Tensor.repeat_interleave at module '\(top level\)' \(repeat_interleave without dim"),
])
def test_repeats_that_do_not_map_are_refused_with_one_line(model: nn.Module, tracer: str, line: str) -> None:
    with pytest.raises(CnnCostError, match=line):
        from_torch(model, (3, 4, 4), tracer=tracer)
