"""Autocast's weight copies against PyTorch (torch 2.13 CPU, bf16 autocast): a parameter is cast
once per forward and the copy cached (torch's autocast_mode.cpp `cached_cast`: only leaf tensors
that require grad), so a module called again reuses its first call's copy; a weight computed from
parameters is cast anew each forward and saved like an activation, never cached."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncost.importers.torch_trace import from_torch  # noqa: E402
from cnncost.memory import Precision, Setup, trace  # noqa: E402
from cnncost.memory.step import step_memory  # noqa: E402
from cnncost.torch_backend.check import SAVED_BASIS  # noqa: E402
from cnncost.torch_backend.measure import saved_tensors  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "importers"))
from test_import_constants import StdConvNet  # noqa: E402

BF16 = Precision("bf16", device="cpu")


class LinearThrice(nn.Module):
    """fc applied three times to a tensor that needs a gradient: each call saves the weight's copy,
    the same cached storage."""

    def __init__(self) -> None:
        super().__init__()
        self.pre, self.fc = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.fc(self.fc(self.pre(x))))


class LinearFirstOnTheInput(nn.Module):
    """fc first on the input (no gradient: addmm keeps the weight's copy in the cache only), then
    again on a tensor that needs one: that call saves the cached copy."""

    def __init__(self) -> None:
        super().__init__()
        self.fc, self.g = nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(self.g(self.fc(x)))


class ConvTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return self.c(self.c(x))


def _by_module(predicted: dict[str, int]) -> dict[str, int]:
    """The engine's bytes per row summed per torch module (`fc@1` is a call of `fc`)."""
    out: dict[str, int] = {}
    for path, value in predicted.items():
        module = path.split("@")[0]
        out[module] = out.get(module, 0) + value
    return out


CALLED_AGAIN = [(LinearThrice, (8,), 8 * 8 + 8), (LinearFirstOnTheInput, (8,), 8 * 8 + 8),
                (ConvTwice, (4, 5, 5), 4 * 4 * 9 + 4)]


@pytest.mark.parametrize("model,shape,cast", CALLED_AGAIN, ids=[m.__name__ for m, _, _ in CALLED_AGAIN])
def test_a_module_called_again_reuses_its_cached_weight_copy(model, shape, cast) -> None:
    m = model()
    traced = trace(from_torch(m, shape), precision=BF16)
    measured = saved_tensors(m, torch.randn(2, *shape), torch.bfloat16)
    assert _by_module(traced.saved_by_module(2)) == measured.by_path(SAVED_BASIS)
    assert traced.weight_casts().at(2) == measured.by_kind()["parameter-cast"]
    # the cast cache holds the module's copies once (its weight and bias, 2 bytes each), however
    # many calls read them
    owned = [s for s in traced.steps if s.path.split("@")[0] in ("fc", "c")]
    assert sum(s.new_casts for s in owned) == cast
    assert step_memory(traced, Setup(mode="inference")).parts["weight casts"][1][-1] == 2 * (
        cast + sum(p.numel() for n, p in m.named_parameters() if not n.startswith(("fc", "c."))))


def test_a_computed_weight_is_no_cached_parameter_copy() -> None:
    """StdConvNet's convolutions take weights standardised each forward: autocast casts them anew
    (saved as activations: the table's saved bytes), so the weight casts are the linear's copy
    alone (measured: parameter-cast bytes), and the cast cache holds the linear's weight and bias
    and the grouped conv's bias only, at every moment of the step (the peak counted each conv's
    low weight twice: once saved, once as a cached copy)."""
    m = StdConvNet()
    traced = trace(from_torch(m, (3, 10, 10), tracer="fx"), precision=BF16)
    kinds = saved_tensors(m, torch.randn(2, 3, 10, 10), torch.bfloat16).by_kind()
    assert traced.weight_casts().at(2) == kinds["parameter-cast"] == 2 * 4 * 8
    assert traced.saved().at(2) == kinds["activation"] + kinds["input"]
    cached = 2 * (4 * 8 + 4 + 8)  # fc's weight and bias, conv's bias (bf16)
    train = step_memory(traced, Setup()).parts["weight casts"][1]
    assert max(train) == cached
    assert step_memory(traced, Setup(mode="inference")).parts["weight casts"][1][-1] == cached


class BlurAfterConv(nn.Module):
    """timm's anti-aliasing: F.conv2d with a buffer as the weight (a `fixed` row)."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("filt", torch.ones(4, 1, 3, 3) / 9)

    def forward(self, x):
        return nn.functional.conv2d(self.c(x), self.filt, groups=4, padding=1)


def test_a_buffer_weight_is_cast_anew_and_saved_as_an_activation() -> None:
    """Autocast caches casts of parameters only: the blur filter's low copy (36 elements, 2 bytes)
    is a new tensor each forward, saved by the convolution as an activation (the table's saved
    bytes: activation + input), and never in the cast cache; the weight casts are conv c's alone."""
    m = BlurAfterConv()
    traced = trace(from_torch(m, (3, 6, 6)), precision=BF16)
    measured = saved_tensors(m, torch.randn(2, 3, 6, 6), torch.bfloat16)
    kinds = measured.by_kind()
    assert traced.saved().at(2) == kinds["activation"] + kinds["input"]
    assert traced.weight_casts().at(2) == kinds["parameter-cast"] == 2 * 4 * 3 * 9
    assert sum(traced.saved_by_module(2).values()) == sum(measured.by_path(SAVED_BASIS).values())
    assert step_memory(traced, Setup(mode="inference")).parts["weight casts"][1][-1] == 2 * (4 * 3 * 9 + 4)


def test_check_does_not_gate_saved_bytes_where_the_rebuild_cannot_share() -> None:
    """`check` rebuilds a shared call with buffer copies of its parameters: PyTorch casts those anew
    (no cache hit) and, for a linear, saves otherwise; its saved bytes there are information (a
    note says why), the real network is the reference (test above)."""
    from cnncost.torch_backend import check
    result = check(from_torch(ConvTwice(), (4, 5, 5)), batch=2, device="cpu", dtype="bf16")
    assert result.ok and any("saved bytes not gated" in note for note in result.notes)
    row = next(r for r in result.rows if r.path == "c@1" and r.quantity == "saved_bytes")
    assert (row.ours, row.torch, row.exact) == (400, 688, False)  # 688: the buffer copy's cast, saved anew
