"""`from_torch` where torch.fx cannot trace into a module, or into a function it keeps as a leaf,
or where fx's graph does not run: the call is exported alone with torch.export and its ATen graph
spliced in place, rows at the module paths of the whole model, the rest still fx's; figures equal
PyTorch's (params; conv and linear MACs by hooks; bytes saved for backward at batch 2, measured by
tests/fixtures/onnx/make_onnx.py's `measure`, as tests/importers/test_import_export.py does)."""
from __future__ import annotations

import math

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.spec import dump_spec, parse_spec

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

from import_figures import figures, measured  # noqa: E402  (tests/support)


def rows(net) -> list[tuple[str, str]]:
    return [(n.path, n.type) for n in cnncost.compile(net).nodes]


class SameConv(nn.Conv2d):
    """TensorFlow's 'same' padding as timm's Conv2dSame computes it: from the input's size (Python
    on shapes: fx stops), asymmetric (the extra pixel after), with F.pad, then the convolution."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        pad_h = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] + (kh - 1) * self.dilation[0] + 1 - ih, 0)
        pad_w = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] + (kw - 1) * self.dilation[1] + 1 - iw, 0)
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_a_same_padded_conv_is_its_padding_then_its_convolution() -> None:
    """A subclass of nn.Conv2d whose forward fx cannot trace: the conv handler refuses a subclass,
    export maps its asymmetric pad and its conv exactly, at the module's path."""
    model = nn.Sequential(SameConv(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.ReLU(), SameConv(8, 8, 4))
    net = cnncost.from_torch(model, (3, 15, 15))
    assert rows(net) == [("input", "input"), ("0.pad", "pad"), ("0.conv", "conv"), ("1", "batchnorm"),
                         ("2", "relu"), ("3.pad", "pad"), ("3.conv", "conv")]
    graph = cnncost.compile(net)
    assert graph.nodes[1].output_shape == (3, 17, 17) and graph.nodes[2].output_shape == (8, 8, 8)
    assert graph.nodes[-2].output_shape == (8, 11, 11) and graph.nodes[-1].output_shape == (8, 8, 8)
    assert figures(net) == measured(model, (3, 15, 15))
    assert "traced with torch.fx" in net.notes and "torch.fx cannot trace into '0'" in net.notes
    assert parse_spec(dump_spec(net)) == net


class Windowed(nn.Module):
    """A block with a branch on the input's width (fx: TraceError), children of its own, a
    functional op between them."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(c)
        self.proj = nn.Conv2d(c, c, 1)
        self.mlp = nn.Sequential(nn.Conv2d(c, 2 * c, 1), nn.GELU(), nn.Conv2d(2 * c, c, 1))

    def forward(self, x):
        y = self.proj(self.norm(x))
        if x.shape[-1] % 2:
            y = F.pad(y, (0, 1, 0, 1))[..., :-1, :-1]
        return x + self.mlp(torch.sigmoid(y) * y)


def test_an_untraceable_block_keeps_its_children_paths_and_fx_keeps_the_rest() -> None:
    from collections import OrderedDict
    stage = nn.Sequential(Windowed(4), nn.ReLU())
    model = nn.Sequential(OrderedDict(stem=nn.Conv2d(3, 4, 3, padding=1), stage=stage, head=nn.Conv2d(4, 2, 1)))
    net = cnncost.from_torch(model, (3, 8, 8))
    assert rows(net) == [("input", "input"), ("stem", "conv"), ("stage.0.norm", "batchnorm"), ("stage.0.proj", "conv"),
                         ("stage.0.sigmoid", "sigmoid"), ("stage.0.mul", "mul"), ("stage.0.mlp.0", "conv"),
                         ("stage.0.mlp.1", "gelu"), ("stage.0.mlp.2", "conv"), ("stage.0.add", "add"),
                         ("stage.1", "relu"), ("head", "conv")]
    assert figures(net) == measured(model, (3, 8, 8))
    assert "torch.fx cannot trace into 'stage.0' (TraceError" in net.notes and "traced with torch.export" in net.notes
    assert net.notes.startswith("imported from torch: torch.nn.modules.container.Sequential, traced with torch.fx")


def test_an_untraceable_block_called_twice_counts_its_parameters_once() -> None:
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 1)
            self.block = Windowed(4)

        def forward(self, x):
            return self.block(self.block(self.stem(x)))
    model = Twice()
    net = cnncost.from_torch(model, (3, 6, 6))
    graph = cnncost.compile(net)
    assert sum(n.params for n in graph.nodes) == sum(p.numel() for p in model.parameters())
    assert any(n.path.startswith("block@1.") and n.type == "shared" for n in graph.nodes)
    assert figures(net) == measured(model, (3, 6, 6))


def _half_channels(x):
    """Python on the tensor's rank: fx's tracer would fail here; fx.wrap keeps it a leaf."""
    if x.dim() == 4:
        return x[:, : x.shape[1] // 2]
    return x


torch.fx.wrap("_half_channels")


class _Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(_half_channels(self.conv(x)))


def test_a_function_fx_keeps_as_a_leaf_is_traced_through() -> None:
    """The Python on the rank runs on the traced values (importers/torch/inline.py): fx alone imports it."""
    model = _Wrapped()
    for tracer in ("auto", "fx"):
        net = cnncost.from_torch(model, (3, 8, 8), tracer=tracer)
        assert rows(net) == [("input", "input"), ("conv", "conv"), ("chunk", "chunk"), ("head", "conv")]
        assert cnncost.compile(net).nodes[-1].output_shape == (2, 6, 6)
        assert figures(net) == measured(model, (3, 8, 8))
        assert "torch.export" not in net.notes


def test_a_function_fx_keeps_as_a_leaf_is_exported_in_place(monkeypatch) -> None:
    """Where it cannot be traced through, the call is exported alone: the same rows; fx alone refuses it."""
    from cnncost.importers.torch import fx_walker

    def not_through(*args, **kwargs):
        raise RuntimeError("not traced through")
    monkeypatch.setattr(fx_walker, "traced", not_through)
    model = _Wrapped()
    net = cnncost.from_torch(model, (3, 8, 8))
    assert rows(net) == [("input", "input"), ("conv", "conv"), ("chunk", "chunk"), ("head", "conv")]
    assert cnncost.compile(net).nodes[-1].output_shape == (2, 6, 6)
    assert figures(net) == measured(model, (3, 8, 8))
    assert f"torch.fx keeps {_half_channels.__module__}._half_channels as a leaf function: traced with torch.export" \
        in net.notes
    with pytest.raises(CnnCostError, match=r"unsupported operation .*_half_channels"):
        cnncost.from_torch(model, (3, 8, 8), tracer="fx")


def test_an_untraceable_block_export_refuses_names_both_tracers() -> None:
    class ByValue(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            if x.shape[-1] > 2 and x.sum() > 0:  # fx: the shape; export: the value
                return self.conv(x)
            return x
    model = nn.Sequential(nn.Conv2d(3, 4, 1), ByValue())
    with pytest.raises(CnnCostError, match=r"at module '1' \(torch\.fx cannot trace into it: .*; torch\.export "
                                           r"cannot trace it either: ") as info:
        cnncost.from_torch(model, (3, 4, 4))
    assert "\n" not in str(info.value)
    net = cnncost.from_torch(model, (3, 4, 4), allow_unknown=True)
    assert [t for _, t in rows(net)] == ["input", "conv", "opaque"]


def test_an_fx_graph_that_does_not_run_falls_back_to_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """fx traced the module, but its graph does not run as the module does (torchvision's
    swin3d: a traced size list mutated): torch.export runs the module's own code."""
    from cnncost.importers import torch_trace

    def fails(trace, shape):
        raise TypeError("'immutable_list' object does not support mutation")
    monkeypatch.setattr(torch_trace, "record", fails)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    net = cnncost.from_torch(model, (3, 8, 8))
    assert "traced with torch.export" in net.notes and "does not run on a 3x8x8 input as torch.fx traced it" \
        in net.notes
    assert figures(net) == measured(model, (3, 8, 8))
    with pytest.raises(CnnCostError, match=r"Sequential does not run on a 3x8x8 input as torch\.fx traced it: "
                                           r"TypeError"):
        cnncost.from_torch(model, (3, 8, 8), tracer="fx")


class MaxPoolSame(nn.MaxPool2d):
    """timm's MaxPool2dSame: 'same' padding with -inf (a max never picks it), then the pool."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        k, s = self.kernel_size, self.stride
        pad_h = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
        pad_w = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2], value=-float("inf"))
        return F.max_pool2d(x, k, s, 0, 1, self.ceil_mode)


def test_a_same_padded_max_pool_pads_with_minus_infinity() -> None:
    from cnncost.layers import Pad
    from cnncost.torch_backend import build
    model = nn.Sequential(nn.Conv2d(3, 4, 3), MaxPoolSame(3, 2), nn.Conv2d(4, 4, 1))
    net = cnncost.from_torch(model, (3, 10, 10))
    assert rows(net) == [("input", "input"), ("0", "conv"), ("1.pad", "pad"), ("1.maxpool", "maxpool"), ("2", "conv")]
    pad = cnncost.compile(net).nodes[2]
    assert pad.layer == Pad(name="pad", padding=(0, 1, 0, 1), mode="constant", value=-math.inf)
    assert pad.output_shape == (4, 9, 9)
    assert figures(net) == measured(model, (3, 10, 10))
    assert parse_spec(dump_spec(net)) == net
    rebuilt = build(net)  # the torch module for `check` pads with the value
    x = torch.randn(1, 3, 10, 10)
    rebuilt.load_state_dict(model.state_dict(), strict=False)
    assert rebuilt(x).shape == model(x).shape


def test_constant_padding_needs_mode_constant() -> None:
    from cnncost.layers import Pad
    with pytest.raises(CnnCostError, match="value 1.0 needs mode constant"):
        cnncost.compile(cnncost.Net("p", input=(2, 4), layers=[Pad(padding=(1, 1), value=1.0)]))
    net = cnncost.Net("p", input=(2, 4), layers=[Pad(padding=(0, 0, 0, 1), mode="constant", value=1.0)])
    assert cnncost.compile(net).nodes[1].output_shape == (3, 4)  # F.pad may pad a token map's first dim


class FullPrecision(nn.Module):
    """EfficientViT's LiteMLA pattern: a branch on the input's type (fx stops), a pad with ones and
    products under `torch.autocast(enabled=False)`, which torch.export keeps as a higher-order op
    over a subgraph."""

    def __init__(self):
        super().__init__()
        self.qk = nn.Conv2d(4, 8, 1)
        self.proj = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        b, _, h, w = x.shape
        q, k = self.qk(x).flatten(2).transpose(1, 2).chunk(2, dim=-1)  # (B, HW, 4) each
        q, k = torch.relu(q), torch.relu(k)
        v = F.pad(k, (0, 1), mode="constant", value=1.0)  # (B, HW, 5)
        if x.device.type != "meta":
            with torch.autocast(device_type=x.device.type, enabled=False):
                out = q.float() @ (k.transpose(-1, -2) @ v)
        else:
            out = q @ (k.transpose(-1, -2) @ v)
        return self.proj(out[..., :-1].transpose(1, 2).reshape(b, -1, h, w))


def test_a_block_with_autocast_disabled_inside_walks_its_subgraph() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), FullPrecision())
    net = cnncost.from_torch(model, (3, 4, 4))
    assert rows(net)[9:13] == [("1.pad", "pad"), ("1.permute_1", "permute"), ("1.matmul", "matmul"),
                               ("1.matmul_1", "matmul")]
    assert "torch.fx cannot trace into '1'" in net.notes
    params, macs, saved = measured(model, (3, 4, 4))  # MACs: its hooks count conv and linear only
    products = 4 * 5 * 16 + 16 * 5 * 4  # k^T (4x16) @ v (16x5), then q (16x4) @ kv (4x5), per image
    assert figures(net) == (params, macs + products, saved)


def test_a_negative_zero_pad_crops_then_pads() -> None:
    """NASNet's shifted path: ZeroPad2d((-1, 1, -1, 1)) drops the first row and column and adds a
    zero row and column at the end; a view then a new tensor, nothing saved."""
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ZeroPad2d((-1, 1, -1, 1)), nn.AvgPool2d(1, 2), nn.Conv2d(4, 4, 1))
    net = cnncost.from_torch(model, (3, 7, 7))
    graph = cnncost.compile(net)
    assert [(n.path, n.type, n.output_shape) for n in graph.nodes[2:5]] == [
        ("slice", "slice", (4, 7, 6)), ("slice_1", "slice", (4, 6, 6)), ("1", "pad", (4, 7, 7))]
    assert graph.nodes[-1].output_shape == (4, 4, 4)
    assert figures(net) == measured(model, (3, 7, 7))


class StdSameConv(SameConv):
    """timm's StdConv2dSame: the weight standardised (F.batch_norm over each filter) every call."""

    def forward(self, x):
        x = F.pad(x, [0, 1, 0, 1]) if x.shape[-1] % 2 == 0 else x
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None, training=True,
                              momentum=0.0, eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_a_computation_on_parameters_that_autograd_saves_is_counted_not_free() -> None:
    """torch saves the standardised weight (for the conv) and the batch norm's statistics: a conv
    whose weight is computed from parameters (through the export fallback here) counts them, once
    per forward (a `computed` row of op weight before the conv)."""
    model = nn.Sequential(StdSameConv(3, 4, 3), nn.ReLU())
    net = cnncost.from_torch(model, (3, 8, 8))
    assert [n.layer.op for n in cnncost.compile(net).nodes if n.type == "computed"] == ["weight"]
    assert figures(net) == measured(model, (3, 8, 8))
    # a view of a parameter costs nothing: SameConv's weight read as it is
    model = nn.Sequential(SameConv(3, 4, 3), nn.ReLU())
    assert figures(cnncost.from_torch(model, (3, 8, 8))) == measured(model, (3, 8, 8))


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_constant_padding_saves_what_pytorch_saves(dtype: str) -> None:
    """A -inf pad before a max pool and a channel pad with ones: nothing saved, in fp32 and under
    CPU bf16 autocast (constant_pad_nd is on no autocast list), as `check` measures PyTorch."""
    from cnncost.layers import Conv, MaxPool, Pad
    from cnncost.torch_backend import check
    net = cnncost.Net("pads", input=(3, 9, 9), layers=[
        Conv(out=4, kernel=3), Pad(padding=(0, 1, 0, 1), mode="constant", value=-math.inf), MaxPool(kernel=3, stride=2),
        Pad(padding=(0, 1, 0, 0, 0, 2), mode="constant", value=1.0), Conv(out=2, kernel=1)])
    result = check(net, batch=2, dtype=dtype)
    assert result.ok
    saved = result.total("saved_bytes")
    assert saved.ours == saved.torch


def test_a_matmul_operand_dense_in_permuted_order_folds_without_a_copy() -> None:
    """EfficientViT's LiteMLA: q = relu(a chunk of a transposed map) is dense in permuted order
    (TensorIterator's output layout); torch.matmul folds its leading dims into bmm's batch as a
    view, so the saved q is the relu's saved output, not a copy (saved_tensors measures it)."""
    class LinearAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Conv2d(8, 24, 1)
            self.kernel = nn.ReLU()

        def forward(self, x):
            b, _, h, w = x.shape
            q, k, v = self.qkv(x).reshape(b, -1, 24, h * w).transpose(-1, -2).chunk(3, dim=-1)
            q, k = self.kernel(q), self.kernel(k)
            v = F.pad(v, (0, 1), mode="constant", value=1.0)
            return q @ (k.transpose(-1, -2) @ v)
    model = LinearAttention()
    net = cnncost.from_torch(model, (8, 4, 4))
    assert figures(net)[2] == measured(model, (8, 4, 4))[2]


def _drop_path(x, drop_prob: float):
    """timm.layers.drop.drop_path in training mode, line for line (timm is not installed in CI)."""
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPathBlock(nn.Module):
    """A block fx cannot trace into (a branch on the width) with a drop path on its residual
    branch: export decomposes it into new_empty -> bernoulli_ -> div_ -> mul (timm's nest)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        if x.shape[-1] % 2:
            x = x * 2
        return x + _drop_path(F.gelu(self.fc(x)), 0.1)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_a_decomposed_drop_path_is_the_stochastic_depth_row(dtype: str) -> None:
    """The mask is no row of its own; the product is the stochastic_depth row fx's leaf DropPath
    maps to (p = 1 - keep), and autograd saves the same: the mask (one element per sample, x's
    dtype: bf16 under autocast after the linear), not x (saved_tensors measures PyTorch)."""
    from cnncost.torch_backend.measure import saved_tensors
    model = nn.Sequential(DropPathBlock(), nn.Linear(8, 4))
    net = cnncost.from_torch(model, (4, 8))
    nodes = cnncost.compile(net).nodes
    assert [(n.path, n.type) for n in nodes] == [("input", "input"), ("0.fc", "linear"), ("0.gelu", "gelu"),
                                                 ("0.mul", "stochastic_depth"), ("0.add", "add"), ("1", "linear")]
    assert nodes[3].layer.p == 0.1 and nodes[3].layer.mode == "row"
    assert figures(net)[:2] == measured(model, (4, 8))[:2]
    kinds = saved_tensors(model, torch.randn(2, 4, 8), torch.bfloat16 if dtype == "bf16" else None).by_kind()
    ours = cnncost.table(net, batch=2, memory="autograd", device="cpu", dtype=dtype).totals.saved_bytes
    assert ours == kinds["activation"] + kinds["input"]


def test_an_unscaled_drop_path_mask_refuses_naming_the_product() -> None:
    """timm's scale_by_keep=False (no div_): refused, as fx's leaf DropPath refuses it, not counted."""
    class Unscaled(nn.Module):
        def forward(self, x):
            if x.shape[-1] % 2:
                x = x * 2
            return x * x.new_empty((x.shape[0], 1, 1)).bernoulli_(0.9)
    with pytest.raises(CnnCostError, match=r"unsupported operation aten\.mul\.Tensor .*drop-path mask"):
        cnncost.from_torch(nn.Sequential(nn.Linear(8, 8), Unscaled()), (4, 8))


def _position_bias(table, index, n):
    """torchvision's _get_relative_position_bias: a parameter table gathered by a buffer index."""
    return table[index].view(n, n, -1).permute(2, 0, 1).contiguous()


torch.fx.wrap("_position_bias")


def test_a_wrapped_function_gathering_by_a_buffer_index_saves_no_activation() -> None:
    """The spliced walk knows the model's buffers: the index the gather saves is a buffer, not an
    activation (as PyTorch files it), so the saved bytes equal PyTorch's (torchvision's Swin)."""
    class Biased(nn.Module):
        def __init__(self):
            super().__init__()
            self.qk = nn.Linear(4, 8)
            self.table = nn.Parameter(torch.randn(9, 1))
            self.register_buffer("index", torch.randint(0, 9, (625,)))

        def forward(self, x):  # x: (N, 25, 4); the bias (1, 25, 25)
            q, k = self.qk(x).chunk(2, dim=-1)
            return (q @ k.transpose(-2, -1) + _position_bias(self.table, self.index, 25)).softmax(-1)
    model = Biased()
    ours, theirs = figures(cnncost.from_torch(model, (25, 4))), measured(model, (25, 4))
    assert (ours[0], ours[2]) == (theirs[0], theirs[2])  # params, saved bytes
    assert ours[1] == theirs[1] + 25 * 25 * 4  # MACs: the measure counts the linear; q @ k^T besides


def _masked(x):
    """A mask made with x.new_zeros (x lends its dtype only) and filled in place: Swin's shift mask."""
    mask = x.new_zeros((x.shape[-2], x.shape[-1]))
    mask[1:, 1:] = -100.0
    return x + mask


torch.fx.wrap("_masked")


def test_a_tensor_made_with_new_zeros_is_computed_once_per_forward() -> None:
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return _masked(self.conv(x)).softmax(-1)
    model = Masked()
    net = cnncost.from_torch(model, (3, 7, 7))
    assert "computed" in {t for _, t in rows(net)}
    assert figures(net) == measured(model, (3, 7, 7))


class TorchvisionDropBlock(DropPathBlock):
    """torchvision.ops.stochastic_depth's "row" mode in training, line for line (its noise made with
    torch.empty, not x.new_empty), in a block fx cannot trace into (torchvision's swin3d)."""

    def forward(self, x):
        if x.shape[-1] % 2:
            x = x * 2
        y = F.gelu(self.fc(x))
        noise = torch.empty([y.shape[0]] + [1] * (y.ndim - 1), dtype=y.dtype, device=y.device)
        noise = noise.bernoulli_(0.9)
        noise.div_(0.9)
        return x + y * noise


def test_torchvisions_decomposed_stochastic_depth_is_the_same_row() -> None:
    from cnncost.torch_backend.measure import saved_tensors
    model = nn.Sequential(TorchvisionDropBlock(), nn.Linear(8, 4))
    net = cnncost.from_torch(model, (4, 8))
    nodes = cnncost.compile(net).nodes
    assert [n.type for n in nodes] == ["input", "linear", "gelu", "stochastic_depth", "add", "linear"]
    assert nodes[3].layer.p == 0.1 and nodes[3].layer.mode == "row"
    kinds = saved_tensors(model, torch.randn(2, 4, 8)).by_kind()
    assert figures(net)[2] == kinds["activation"] + kinds["input"]
