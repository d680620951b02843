"""A Python function torch.fx keeps as one call (torch.fx.wrap: torchvision's Swin window attention)
is traced through at the torch level on value-carrying proxies (`importers/torch/inline.py`) and
walked in place by the fx walker: Python on sizes takes the traced values, sizes stay nodes (the
batch is never a literal: the figures are exact at batch 1 and 2), equal calls share one trace,
and what the walk cannot take falls back to the call exported alone."""
from __future__ import annotations

import pytest

import cnncost

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

from import_figures import assert_imports_exactly, figures  # noqa: E402  (tests/support)


def _shifted_windows(x, weight, bias, window: list, shift: int):
    """Swin's window attention in small: the batch from x.shape in views that fold it into the
    windows and back, padding and a shift decided by Python on sizes, a mask built in place on a
    new tensor (new_zeros, slice assignment, +=, masked_fill), the token count from x.size()."""
    B, H, W, C = x.shape
    pad_r, pad_b = (window[0] - W % window[0]) % window[0], (window[0] - H % window[0]) % window[0]
    if pad_r > 0 or pad_b > 0:
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
    _, Hp, Wp, _ = x.shape
    if window[0] >= Hp:  # a window as large as the map: no shift
        shift = 0
    if shift > 0:
        x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    n = (Hp // window[0]) * (Wp // window[0])
    x = x.view(B, Hp // window[0], window[0], Wp // window[0], window[0], C).permute(0, 1, 3, 2, 4, 5)
    x = F.linear(x.reshape(B * n, window[0] * window[0], C), weight, bias)
    if shift > 0:
        mask = x.new_zeros((Hp, Wp))
        mask[-shift:, :] = 1.0
        mask[:, -shift:] += 2.0
        keep = mask.view(Hp // window[0], window[0], Wp // window[0], window[0]).permute(0, 2, 1, 3)
        keep = keep.reshape(n, window[0] * window[0])
        keep = keep.masked_fill(keep != 0, 0.5).masked_fill(keep == 0, 1.0)
        x = (x.view(x.size(0) // n, n, x.size(1), C) * keep.unsqueeze(-1)).view(-1, x.size(1), C)
    x = x.view(B, Hp // window[0], Wp // window[0], window[0], window[0], C).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(B, Hp, Wp, C)
    if shift > 0:
        x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
    return x[:, :H, :W, :].contiguous()


torch.fx.wrap("_shifted_windows")


def _addmm_tokens(x, weight, bias):
    """torch.addmm, which the fx walker's tables do not map (torch.export's ATen table does)."""
    B, H, W, C = x.shape
    return torch.addmm(bias, x.reshape(B * H * W, C), weight.t()).view(B, H, W, -1)


torch.fx.wrap("_addmm_tokens")


class Windows(nn.Module):
    def __init__(self, window: int = 4, addmm: bool = False):
        super().__init__()
        self.window, self.addmm = window, addmm
        self.embed = nn.Conv2d(3, 8, 2, 2)
        self.mix = nn.Linear(8, 8)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.embed(x).permute(0, 2, 3, 1)
        for shift in (0, 2, 0, 2):  # equal calls: one trace per (shift, shape)
            x = x + _shifted_windows(x, self.mix.weight, self.mix.bias, [self.window, self.window], shift)
        if self.addmm:
            x = _addmm_tokens(x, self.mix.weight, self.mix.bias)
        return self.head(x.mean(dim=(1, 2)))


def _no_export(monkeypatch) -> None:
    """make_fx and torch.export of a leaf call fail the test: the call must be traced through."""
    from cnncost.importers.torch import fx_walker

    def refused(*args, **kwargs):
        raise AssertionError("the leaf function was traced alone")
    monkeypatch.setattr(fx_walker, "_leaf_program", refused)


@pytest.mark.parametrize("shape", [(3, 16, 16), (3, 16, 12), (3, 6, 6)])  # 8x6: padded; 3x3: one window, no shift
def test_a_wrapped_function_is_traced_through_exactly_at_batch_1_and_2(monkeypatch, shape) -> None:
    _no_export(monkeypatch)
    model = Windows(window=4)
    net = assert_imports_exactly(model, shape, "fx", batches=(1, 2))
    assert "torch.export" not in net.notes  # nothing was exported alone


def test_equal_calls_share_one_trace(monkeypatch) -> None:
    from cnncost.importers.torch import inline
    traced: list[int] = []
    real = inline.trace_call

    def counting(fn, args, kwargs, results, stack):
        traced.append(args[-1])
        return real(fn, args, kwargs, results, stack)
    monkeypatch.setattr(inline, "trace_call", counting)
    net = cnncost.from_torch(Windows(), (3, 16, 16))
    assert traced == [0, 2]  # four calls, two keys (shift 0 and 2): two traces, two copies
    paths = [node.path for node in cnncost.compile(net).nodes]
    assert len(paths) == len(set(paths))  # each copy's rows its own


def test_the_same_figures_as_the_call_exported_alone(monkeypatch) -> None:
    from cnncost.importers.torch import fx_walker
    model = Windows()
    inlined = cnncost.from_torch(model, (3, 16, 16))

    def refused(*args, **kwargs):
        raise RuntimeError("no tracing through")
    monkeypatch.setattr(fx_walker, "traced", refused)
    exported = cnncost.from_torch(model, (3, 16, 16))
    assert "torch.export" in exported.notes
    assert figures(inlined) == figures(exported)
    for batch in (1, 2):
        ours = cnncost.table(inlined, batch=batch, memory="autograd", device="cpu").totals
        theirs = cnncost.table(exported, batch=batch, memory="autograd", device="cpu").totals
        assert (ours.params, ours.macs, ours.saved_bytes) == (theirs.params, theirs.macs, theirs.saved_bytes)


def test_an_op_the_walk_cannot_take_falls_back_to_the_export(monkeypatch) -> None:
    """torch.addmm inside a traced-through call: the walk starts again with that function's calls
    exported alone (the window function is still traced through), and the import is exact."""
    from cnncost.importers.torch import fx_walker
    exported: list[str] = []
    real = fx_walker._leaf_program

    def counting(node, m, examples):
        exported.append(node.target.__name__)
        return real(node, m, examples)
    monkeypatch.setattr(fx_walker, "_leaf_program", counting)
    model = Windows(addmm=True)
    net = assert_imports_exactly(model, (3, 16, 16), "auto", batches=(1, 2))
    assert exported and set(exported) == {"_addmm_tokens"}  # the window function still traced through
    assert "_addmm_tokens" in net.notes and "torch.export" in net.notes


def test_a_size_from_the_batch_stays_a_node() -> None:
    """The traced-through graph reads the batch through x.shape: no literal 2 (the traced batch)
    stands for it in the views."""
    from cnncost.importers.torch.inline import trace_call
    graph = torch.fx.Graph()
    x, w, b = graph.placeholder("x"), graph.placeholder("w"), graph.placeholder("b")
    values = {x: torch.empty(2, 4, 4, 8, device="meta"), w: torch.empty(8, 8, device="meta"),
              b: torch.empty(8, device="meta")}
    inlined = trace_call(_shifted_windows, (x, w, b, [4, 4], 0), {}, values, {})
    views = [n for n in inlined.graph.nodes if n.op == "call_method" and n.target in ("view", "reshape")]
    assert views and all(isinstance(n.args[1], torch.fx.Node) for n in views)  # B (or B * n): a node
    assert tuple(inlined.values[inlined.result].shape) == (2, 4, 4, 8)


def test_a_computed_tensor_read_by_a_row_lives_as_long_as_the_import() -> None:
    """A storage counted as saved is known by its address: a window mask freed after its row could
    give its address to the next block's mask, which then went uncounted (saved bytes 256 B low in
    some runs, by allocator state). The import keeps every computed value a row read alive."""
    import gc
    import weakref
    from cnncost.importers.torch import charged, constants

    class Walk:  # what `_charged` reads of a walk
        root = nn.Linear(2, 2)
    imp = Walk()
    mask = constants.CV(torch.ones(4, 16, 1))
    alive = weakref.ref(mask.tensor)
    charged.charged_storages(imp, mask)
    del mask
    gc.collect()
    assert alive() is not None
