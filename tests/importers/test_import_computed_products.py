"""Matrix products of the input with a tensor computed from parameters and buffers only (issue
18): per-sample work, so ordinary rows. Each small module reproduces a pattern of a real model
(named in its docstring); its params, MACs and saved bytes equal the real module's at batches 1,
2 and 5 (check_against measures them: parameter count, FlopCounterMode's MACs, autograd's saved
tensors, CPU fp32), by both tracers."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnncost  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly, assert_saves_what_torch_saves  # noqa: E402  (tests/support)
from cnncost.torch_backend.check import check  # noqa: E402

TRACERS = ["fx", "export"]


def _exact(model: nn.Module, shape: tuple[int, ...], tracer: str) -> cnncost.Net:
    return assert_imports_exactly(model, shape, tracer, batches=(1, 2, 5), nonzero=False)


def _nodes(net: cnncost.Net, kind: str) -> list:
    return [n for n in cnncost.compile(net).nodes if n.type == kind]


class RelativeLogits(nn.Module):
    """timm's BoTNet / HaloNet PosEmbedRel (layers/bottleneck_attn.py rel_logits_1d): q (B, H, W,
    d) @ rel_k.transpose(-1, -2), rel_k a (2W - 1, d) parameter."""

    def __init__(self, w: int = 4, d: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.width_rel = nn.Parameter(torch.randn(2 * w - 1, d))

    def forward(self, x):
        q = self.qkv(x)[..., :x.shape[-1]]
        return q @ self.width_rel.transpose(-1, -2)


@pytest.mark.parametrize("tracer", TRACERS)
def test_a_product_by_a_transposed_parameter_is_a_linear_by_it(tracer: str) -> None:
    net = _exact(RelativeLogits(), (4, 4, 8), tracer)
    rel = _nodes(net, "linear")[-1]
    # 7 x 8 parameter, no bias; per sample 4 x 4 rows of 8 by 7 outputs
    assert (rel.params, rel.macs, rel.output_shape) == (56, 4 * 4 * 8 * 7, (4, 4, 7))


class RelativePositionEinsum(nn.Module):
    """timm's MViTv2 cal_rel_pos_type (models/mvitv2.py) and torchvision's mvit _add_rel_pos: the
    tables gathered by a distance index made from torch.arange, then einsum("byhwc,hkc->byhwk")
    and ("byhwc,wkc->byhwk") of q by them, added to the attention logits."""

    def __init__(self, heads: int = 2, h: int = 3, w: int = 4, d: int = 8) -> None:
        super().__init__()
        self.heads, self.h, self.w = heads, h, w
        self.qkv = nn.Linear(d, 3 * d)
        self.rel_pos_h = nn.Parameter(torch.randn(2 * h - 1, d // heads))
        self.rel_pos_w = nn.Parameter(torch.randn(2 * w - 1, d // heads))

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn = q @ k.transpose(-2, -1)
        h, w = self.h, self.w
        dist_h = torch.arange(h).unsqueeze(-1) - torch.arange(h).unsqueeze(0) + (h - 1)
        dist_w = torch.arange(w).unsqueeze(-1) - torch.arange(w).unsqueeze(0) + (w - 1)
        r_q = q.reshape(b, self.heads, h, w, -1)
        rel_h = torch.einsum("byhwc,hkc->byhwk", r_q, self.rel_pos_h[dist_h.long()])
        rel_w = torch.einsum("byhwc,wkc->byhwk", r_q, self.rel_pos_w[dist_w.long()])
        attn = (attn.view(b, -1, h, w, h, w) + rel_h.unsqueeze(-1) + rel_w.unsqueeze(-2)).view(b, -1, h * w, h * w)
        return (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)


@pytest.mark.parametrize("tracer", TRACERS)
def test_an_einsum_by_a_gathered_table_is_a_matmul_by_a_tensor_made_once(tracer: str) -> None:
    net = _exact(RelativePositionEinsum(), (12, 8), tracer)
    tables = [n.layer for n in _nodes(net, "computed")]
    # each table (5 x 4, 7 x 4) counted once, seen as (h, c, k); its int64 index (h x h, w x w:
    # 9 and 16 x 8 bytes) saved once per forward, in 4-byte elements
    assert [(t.op, t.shape, t.weights, t.saved) for t in tables] == [("tensor", (3, 4, 3), 20, 18),
                                                                      ("tensor", (4, 4, 4), 28, 32)]
    einsums = [n for n in _nodes(net, "matmul") if n.path.startswith("einsum")]
    # per sample heads x h x w x k outputs, each a 4-term dot product
    assert [(e.output_shape, e.macs) for e in einsums] == [((2, 3, 4, 3), 2 * 3 * 4 * 3 * 4),
                                                           ((2, 4, 3, 4), 2 * 4 * 3 * 4 * 4)]


@pytest.mark.parametrize("batch", [2, 3])  # (at batch 1 views differ: the model assumes a batch above 1)
def test_the_built_network_folds_the_batch_into_the_rows_as_einsum_does(batch: int) -> None:
    # `check` builds the imported spec in torch: its matmul by the table made once saves what
    # cnncost's rule says (the table once, q or its copy per sample)
    net = from_torch(RelativePositionEinsum(), (12, 8), tracer="fx")
    result = check(net, batch=batch, init=False)
    assert result.ok and all(row.status == "ok" for row in result.rows if row.quantity == "saved_bytes")


def test_the_imported_einsum_round_trips_through_yaml() -> None:
    net = from_torch(RelativePositionEinsum(), (12, 8), tracer="fx")
    again = cnncost.parse_spec(cnncost.dump_spec(net))
    for batch in (1, 3):
        a = cnncost.table(net, batch=batch, memory="autograd").totals
        b = cnncost.table(again, batch=batch, memory="autograd").totals
        assert (a.params, a.macs, a.saved_bytes) == (b.params, b.macs, b.saved_bytes)


class OtherEinsum(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(4, 5))

    def forward(self, x):
        return torch.einsum("bij,jk->bik", x, self.table.sigmoid())


class SquashedOperand(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(3, 8, 5))

    def forward(self, x):
        return torch.matmul(x, self.w.tanh())


@pytest.mark.parametrize("model, why", [
    (OtherEinsum(), r"einsum 'bij,jk->bik' of the input and a tensor computed from parameters"),
    (SquashedOperand(), r"matrix product by a 3x8x5 tensor computed from parameters and buffers only"),
])
def test_other_products_by_a_computed_tensor_are_refused_naming_them(model: nn.Module, why: str) -> None:
    shape = (3, 4) if isinstance(model, OtherEinsum) else (3, 4, 8)
    with pytest.raises(CnnCostError, match=why) as error:
        from_torch(model, shape, tracer="fx")
    assert "\n" not in str(error.value)


class SliceAssignedLogits(RelativePositionEinsum):
    """timm's MViTv2 cal_rel_pos_type whole: the relative positions written into the attention
    logits by a slice assignment, `attn[:, :, s:, s:] = ...` (s = 1 with a class token; with s = 0
    torch.export records a copy into the whole tensor)."""

    def __init__(self, cls: int) -> None:
        super().__init__()
        self.cls = cls

    def forward(self, x):
        b, n, _ = x.shape
        s, h, w = self.cls, self.h, self.w
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn = q @ k.transpose(-2, -1)
        dist_h = torch.arange(h).unsqueeze(-1) - torch.arange(h).unsqueeze(0) + (h - 1)
        dist_w = torch.arange(w).unsqueeze(-1) - torch.arange(w).unsqueeze(0) + (w - 1)
        r_q = q[:, :, s:].reshape(b, self.heads, h, w, -1)
        rel_h = torch.einsum("byhwc,hkc->byhwk", r_q, self.rel_pos_h[dist_h.long()])
        rel_w = torch.einsum("byhwc,wkc->byhwk", r_q, self.rel_pos_w[dist_w.long()])
        attn[:, :, s:, s:] = (attn[:, :, s:, s:].view(b, -1, h, w, h, w) + rel_h.unsqueeze(-1)
                              + rel_w.unsqueeze(-2)).view(b, -1, h * w, h * w)
        return (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)


@pytest.mark.parametrize("cls", [0, 1])
def test_a_slice_assignment_into_the_logits_is_exact(cls: int) -> None:
    net = _exact(SliceAssignedLogits(cls), (12 + cls, 8), "export")  # fx cannot trace item assignment
    joins = [n for n in cnncost.compile(net).nodes if n.type == "concat"]
    # with a class token: the written block joined to the logits' first column, then their first row
    assert [n.output_shape for n in joins] == ([(2, 12, 13), (2, 13, 13)] if cls else [])


class StridedAssignment(nn.Module):
    def forward(self, x):
        y = x * 2
        y[:, ::2] = x[:, ::2] + 1
        return y


def test_a_copy_into_a_strided_slice_is_refused_naming_it() -> None:
    with pytest.raises(CnnCostError, match=r"copy_.*a copy into a strided slice"):
        from_torch(StridedAssignment(), (4, 3), tracer="export")


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_relative_position_products_save_what_pytorch_saves(dtype: str) -> None:
    """Both patterns against PyTorch under CPU bf16 autocast too (the table's low cast is made,
    and saved, once per forward), and the rebuilt check module against the memory rule."""
    for model, shape in ((RelativePositionEinsum(), (12, 8)), (RelativeLogits(), (4, 4, 8))):
        assert_saves_what_torch_saves(model, from_torch(model, shape, tracer="fx"), shape, dtype)
