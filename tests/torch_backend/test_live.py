"""The live-tensor tracker against figures derived by hand for a two-layer MLP (fp32, batch 4)."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from cnncost.torch_backend.live import live_peak, live_step  # noqa: E402

PARAMS = (100 * 50 + 50 + 50 * 10 + 10) * 4   # fp32 bytes of both layers' weights and biases
INPUT = 4 * 100 * 4                             # the input batch


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 10)), torch.randn(4, 100)


def test_training_step_with_sgd_holds_the_saved_relu_output_then_every_gradient():
    model, x = mlp()
    step = live_step(model, x, "sgd")
    assert step.baseline_bytes == PARAMS + INPUT
    # after forward: ReLU's output (saved by ReLU and by the second linear) and the 4-byte loss
    assert step.marks["after forward"] == PARAMS + INPUT + 4 * 50 * 4 + 4
    # after backward: one gradient per parameter; everything else freed
    assert step.marks["after backward"] == 2 * PARAMS + INPUT
    assert step.marks["after the step"] == PARAMS + INPUT
    assert step.peak_bytes >= step.marks["after backward"]


def test_adam_state_is_part_of_the_baseline():
    model, x = mlp()
    step = live_step(model, x, "adam")
    # exp_avg and exp_avg_sq per parameter, and a 4-byte step counter for each of the 4 tensors
    assert step.baseline_bytes == 3 * PARAMS + INPUT + 4 * 4


def test_inference_holds_an_op_input_and_its_output_at_once():
    model, x = mlp()
    step = live_step(model, x, mode="inference")
    assert step.baseline_bytes == PARAMS + INPUT
    assert step.peak_bytes == PARAMS + INPUT + 2 * (4 * 50 * 4)   # the first linear's output and ReLU's
    assert step.marks["after forward"] == PARAMS + INPUT + 4 * 10 * 4


def test_views_of_held_tensors_and_of_new_ones_are_not_counted_again():
    w = torch.randn(256, 256)

    def fn():
        y = w.t().contiguous()          # 256 KiB new; w.t() is a view of a held tensor
        z = y.view(-1)[:10]             # a view: no new storage
        return z.sum()
    assert live_peak(fn, held=[w]) == 256 * 256 * 4 + 4
