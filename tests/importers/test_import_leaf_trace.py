"""A function torch.fx keeps as a leaf (torch.fx.wrap, as torchvision's Swin window attention) that
is not traced through (`inline.py`; tests/importers/test_import_inline.py) is traced alone with
make_fx on fake tensors (`tracing.trace_function`) rather than torch.export: the same training-IR
graph, so the same rows and figures as torch.export's, in about half the time."""
from __future__ import annotations

import pytest

import cnncost
from cnncost.spec import dump_spec

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

from import_figures import figures, measured  # noqa: E402  (tests/support)


def _window_mix(x, weight, bias, window: int, shift: int):
    """Swin's pattern: Python on sizes (fx stops), a roll, a mask built in place on a new tensor
    (new_zeros, slice assignment, masked_fill), windows by view and permute, a linear on the tokens."""
    _, H, W, C = x.shape
    if shift >= window:  # a window as large as the map: no shift
        shift = 0
    if shift > 0:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    mask = x.new_zeros((H, W))
    if shift > 0:
        mask[-shift:, :] = 1.0
        mask[:, -shift:] += 2.0
    x = x.view(-1, H // window, window, W // window, window, C).permute(0, 1, 3, 2, 4, 5)
    x = F.linear(x.reshape(-1, (H // window) * (W // window), window * window, C), weight, bias)
    keep = mask.view(H // window, window, W // window, window).permute(0, 2, 1, 3).reshape(-1, window * window)
    x = x * keep.masked_fill(keep != 0, 0.5).masked_fill(keep == 0, 1.0).unsqueeze(-1)
    return x.view(-1, H // window, W // window, window, window, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, C)


torch.fx.wrap("_window_mix")


class Windows(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 2, 2)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.embed(x).permute(0, 2, 3, 1)
        for shift in (0, 2, 0, 2):  # calls of equal shapes and arguments: one trace each
            x = x + _window_mix(x, self.mix.weight, self.mix.bias, 4, shift)
        return self.head(x.mean(dim=(1, 2)))


def test_a_leaf_function_is_traced_with_make_fx_and_gives_exports_rows(monkeypatch) -> None:
    from cnncost.importers.torch import fx_walker

    def not_through(*args, **kwargs):
        raise RuntimeError("not traced through")
    monkeypatch.setattr(fx_walker, "traced", not_through)  # the leaf path, which tracing through replaces
    model = Windows()
    traced: list[str] = []
    real_trace = fx_walker.trace_function

    def counting(fn, args, kwargs):
        traced.append(fn.__name__)
        return real_trace(fn, args, kwargs)
    monkeypatch.setattr(fx_walker, "trace_function", counting)
    net = cnncost.from_torch(model, (3, 16, 16))
    assert traced == ["_window_mix", "_window_mix"]  # (shift 0, shift 2): two keys, two traces
    assert figures(net)[0] == measured(model, (3, 16, 16))[0]

    def refused(fn, args, kwargs):
        raise RuntimeError("make_fx refuses")
    monkeypatch.setattr(fx_walker, "trace_function", refused)  # torch.export's graph, as before
    exported = cnncost.from_torch(model, (3, 16, 16))
    assert dump_spec(net) == dump_spec(exported)
    assert str(cnncost.table(net, batch=2, memory="autograd", device="cpu")) \
        == str(cnncost.table(exported, batch=2, memory="autograd", device="cpu"))
    assert figures(net) == figures(exported)


def _many_ops(q, k, w):
    a = torch.einsum("bhqd,bhkd->bhqk", q, k)
    x = F.layer_norm(a, a.shape[-1:])
    y = F.interpolate(x, scale_factor=2.0) if x.dim() == 4 else x
    z = F.scaled_dot_product_attention(q, k, k)
    g = F.gelu(y) + F.silu(y) + F.hardswish(y)
    n = F.normalize(q, dim=-1)
    return g.sum(-1), z @ w, n.repeat_interleave(2, dim=1), F.group_norm(q, 2), F.batch_norm(q, None, None, training=True)


def test_make_fx_records_the_ops_torch_export_records() -> None:
    """Composite ops (einsum, layer_norm, attention, normalize) stay whole in both graphs: the
    walker's ATen table sees the same calls whichever tracer made the graph."""
    from cnncost.importers.torch.fx_walker import _function_module
    from cnncost.importers.torch.tracing import export_call, trace_function
    args = (torch.randn(2, 4, 8, 16), torch.randn(2, 4, 8, 16), torch.randn(16, 16))
    fast = trace_function(_many_ops, args, {}).graph_module.graph
    exported = export_call(_function_module(_many_ops), args, {}).graph_module.graph

    def calls(graph):
        return [(str(n.target), tuple(n.meta["val"].shape) if hasattr(n.meta.get("val"), "shape") else None)
                for n in graph.nodes if n.op == "call_function"]
    assert calls(fast) == calls(exported)
    assert "aten.einsum.default" in [target for target, _ in calls(fast)]
