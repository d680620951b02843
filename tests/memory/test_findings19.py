"""The five findings of issue 19's differential campaign (random PyTorch nets imported and compared
with the saved tensors of PyTorch 2.13 CPU), each pinned by a test that failed before its fix."""
from __future__ import annotations

import pytest

from cnncost import layers as L
from cnncost.net import Net

torch = pytest.importorskip("torch")
from cnncost.torch_backend import check  # noqa: E402


def saved_mismatches(net: Net, dtype: str) -> list[tuple[str, int, int]]:
    result = check(net, batch=2, device="cpu", dtype=dtype, init=False)
    return [(r.path, r.ours, r.torch) for r in result.rows if r.quantity == "saved_bytes" and r.ours != r.torch]


# (a) pixel_shuffle keeps a channels-last input's layout (torch 2.13 CPU: the output of
# F.pixel_shuffle on a (2, 4, 8, 8) channels-last map has strides (256, 1, 16, 1)); a conv on it
# then writes channels last, and a later flatten copies. One output channel (the campaign's case:
# the layout looks ambiguous, the conv still reads it as channels last) and two (the second case).
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("channels", [4, 8])
def test_pixel_shuffle_keeps_channels_last(channels: int, dtype: str) -> None:
    net = Net("ps", input=(channels, 4, 4), layers=(
        L.Conv(out=channels, kernel=1), L.LayerNorm(over="channels"), L.PixelShuffle(factor=2),
        L.Conv(out=3, kernel=1), L.ReLU(), L.Flatten(), L.Linear(out=2)))
    assert saved_mismatches(net, dtype) == []


# (b) batch norm without an affine weight and without running statistics keeps its mean and
# inverse std in the input's dtype under autocast (torch 2.13 CPU bf16: two bf16 (C,) tensors);
# with either fp32 tensor taking part they are fp32 (the mixed-type rule of docs/memory.md).
@pytest.mark.parametrize("affine, track", [(False, False), (True, False), (False, True), (True, True)])
def test_batch_norm_statistics_dtype_follows_what_takes_part(affine: bool, track: bool) -> None:
    from tests.support.import_figures import assert_saves_what_torch_saves

    from cnncost.importers.torch_trace import from_torch
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1),
                                torch.nn.BatchNorm2d(8, affine=affine, track_running_stats=track))
    net = from_torch(model, (3, 4, 4))
    for dtype in ("fp32", "bf16"):
        assert_saves_what_torch_saves(model, net, (3, 4, 4), dtype)


class _InputFirst(torch.nn.Module):
    """forward returns (its input, a conv of it): the main output is the input."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, self.conv(x)


# (c) the net's outputs keep the module's order, the input included: total.output_shape is the
# first output's (the input's (3, 8, 8), not the conv's (5, 6, 6)).
@pytest.mark.parametrize("tracer", ["fx", "export"])
def test_an_input_returned_first_is_the_main_output(tracer: str) -> None:
    import cnncost
    from cnncost.importers.torch_trace import from_torch
    net = from_torch(_InputFirst(), (3, 8, 8), tracer=tracer)
    assert net.outputs == ("input", "conv")
    assert cnncost.table(net, batch=2).totals.output_shape == (3, 8, 8)
    assert cnncost.table(net, batch=2, memory="autograd", device="cpu").totals.saved_bytes == 2 * 3 * 8 * 8 * 4


# (d) the output of a bias-free conv whose input needs no gradient (its grad_fn's one parent is the
# weight's cast) is an activation, not a parameter's cast: SavedBytes.total() counts it. A linear's
# weight.t() view of its cast is still a cast.
def test_a_conv_output_is_not_a_weight_cast() -> None:
    from cnncost.torch_backend.measure import saved_tensors
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 4 * 4, 2))
    saved = saved_tensors(model, torch.randn(2, 3, 6, 6), torch.bfloat16)
    kinds = {(t.path, t.shape): t.kind for t in saved.tensors}
    assert kinds[("1", (2, 4, 4, 4))] == "activation"  # BN's input: the conv's bf16 output
    assert kinds[("0", (4, 3, 3, 3))] == kinds[("3", (64, 2))] == "parameter-cast"  # conv's weight, linear's weight.t()
    # measured, torch 2.13 CPU bf16: the input's bf16 cast (432 B), the conv's output (256 B), BN's fp32 mean
    # and inverse std (16 B each), the linear's input (256 B)
    assert saved.total() == 432 + 256 + 16 + 16 + 256


# (e) batch norm saves its running mean and variance for backward (torch 2.13 CPU: two fp32 (C,)
# buffers, by reference); saved bytes leave them out, as they leave out the weights, and the text
# says so with their size, measured here.
def test_saved_bytes_say_they_leave_out_the_running_statistics() -> None:
    import cnncost
    from cnncost.formatting import binary_bytes
    from cnncost.importers.torch_trace import from_torch
    from cnncost.torch_backend.measure import saved_tensors
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1), torch.nn.BatchNorm2d(8), torch.nn.Conv2d(8, 4, 1),
                                torch.nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4, track_running_stats=False))
    buffers = saved_tensors(model, torch.randn(2, 3, 4, 4)).by_kind()["buffer"]
    assert buffers == 2 * (8 + 4) * 4
    text = cnncost.table(from_torch(model, (3, 4, 4)), batch=2, memory="autograd", device="cpu").to_text()
    line = next(line for line in text.splitlines() if line.startswith("Saved for backward"))
    assert f"not counted: the batch norm running statistics autograd also saves, {binary_bytes(buffers)}" in line
    plain = cnncost.table(from_torch(model[:1], (3, 4, 4)), batch=2, memory="autograd", device="cpu").to_text()
    assert "not counted" not in plain
