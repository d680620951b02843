"""Relative position logits by tables gathered from parameters, the two patterns issue 18's last
refused models use (each small module compared with PyTorch by check_against: parameter count,
FlopCounterMode's MACs, autograd's saved tensors, CPU fp32):

- torchvision's MViT V2 (models/video/mvit.py `_add_rel_pos`): the time axis as a matmul of q
  permuted to (t, N, heads, h, w, c) and reshaped to (t, N*heads*h*w, c) (the batch folded
  inside the rows, after t) by the table `Rt.transpose(1, 2)`, its result transposed back to
  (N*heads*h*w, t, k) and viewed (N, heads, h, w, t, k);
- timm's Segment Anything ViT (vision_transformer_sam.py `get_decomposed_rel_pos_bias`): the
  einsums "bhwc,hkc->bhwk" and "bhwc,wkc->bhwk" of q with the heads folded into the batch
  (N*heads, h, w, c)."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import cnncost  # noqa: E402
from cnncost.importers.torch_trace import from_torch  # noqa: E402
from import_figures import assert_imports_exactly, assert_saves_what_torch_saves  # noqa: E402  (tests/support)

TRACERS = ["fx", "export"]


def _exact(model: nn.Module, shape: tuple[int, ...], tracer: str, batches: tuple[int, ...] = (2, 3)) -> cnncost.Net:
    return assert_imports_exactly(model, shape, tracer, batches=batches)


def _nodes(net: cnncost.Net, kind: str) -> list:
    return [n for n in cnncost.compile(net).nodes if n.type == kind]


def _distance(q: int, k: int) -> torch.Tensor:
    return (torch.arange(q)[:, None] - torch.arange(k)[None, :] + (k - 1)).long()


def add_rel_pos(attn, q, thw, heads, d, rel_pos_t, rel_pos_h, rel_pos_w):
    """torchvision's `_add_rel_pos` (models/video/mvit.py), the key grid the query's."""
    t, h, w = thw
    B = q.shape[0]
    Rh, Rw, Rt = rel_pos_h[_distance(h, h)], rel_pos_w[_distance(w, w)], rel_pos_t[_distance(t, t)]
    r_q = q[:, :, 1:].reshape(B, heads, t, h, w, d)
    rel_h = torch.einsum("bythwc,hkc->bythwk", r_q, Rh)
    rel_w = torch.einsum("bythwc,wkc->bythwk", r_q, Rw)
    r_q = r_q.permute(2, 0, 1, 3, 4, 5).reshape(t, B * heads * h * w, d)
    rel_t = torch.matmul(r_q, Rt.transpose(1, 2)).transpose(0, 1)
    rel_t = rel_t.view(B, heads, h, w, t, t).permute(0, 1, 4, 2, 3, 5)
    rel = (rel_h[:, :, :, :, :, None, :, None] + rel_w[:, :, :, :, :, None, None, :]
           + rel_t[:, :, :, :, :, :, None, None]).reshape(B, heads, t * h * w, t * h * w)
    attn[:, :, 1:, 1:] += rel
    return attn


torch.fx.wrap("add_rel_pos")  # as torchvision wraps it: fx keeps the call, the importer exports it


class VideoRelPos(nn.Module):
    """torchvision's MultiscaleAttention (no pooling) with `_add_rel_pos`: a class token, then
    t x h x w tokens; q (N, heads, 1 + thw, c) a view of the qkv projection (`norm`: of a layer
    norm's output, contiguous, as the pooled q of MViT V2's blocks)."""

    def __init__(self, t: int = 2, h: int = 2, w: int = 3, c: int = 8, heads: int = 2, norm: bool = False) -> None:
        super().__init__()
        self.thw, self.heads, self.d = (t, h, w), heads, c // heads
        self.qkv = nn.Linear(c, 3 * c)
        self.norm = nn.LayerNorm(c // heads) if norm else None
        self.rel_pos_t = nn.Parameter(torch.randn(2 * t - 1, c // heads))
        self.rel_pos_h = nn.Parameter(torch.randn(2 * h - 1, c // heads))
        self.rel_pos_w = nn.Parameter(torch.randn(2 * w - 1, c // heads))

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.d).transpose(1, 3).unbind(dim=2)
        if self.norm is not None:
            q = self.norm(q)
        attn = torch.matmul(0.5 * q, k.transpose(2, 3))
        attn = add_rel_pos(attn, q, self.thw, self.heads, self.d, self.rel_pos_t, self.rel_pos_h, self.rel_pos_w)
        x = torch.matmul(attn.softmax(dim=-1), v)
        return x.transpose(1, 2).reshape(B, -1, C)


@pytest.mark.parametrize("tracer", ["auto", "export"])  # auto: fx, the wrapped call exported
@pytest.mark.parametrize("norm", [False, True])
def test_mvit_time_axis_product_by_a_gathered_table_is_exact(tracer: str, norm: bool) -> None:
    """(At batch 1 torch's views of q differ: the models assume a batch above 1.)"""
    net = _exact(VideoRelPos(norm=norm), (1 + 2 * 2 * 3, 8), tracer)
    nodes = cnncost.compile(net).nodes
    tables = {n.layer.source: i for i, n in enumerate(nodes) if n.type == "computed"}
    # Rh, Rw as (h, c, k), (w, c, k); Rt as (t, c, k): made once per forward, each 2n - 1 x 4
    # parameter counted once (t, h, w = 2, 2, 3)
    assert {s: (nodes[i].layer.shape, nodes[i].layer.weights) for s, i in tables.items()} == {
        "rel_pos_h": ((2, 4, 2), 12), "rel_pos_w": ((3, 4, 3), 20), "rel_pos_t": ((2, 4, 2), 12)}
    by_time = [n for n in nodes if n.type == "matmul" and tables["rel_pos_t"] in n.inputs]
    # per sample t x (heads h w) rows of c by k: (2, 2 * 2 * 3, 2), each a 4-term dot product
    assert [(n.output_shape, n.macs) for n in by_time] == [((2, 12, 2), 2 * 12 * 2 * 4)]
    # the batch inside the rows: torch's reshape copies r_q with the batch at dim 1
    assert [(n.layer.batch_dim, n.output_shape) for n in nodes if n.type == "contiguous"] == [(1, (2, 2, 2, 3, 4))]


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_mvit_time_axis_saves_what_pytorch_saves(dtype: str) -> None:
    """Against PyTorch's saved tensors under CPU fp32 and bf16 autocast, and the rebuilt check
    module against the memory rule (the table's low cast made once, r_q's copy saved per sample)."""
    model = VideoRelPos(norm=True)
    assert_saves_what_torch_saves(model, from_torch(model, (13, 8), tracer="export"), (13, 8), dtype)


def test_mvit_time_axis_round_trips_through_yaml() -> None:
    net = from_torch(VideoRelPos(), (13, 8), tracer="export")
    again = cnncost.parse_spec(cnncost.dump_spec(net))
    for batch in (1, 3):
        a = cnncost.table(net, batch=batch, memory="autograd").totals
        b = cnncost.table(again, batch=batch, memory="autograd").totals
        assert (a.params, a.macs, a.saved_bytes) == (b.params, b.macs, b.saved_bytes)


class BroadcastTable(nn.Module):
    """r_q (2, t, N*rows, c) by a table (t, c, k): torch.matmul expands the table over the leading
    2 and copies it per call, not a bmm by it in place."""

    def __init__(self) -> None:
        super().__init__()
        self.rel = nn.Parameter(torch.randn(4, 4))

    def forward(self, x):
        B = x.shape[0]
        r = x.permute(1, 2, 0, 3, 4).reshape(2, 3, B * 5, 4)
        return torch.matmul(r, self.rel[_distance(3, 2)].transpose(1, 2))


def test_a_table_broadcast_over_leading_dims_is_refused_naming_it() -> None:
    with pytest.raises(cnncost.CnnCostError, match=r"matmul.*matrix product by a 3x4x2 tensor computed") as error:
        from_torch(BroadcastTable(), (2, 3, 5, 4), tracer="export")
    assert "\n" not in str(error.value)


class SamRelPos(nn.Module):
    """timm's vision_transformer_sam.Attention with `get_decomposed_rel_pos_bias`: q, k, v folded
    (N*heads, L, c) by `reshape(3, B * heads, L, -1).unbind(0)`, q viewed (N*heads, h, w, c) and
    multiplied by the gathered tables, the bias attention's mask."""

    def __init__(self, c: int = 8, heads: int = 2, h: int = 3, w: int = 4) -> None:
        super().__init__()
        self.heads, self.h, self.w = heads, h, w
        self.qkv = nn.Linear(c, 3 * c)
        self.rel_pos_h = nn.Parameter(torch.randn(2 * h - 1, c // heads))
        self.rel_pos_w = nn.Parameter(torch.randn(2 * w - 1, c // heads))

    def forward(self, x):
        B, H, W, _ = x.shape
        N = H * W
        qkv = self.qkv(x.reshape(B, N, -1)).view(B, N, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * self.heads, N, -1).unbind(0)
        h, w = self.h, self.w
        Rh, Rw = self.rel_pos_h[_distance(h, h)], self.rel_pos_w[_distance(w, w)]
        r_q = q.reshape(B * self.heads, h, w, -1)
        rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, Rh)
        rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, Rw)
        bias = (rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).reshape(-1, N, N)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return x.view(B, self.heads, N, -1).transpose(1, 2).reshape(B, N, -1)


@pytest.mark.parametrize("tracer", TRACERS)
def test_sam_einsums_on_q_folded_with_the_heads_are_exact(tracer: str) -> None:
    """Before, the folded q's first dim (the heads) was taken for h: refused as a wrong product."""
    net = _exact(SamRelPos(), (3, 4, 8), tracer)
    einsums = [n for n in _nodes(net, "matmul") if n.path.startswith("einsum")]
    # per sample heads x h x w x k outputs (the w product on q permuted to (heads, w, h, c)), each
    # a 4-term dot product
    assert [(e.output_shape, e.macs) for e in einsums] == [((2, 3, 4, 3), 2 * 3 * 4 * 3 * 4),
                                                           ((2, 4, 3, 4), 2 * 4 * 3 * 4 * 4)]


def test_chunk_count_is_torch_chunks_least_count_without_a_search() -> None:
    """MViT V2 splits its 1 + 8 x 56 x 56 tokens (class token off): the count of torch.chunk
    giving those sizes, once searched over every count (minutes), is computed; it equals that
    search's answer for every split of up to 60."""
    from cnncost.importers.lowering import chunk_count
    from cnncost.layers.reshape import chunk_sizes

    def searched(c: int, sizes: list[int]) -> int | None:
        return next((k for k in range(1, c + 1) if chunk_sizes(c, k) == sizes), None)

    for c in range(1, 61):
        for sizes in [chunk_sizes(c, k) for k in range(1, c + 1)] + [[c - 1, 1], [2, 3], [3, 3, 1], [], [0]]:
            assert chunk_count(c, sizes) == searched(c, sizes), (c, sizes)
    assert chunk_count(25089, [1, 25088]) is None and chunk_count(25089, [12545, 12544]) == 2
