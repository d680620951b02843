"""The import's lean paths give what torch's own give: the path table is named_modules', the
trace's nodes are torch.fx's (arguments, users, module stacks), the meta run makes twins only
where it reads a module's tensors and leaves the module as it was, and an op that fails on meta
tensors as it fails on real ones is the model's own error, refused at once with its op and path."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch importer needs torch")
nn = torch.nn
F = torch.nn.functional

from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.importers import torch_trace  # noqa: E402
from cnncost.importers.torch import meta_run, tracing  # noqa: E402


class Shared(nn.Module):
    """A module reached by three paths, one of them under a module reached twice."""

    def __init__(self) -> None:
        super().__init__()
        conv = nn.Conv2d(3, 3, 1)
        self.a = nn.Sequential(conv, nn.ReLU())
        self.b = nn.Sequential(conv)
        self.c = conv
        self.again = self.a

    def forward(self, x):
        return self.c(self.b(self.a(x)))


def test_the_path_table_is_named_modules() -> None:
    model = Shared()
    table = meta_run.module_table(model)
    assert list(table.items()) == list(model.named_modules(remove_duplicate=False))
    assert list(meta_run.first_paths(table).items()) == list(model.named_modules())


class Calls(nn.Module):
    """Keyword arguments, lists, a parameter read in the forward, nested module calls."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        y = self.stem(x) * self.scale
        y = torch.cat([y, F.relu(y, inplace=False)], dim=1)
        y = y[:, :8].mean(dim=(2, 3), keepdim=False)
        return self.head(y)


def _described(graph) -> list[tuple]:
    return [(n.op, n.name, str(n.target), repr(n.args), repr(n.kwargs), type(n.args), type(n.kwargs),
             sorted(u.name for u in n.users), [i.name for i in n.all_input_nodes],
             list((n.meta.get("nn_module_stack") or {}).items())) for n in graph.nodes]


def test_the_trace_has_torch_fx_nodes_and_module_stacks() -> None:
    model = Calls()
    ours, _ = tracing.trace_module(model)
    theirs = torch.fx.Tracer().trace(model)
    assert _described(ours.graph) == _described(theirs)
    stacks = {}
    for n in ours.graph.nodes:  # the nodes of one module call share one stack object
        held = n.meta.get("nn_module_stack")
        if held is not None:
            assert stacks.setdefault(tuple(held.items()), held) is held


class Unruled(nn.Module):
    """Leaf modules without a shape rule (their forward runs on twins), a parameter read by a
    function, a module passed to a function, and a weight tied between two convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.norm = nn.GroupNorm(2, 8)
        self.act = nn.PReLU(8)
        self.tied = nn.Conv2d(8, 8, 1)
        self.again = nn.Conv2d(8, 8, 1)
        self.again.weight = self.tied.weight
        self.mix = nn.Parameter(torch.randn(8, 8, 1, 1))

    def forward(self, x):
        y = self.act(self.norm(self.conv(x)))
        y = F.conv2d(y, self.mix) + self.again(self.tied(y))
        return torch.utils.checkpoint.checkpoint(self.tied, y, use_reentrant=False)


def test_meta_run_reads_twins_and_puts_the_module_back() -> None:
    model = Unruled().train()
    before = {name: t for name, t in (*model.named_parameters(), *model.named_buffers())}
    values = {name: t.clone() for name, t in before.items()}
    trace, _ = tracing.trace_module(model)
    results: dict = {}
    tracing._on_meta(trace, (3, 6, 6), results)
    real: dict = {}
    tracing._on_real(trace, (3, 6, 6), real)
    assert {n.name: tuple(v.shape) for n, v in results.items() if isinstance(v, torch.Tensor)} == \
        {n.name: tuple(v.shape) for n, v in real.items() if isinstance(v, torch.Tensor)}
    after = dict((*model.named_parameters(), *model.named_buffers()))
    assert all(after[name] is t and torch.equal(t, values[name]) for name, t in before.items())
    assert model.again.weight is model.tied.weight


class TooSmall(nn.Module):
    """A kernel larger than the map it meets: PyTorch's own forward fails at 8x8."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(8, 8, 5))

    def forward(self, x):
        return self.head(self.stem(x))


def test_the_models_own_error_is_refused_at_once_with_op_and_path(monkeypatch) -> None:
    def not_this(*args, **kwargs):
        raise AssertionError("a slower way was tried for an error the forward makes itself")

    monkeypatch.setattr(tracing, "_on_fake", not_this)
    monkeypatch.setattr(tracing, "_on_real", not_this)
    monkeypatch.setattr(torch_trace, "from_exported", not_this)
    monkeypatch.setattr(torch_trace, "raises_the_same", not_this)
    model = TooSmall()
    buffers = [b.clone() for b in model.buffers()]
    for tracer in ("auto", "fx"):
        with pytest.raises(CnnCostError) as info:
            torch_trace.from_torch(model, (3, 8, 8), tracer=tracer)
        message = str(info.value)
        assert message.startswith("TooSmall's forward raises on a 3x8x8 input in torch.nn.modules.conv.Conv2d "
                                  "at module 'head.1': RuntimeError: ")
        assert "Kernel size can't be greater than actual input size" in message and "\n" not in message
    assert all(torch.equal(a, b) for a, b in zip(buffers, model.buffers()))
    assert torch_trace.from_torch(model, (3, 16, 16)).layers  # it imports where it runs


class MetaCannot(nn.Module):
    """`.item()`: no meta tensor can give a value, a real one can. Not the model's error."""

    def forward(self, x):
        return x * x.mean().item()


def test_an_op_only_meta_tensors_cannot_run_falls_back() -> None:
    trace, _ = tracing.trace_module(MetaCannot())
    results = tracing.record(trace, (3, 4, 4))
    assert set(results) == set(trace.graph.nodes)


def _clipped(sizes, x):
    """Writes into its list argument, as torchvision's video Swin does (`_get_window_and_shift_size`)."""
    sizes[0] = min(sizes[0], 4)
    return x[:, :sizes[0]]


torch.fx.wrap("_clipped")


class WritesIntoAList(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        return _clipped([6, 6], self.conv(x)) * 2


def test_an_error_in_the_models_own_function_is_not_judged_by_one_op() -> None:
    """The meta run passes fx's immutable lists, which the function cannot write into (so does a
    real run of the graph); the forward passes a plain list. Only PyTorch's own ops are judged by
    running them alone: the import goes on (the function traced alone with torch.export)."""
    trace, _ = tracing.trace_module(WritesIntoAList())
    results: dict = {}
    with pytest.raises(meta_run.MetaRunFailed) as info:
        tracing._on_meta(trace, (3, 4, 4), results)  # the values up to the failed node
    assert isinstance(info.value.error, TypeError) and info.value.node.target is _clipped
    assert not meta_run.raises_for_real(trace, info.value, results)
    net = torch_trace.from_torch(WritesIntoAList(), (3, 4, 4))
    assert net.layers


class OptionalMask(nn.Module):
    """fx makes `mask` a proxy, so it traces the branch the forward skips without a mask (timm's
    Hiera): the graph's `mask.view` fails on the default None, the forward never runs it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x, mask=None):
        if mask is not None:
            x = x * mask.view(x.shape[0], 1, 1, 1)
        return self.conv(x)


def test_a_branch_the_forward_skips_is_not_its_error() -> None:
    trace, _ = tracing.trace_module(OptionalMask())
    results: dict = {}
    with pytest.raises(meta_run.MetaRunFailed) as info:
        tracing._on_meta(trace, (3, 4, 4), results)
    assert info.value.node.target == "view"
    assert not meta_run.raises_for_real(trace, info.value, results)
    net = torch_trace.from_torch(OptionalMask(), (3, 4, 4))  # torch.export runs the forward as it is
    assert [layer.type_name for layer in net.layers][-1] == "conv"
