"""--checkpoint with --accumulate against a real CPU step measured by the live-tensor tracker
(torch 2.13): K micro-steps of a net whose regions run under torch.utils.checkpoint. Exact but for
the loss (4 B after forward; its gradient scalars, at most 8 B, in backward), with batch-norm
buffers and Adam's step counters modelled, not added back."""
import pytest

torch = pytest.importorskip("torch", reason="measuring a step needs cnncost[torch]")

from cnncost.memory import Setup, step_memory  # noqa: E402  (after the importorskip)
from cnncost.memory.checkpoint_policy import resolve  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.build import build_graph  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.checkpointing import apply_checkpoints  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.example_inputs import example_inputs  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.freeze_check import _prepared  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.live import live_step  # noqa: E402  (after the importorskip)
from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, LOSS_BYTES, hold_outputs  # noqa: E402  (after the importorskip)

CASES = [  # (arch, policy, optimizer, K, where the modelled peak is)
    ("resnet18", "every:2", "sgd", 3, "micro-steps 2-3 of 3, backward, layer4.1.residual.conv2"),
    ("vgg11", "all", "sgd", 3, "micro-steps 2-3 of 3, backward, fc7"),
    ("mobilenet-v2", "sqrt", "adamw", 2, "optimizer step"),
]


@pytest.mark.parametrize("arch,policy,optimizer,k,phase", CASES, ids=[f"{c[0]}-{c[1]}-K{c[3]}" for c in CASES])
def test_checkpointed_accumulated_step_against_the_live_tracker(arch, policy, optimizer, k, phase):
    _, graph, _, _, traced = _prepared(arch, (3, 32, 32), "fp32", ())
    regions = tuple(resolve(graph, (policy,)))
    step = step_memory(traced, Setup(optimizer, checkpoint=regions, accumulate=k))
    n, batch = len(traced.steps), 2
    torch.manual_seed(0)
    model = build_graph(graph)
    measured = live_step(model, example_inputs(graph, batch, torch.float32)[0], optimizer, accumulate=k,
                         setup_hook=lambda m: (apply_checkpoints(m, graph, regions), hold_outputs(m)))
    gradients = sum(s.params for s in traced.steps) * 4
    marks = measured.marks
    assert marks["after forward 2"] - marks["after forward 1"] == gradients  # micro-step 2 holds every gradient
    assert step.moment(n - 1).at(batch) == marks["after forward 1"] - LOSS_BYTES
    assert step.moment(step.count // 2 + n - 1).at(batch) == marks["after forward 2"] - LOSS_BYTES
    peak = step.peak(batch)
    assert peak.phase == phase
    assert -DOCUMENTED_BOUND <= peak.at(batch) - measured.peak_bytes <= 0  # the loss's gradient scalars


PLAIN_CASES = [  # (arch, input, batch, policy, where the modelled peak is): one checkpointed step (K = 1)
    ("resnet18", (3, 64, 64), 8, "layer2.1", "backward, layer2.0.residual.conv1"),
    ("vgg11", (3, 32, 32), 2, "all", "backward, stage1.relu1_1"),
    # backward formula temporaries (grad_moments.formula_temporaries): without them these peaks were
    # 2,445,000 B (LRN's division) and 53,256 B (SE's broadcast mul) under the tracker's
    ("googlenet", None, 1, "all", "backward, norm2"),
    ("efficientnet-b0", (3, 64, 64), 2, "sqrt", "backward, stage3.0.se.mul"),
]


@pytest.mark.parametrize("arch,input,batch,policy,phase", PLAIN_CASES, ids=[c[0] for c in PLAIN_CASES])
def test_checkpointed_step_peak_with_the_backward_extras(arch, input, batch, policy, phase):
    """The checkpointed timeline holds what one gradient per storage misses (an in-place ReLU's
    second gradient, gradient sums) as the plain step does: without them (and without the buffers)
    these peaks were 333,480 B (resnet18) and 131,080 B (vgg11: no buffers) under the tracker's."""
    _, graph, _, _, traced = _prepared(arch, input, "fp32", ())
    regions = tuple(resolve(graph, (policy,)))
    step = step_memory(traced, Setup("sgd", checkpoint=regions))
    torch.manual_seed(0)
    model = build_graph(graph)
    measured = live_step(model, example_inputs(graph, batch, torch.float32)[0], "sgd",
                         setup_hook=lambda m: (apply_checkpoints(m, graph, regions), hold_outputs(m)))
    peak = step.peak(batch)
    assert peak.phase == phase
    assert -DOCUMENTED_BOUND <= peak.at(batch) - measured.peak_bytes <= 0  # the loss's gradient scalars
