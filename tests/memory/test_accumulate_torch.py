"""--accumulate (and --freeze) against a real CPU step measured by the live-tensor tracker (torch
2.13): the gradients held by micro-steps 2..K, and the peak. The plain model is off the tracker by
an offset of its own (batch norm's buffers, the loss: not modelled), the same at the end of the
forward pass as at the peak in these nets; accumulation and freezing must not change it."""
import pytest

torch = pytest.importorskip("torch", reason="measuring a step needs cnncost[torch]")

from cnncost.memory import Setup, step_memory  # noqa: E402
from cnncost.torch_backend.build import build  # noqa: E402
from cnncost.torch_backend.example_inputs import example_inputs  # noqa: E402
from cnncost.torch_backend.freeze_check import _prepared, freeze_modules  # noqa: E402
from cnncost.torch_backend.live import live_step  # noqa: E402

CASES = [  # (arch, input, freeze, K): peaks in micro-step 2..K's backward
    ("resnet18", (3, 32, 32), ("conv1", "bn1", "layer1.*"), 2),
    ("mobilenet-v2", (3, 32, 32), ("stem.*", "stage1.*", "stage2.*"), 3),
    ("vgg11", (3, 32, 32), ("stage1.*", "stage2.*"), 3),
    ("resnet18", (3, 32, 32), (), 3),
]


@pytest.mark.parametrize("arch,input,freeze,k", CASES, ids=[f"{a}-K{k}-{len(f)}frozen" for a, _, f, k in CASES])
def test_accumulated_step_against_the_live_tracker(arch, input, freeze, k):
    net, graph, _, frozen, traced = _prepared(arch, input, "fp32", freeze)
    step = step_memory(traced, Setup("sgd", freeze=freeze, accumulate=k))
    n, batch = len(traced.steps), 2
    model = build(net, init=False)
    freeze_modules(model, frozen)
    measured = live_step(model, example_inputs(graph, batch, torch.float32)[0], "sgd", accumulate=k)
    gradients = sum(s.trainable_params for s in traced.steps) * 4
    marks = measured.marks
    assert marks["after backward 1"] - measured.baseline_bytes == gradients
    assert marks["after forward 2"] - marks["after forward 1"] == gradients
    assert step.moments[3 * n - 1].at(batch) - step.moments[n - 1].at(batch) == gradients
    offset = marks["after forward 1"] - step.moments[n - 1].at(batch)
    assert step.peak(batch).phase.startswith("micro-step")
    assert measured.peak_bytes - step.peak(batch).at(batch) == offset + 4  # + 4: the loss's gradient


# Later micro-steps add each new gradient into .grad in place: under autocast the bf16 gradient's
# cast to fp32 still happens after the node (the moment after it), a channels-last copy does not.
# Peak in micro-step 2's backward, exact but for the loss's gradient scalars (measured, torch 2.13 CPU).
SETTLING = [("resnet18", "bf16", 2, "micro-step 2 of 2, backward, layer4.1.residual.conv2 (into .grad)"),
            ("resnet18", "bf16", 4, "micro-step 2 of 2, backward, layer4.1.residual.conv2 (into .grad)"),
            ("convnext-tiny", "fp32", 2, "micro-step 2 of 2, backward, features.7.2.block.5"),
            ("convnext-tiny", "bf16", 2, "micro-step 2 of 2, backward, features.7.2.block.5 (into .grad)")]


@pytest.mark.parametrize("arch,dtype,batch,phase", SETTLING, ids=[f"{a}-{d}-b{b}" for a, d, b, _ in SETTLING])
def test_accumulated_gradients_settling_in_later_micro_steps(arch, dtype, batch, phase):
    from cnncost.api import load
    from cnncost.graph import compile
    from cnncost.memory import Precision, trace
    from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, hold_outputs
    net = load(arch).with_input((3, 64, 64))
    step = step_memory(trace(net, precision=Precision(dtype, "cpu")), Setup("sgd", accumulate=2))
    torch.manual_seed(0)
    x = example_inputs(compile(net), batch, torch.float32)[0]
    measured = live_step(build(net, init=False), x, "sgd", autocast_dtype=torch.bfloat16 if dtype == "bf16" else None,
                         setup_hook=hold_outputs, accumulate=2)
    peak = step.peak(batch)
    assert peak.at(batch) - measured.peak_bytes == -DOCUMENTED_BOUND and peak.phase == phase


@pytest.mark.parametrize("k", [1, 2])
def test_frozen_stage_with_settling_gradients(k):
    """convnext-tiny bf16 with features.5 frozen: the frozen convs make no weight gradient (no cast),
    the others settle after their node; exact but for the loss's gradient scalars (2.3 MB over at
    features.6.1 before the settling moments)."""
    from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, hold_outputs
    freeze = ("features.5.*",)
    net, graph, _, frozen, traced = _prepared("convnext-tiny", (3, 32, 32), "bf16", freeze)
    step = step_memory(traced, Setup("sgd", freeze=freeze, accumulate=k))
    model = build(net, init=False)
    freeze_modules(model, frozen)
    x = example_inputs(graph, 2, torch.float32)[0]
    measured = live_step(model, x, "sgd", torch.bfloat16, accumulate=k, setup_hook=hold_outputs)
    peak = step.peak(2)
    assert peak.at(2) - measured.peak_bytes == -DOCUMENTED_BOUND
    assert peak.phase == ("backward, features.6.1 (into .grad)" if k == 1
                          else "micro-step 2 of 2, backward, features.7.2.block.5 (into .grad)")
