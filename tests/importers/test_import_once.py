"""Work done once per forward from parameters and buffers alone (issue 18): Swin V2's continuous
position bias (an MLP on a coordinates buffer), a position projection on a fixed grid (XCiT,
ConViT). FlopCounterMode counts it once per forward, whatever the batch; cnncost carries it as the
`computed` row's `macs_once` (the engine's `fixed_macs`): MACs = per sample x batch + fixed, at
every batch, forward and backward. Each module's figures are compared with PyTorch's at two
batches (check_against: params, FlopCounterMode's MACs, autograd's saved bytes, CPU fp32)."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


class ContinuousBias(nn.Module):
    """Swin V2's `cpb_mlp` (timm swinv2, torchvision swin_v2_*): Linear, ReLU, Linear (no bias) on a
    (1, 2W-1, 2W-1, 2) coordinates buffer, gathered by an index buffer, 16 * sigmoid, added to the
    attention logits of every window (the windows folded into the batch)."""

    def __init__(self, heads: int = 2, window: int = 3, d: int = 8) -> None:
        super().__init__()
        n = window * window
        self.heads, self.n, self.window = heads, n, window
        self.qkv = nn.Linear(d, 3 * d)
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(inplace=True), nn.Linear(16, heads, bias=False))
        side = torch.arange(-(window - 1), window, dtype=torch.float32)
        table = torch.stack(torch.meshgrid(side, side, indexing="ij")).permute(1, 2, 0).unsqueeze(0)
        self.register_buffer("coords_table", table)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("index", (rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]).flatten())
        self.proj = nn.Linear(d, d)

    def forward(self, x):  # x: (N * windows, n, d)
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = q @ k.transpose(-2, -1)
        table = self.cpb_mlp(self.coords_table).view(-1, self.heads)
        bias = table[self.index].view(n, n, -1).permute(2, 0, 1).contiguous()
        attn = (attn + 16 * torch.sigmoid(bias).unsqueeze(0)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class GridProjection(nn.Module):
    """ConViT's `pos_proj` and XCiT's Fourier projection: a linear or a 1x1 conv on a fixed grid
    buffer (no batch), its result added to the tokens."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.register_buffer("grid", torch.randn(1, 6, 4, 4))
        self.conv = nn.Conv2d(6, d, 1)
        self.fc = nn.Linear(d, d)

    def forward(self, x):  # x: (N, 16, d)
        pos = self.conv(self.grid).flatten(2).transpose(1, 2)
        return self.fc(x + pos)


class SharedBias(nn.Module):
    """One bias made once and read by two rows: its MACs count once."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.register_buffer("coords", torch.randn(5, 2))
        self.mlp = nn.Linear(2, d)
        self.fc = nn.Linear(d, d)

    def forward(self, x):  # x: (N, 5, d)
        bias = self.mlp(self.coords)
        return self.fc(x + bias) * bias


CASES = [(ContinuousBias, (9, 8)), (GridProjection, (16, 8)), (SharedBias, (5, 8))]


def _torch_step(model: nn.Module, shape: tuple[int, ...], batch: int) -> tuple[int, int]:
    """FlopCounterMode's forward and backward FLOPs of one training step (loss = output sum)."""
    x = torch.randn(batch, *shape)
    with FlopCounterMode(display=False) as forward:
        out = model(x)
    with FlopCounterMode(display=False) as backward:
        out.sum().backward()
    return forward.get_total_flops(), backward.get_total_flops()


@pytest.mark.parametrize("tracer", TRACERS)
@pytest.mark.parametrize("make,shape", CASES, ids=[c[0].__name__ for c in CASES])
def test_made_once_is_exact_at_every_batch(make, shape, tracer):
    torch.manual_seed(0)
    model = make()
    net = assert_imports_exactly(model, shape, tracer, batches=(2, 5))
    fixed = sum(n.layer.macs_once for n in cnncost.compile(net).nodes if n.type == "computed")
    assert fixed > 0  # the MLP or projection on the buffer: once per forward
    for batch in (1, 3):
        totals = cnncost.table(net, batch=batch).totals
        forward, backward = _torch_step(model, shape, batch)
        assert (totals.flops, totals.backward_flops) == (forward, backward), batch
        assert totals.fixed_macs == fixed
        step = cnncost.table(net, batch=batch, count_as="flopcounter-train").totals.ops
        assert step == forward + backward
        assert cnncost.table(net, batch=batch, count_as="flopcounter").totals.ops == forward


def test_shared_bias_counts_once():
    model = SharedBias()
    net = from_torch(model, (5, 8))
    rows = [n for n in cnncost.compile(net).nodes if n.type == "computed"]
    assert len(rows) == 2 and sorted(n.layer.macs_once for n in rows) == [0, 5 * 2 * 8]


def test_frozen_making_has_no_backward():
    model = ContinuousBias()
    net = from_torch(model, (9, 8))
    path = next(n.path for n in cnncost.compile(net).nodes if n.type == "computed" and n.layer.macs_once)
    free = cnncost.table(net, batch=2).totals.backward_flops
    frozen = cnncost.table(net, batch=2, freeze=[path]).totals.backward_flops
    for p in model.cpb_mlp.parameters():
        p.requires_grad_(False)
    _, backward = _torch_step(model, (9, 8), 2)
    assert frozen == backward < free


def test_outputs_state_the_fixed_part():
    net = from_torch(ContinuousBias(), (9, 8))
    report = cnncost.table(net, batch=4)
    fixed = report.totals.fixed_macs
    record = json.loads(report.to_json())
    assert record["total"]["fixed_macs"] == fixed
    assert record["total"]["macs"] == report.totals.macs
    per_image = report.to_dataframe(per_image=True)
    assert int(per_image["macs"].sum()) * 4 + fixed == report.totals.macs
    text = report.to_text()
    assert f"MACs once per forward, whatever the batch: {fixed:,}" in text
    assert "once per forward; per batch of 4" in text


def test_nets_without_such_work_have_no_fixed_figure():
    report = cnncost.table("alexnet")
    assert "fixed_macs" not in report.totals.figures
    assert "fixed_macs" not in json.loads(report.to_json())["total"]


def test_sweep_rows_equal_the_tables():
    net = from_torch(ContinuousBias(), (9, 8))
    for freeze in ((), ("coords_table",)):
        frame = cnncost.sweep(net, batch=[1, 4], freeze=freeze)
        for row in frame.itertuples():
            totals = cnncost.table(net, batch=row.batch, freeze=freeze).totals
            assert (row.macs, row.flops, row.backward_flops) == (totals.macs, totals.flops, totals.backward_flops)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_bias_made_of_frozen_parameters_imports_exactly(tracer):
    """requires_grad off on the MLP making c: c needs no gradient, nothing of its making is saved,
    and its MACs still run once per forward."""
    model = ContinuousBias()
    for p in model.cpb_mlp.parameters():
        p.requires_grad_(False)
    net = assert_imports_exactly(model, (9, 8), tracer, batches=(2, 3))
    made = [n.layer for n in cnncost.compile(net).nodes if n.type == "computed" and n.layer.macs_once]
    assert [(m.grad, m.input_grad_macs_once, m.weight_grad_macs_once) for m in made] == [(False, 0, 0)]
    forward, backward = _torch_step(model, (9, 8), 3)
    totals = cnncost.table(net, batch=3).totals
    assert (totals.flops, totals.backward_flops) == (forward, backward)


class MlpMask(nn.Module):
    """A position bias made by an MLP on a coordinates buffer, passed as attention's mask (BEiT's
    bias through Swin V2's MLP): the mask's row carries the MLP's MACs once per forward."""

    def __init__(self, heads: int = 2, n: int = 6, d: int = 8) -> None:
        super().__init__()
        self.heads, self.n = heads, n
        self.register_buffer("coords", torch.randn(n * n, 2))
        self.mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, heads))
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, x):  # x: (N, n, d)
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mask = self.mlp(self.coords).T.reshape(1, self.heads, n, n)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_mask_made_by_an_mlp_counts_its_macs_once(tracer):
    # the fused kernel runs where FlopCounterMode measures (no grad): its 2 x 2 x 36 x 4 MACs per
    # sample at batch 2 are not in the measured figure
    net = assert_imports_exactly(MlpMask(), (6, 8), tracer, sdpa_macs=2 * 2 * 2 * 36 * 4)
    made = [n.layer for n in cnncost.compile(net).nodes if n.type == "computed"]
    assert [(m.op, m.macs_once) for m in made] == [("tensor", 36 * (2 * 16 + 16 * 2))]
