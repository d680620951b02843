"""The step timeline (cnncost.memory.step) against a real CPU step measured by the live-tensor
tracker (cnncost.torch_backend.live): the peak and the bytes after forward, after backward and
after the step, exact but for the loss's gradient scalars (`DOCUMENTED_BOUND`): batch-norm buffers and
Adam's step counters are modelled parts, compared as they are, not added back.
Each case is chosen so that one cause sets the measured peak: without its fix the case fails."""
import pytest

torch = pytest.importorskip("torch", reason="comparing with PyTorch needs cnncost[torch]")

from cnncost.api import load  # noqa: E402
from cnncost.memory.grad_moments import accumulations, backward_extras, gradient_sums, in_place_gradients  # noqa: E402
from cnncost.memory.optimizer_step import optimizer_temporaries, parameter_tensors  # noqa: E402
from cnncost.memory.tensors import Precision  # noqa: E402
from cnncost.memory.trace import trace  # noqa: E402
from cnncost.torch_backend.build import build  # noqa: E402
from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, compare_step  # noqa: E402


def _assert_exact(r):
    residuals = r.residuals()
    for point in ("after forward", "after backward", "after the step"):
        assert residuals[point] == 0, (point, residuals)
    assert -DOCUMENTED_BOUND <= residuals["peak"] <= 0, residuals  # the loss's gradient scalars


# (net, batch, input, dtype, optimizer, where the modelled peak is): each sets its peak by one cause
CASES = [
    # CPU Adam's per-parameter loop: two copies of the largest weight and the previous parameter's
    # denominator (CUDA's foreach copy of all parameters would be 2.4x too much here, none 9.4 MB short)
    ("resnet18", 2, (3, 32, 32), "fp32", "adam", "optimizer step"),
    ("resnet18", 2, (3, 32, 32), "fp32", "adamw", "optimizer step"),
    # ReLU(inplace=True): the gradient after and before the op, two tensors of one storage
    ("vgg11", 2, (3, 32, 32), "fp32", "sgd", "backward, stage1.relu1_1"),
    # a block input read by the residual branch and the downsampling shortcut: partial, old and sum
    ("resnet18", 8, (3, 64, 64), "fp32", "momentum", "backward, layer2.0.residual.conv1"),
    # an inception block's concat: its gradient held until the last branch has used its view
    ("googlenet", 1, None, "fp32", "sgd", "backward, inception4d.branch2.reduce"),
    # dense blocks: views released where they are summed with an earlier concat's partial
    ("densenet121", 2, (3, 64, 64), "fp32", "sgd", "backward, features.transition2.relu"),
    # SE's `x * gate`: the gate's gradient is a full-size product summed down (32,840 B under without it)
    ("efficientnet-b0", 2, None, "fp32", "adam", "backward, stage7.0.se.mul"),
    # LRN's division: three temporaries of the output's size (13,762,568 B under without, peak at pool2)
    ("alexnet-grouped", 8, None, "fp32", "sgd", "backward, norm2"),
    # an add hands its output's gradient itself to both inputs: the se.mul output's gradient is the
    # block input's (one map over at se.mul without it, with the broadcast product modelled)
    ("se-resnet50", 4, (3, 96, 96), "fp32", "sgd", "backward, layer3.0.residual.conv1"),
]


@pytest.mark.parametrize("arch,batch,input,dtype,optimizer,phase", CASES,
                         ids=[f"{c[0]}-b{c[1]}-{c[3]}-{c[4]}" for c in CASES])
def test_step_matches_a_measured_cpu_step(arch, batch, input, dtype, optimizer, phase):
    r = compare_step(arch, batch=batch, input=input, dtype=dtype, optimizer=optimizer)
    _assert_exact(r)
    assert r.peak_phase == phase


def test_buffers_and_adam_step_counters_are_modelled_as_torch_holds_them():
    """From the torch module itself: resnet18's 20 batch norms hold running mean and variance (fp32)
    and an int64 counter, 38,560 B; CPU Adam one fp32 step per parameter tensor (62), 248 B. On
    CUDA the step counters are CPU tensors (not capturable, not fused): no device bytes."""
    from cnncost.memory import Setup, step_memory
    from cnncost.memory.optimizer_step import step_counters
    model = build(load("resnet18"), init=False)
    assert sum(b.untyped_storage().nbytes() for b in model.buffers()) == 38_560
    assert len(list(model.parameters())) == 62
    t = trace(load("resnet18"), precision=Precision("fp32", device="cpu"))
    assert sum(t.buffer_sizes()) == 38_560 and step_counters(t, "adam") == 248 and step_counters(t, "sgd") == 0
    parts = step_memory(t, Setup("adam")).moment(0).parts
    assert parts["buffers"].fixed == 38_560
    assert parts["optimizer state"].fixed == 2 * sum(s.params for s in t.steps) * 4 + 248
    cuda = trace(load("resnet18"), precision=Precision("fp32", device="cuda"))
    assert step_counters(cuda, "adam") == 0 and sum(cuda.buffer_sizes()) == 38_560


def test_cpu_adam_temporaries_are_two_of_the_largest_weight_and_the_one_before():
    """resnet18: the largest tensor is layer4's 512x512x3x3 conv weight (2,359,296 elements), the
    one before it in registration order its preceding batch norm's bias (512)."""
    t = trace(load("resnet18"), precision=Precision("fp32", device="cpu"))
    model = build(load("resnet18"), init=False)
    assert parameter_tensors(t) == [p.numel() for p in model.parameters()]
    assert optimizer_temporaries(t, "adam", 1) == (2 * 2_359_296 + 512) * 4
    assert optimizer_temporaries(t, "sgd", 0) == optimizer_temporaries(t, "momentum", 0) == 0
    cuda = trace(load("resnet18"), precision=Precision("fp32", device="cuda"))
    assert optimizer_temporaries(cuda, "adam", 1) == sum(p.numel() for p in model.parameters()) * 4


def test_backward_extras_of_resnet18():
    """Per sample, fp32, 3x64x64: the stem's in-place ReLU a second 64x32x32 gradient; layer1.0's
    conv1 the sum of the block input's gradients (64x16x16: the shortcut's is an alias of the
    add's, so the partial beside it, S); layer2.0's conv1 its partial S at its node, then, once its
    own output's gradient (128x8x8) is freed, the old, the new and their sum: 2S less that gradient,
    more than S at every batch, so its node's moment takes it."""
    t = trace(load("resnet18").with_input((3, 64, 64)), precision=Precision("fp32", device="cpu"))
    paths = [s.path for s in t.steps]
    inplace, sums = in_place_gradients(t)[0], accumulations(t)[0]
    assert inplace[paths.index("relu")] == 64 * 32 * 32 * 4
    assert sums[paths.index("layer1.0.residual.conv1")] == 64 * 16 * 16 * 4
    conv1 = paths.index("layer2.0.residual.conv1")
    assert sums[conv1] == 64 * 16 * 16 * 4
    dominating, own = gradient_sums(t, backward_extras(t))
    assert dominating[conv1] == (2 * 64 * 16 * 16 * 4 - 128 * 8 * 8 * 4, 0) and own == {}
    assert sums[paths.index("layer2.0.residual.shortcut.conv")] == 0  # the last reader: the first to arrive


def test_a_gradient_sum_crossing_its_node_gets_a_moment_of_its_own():
    """resnet50 bf16 at 64x64: layer2.1.residual.conv1's sum (of the block input's gradients,
    512x8x8) comes after its node freed its output's gradient (per sample) and its bf16 weight
    copy (128x512, fixed): below the node at batch 1, above it at large batches, so a moment of
    its own after the node, holding the old gradient, the new partial and their sum."""
    from cnncost.memory import Setup, step_memory
    t = trace(load("resnet50").with_input((3, 64, 64)), precision=Precision("bf16", device="cpu"))
    paths = [s.path for s in t.steps]
    k = paths.index("layer2.1.residual.conv1")
    _, own = gradient_sums(t, backward_extras(t))
    s = 512 * 8 * 8 * 2  # the block input's gradient per sample (bf16)
    assert own[k] == (2 * s, 0)
    step = step_memory(t, Setup("sgd"))
    phases = [step.moment(i).phase for i in range(step.count)]
    i = phases.index("backward, layer2.1.residual.conv1 (gradient sum)")
    node, summed = step.moment(i - 1), step.moment(i)
    assert phases[i - 1] == "backward, layer2.1.residual.conv1" and phases[i + 1].endswith("(into .grad)")
    assert node.parts["weight casts"].fixed - summed.parts["weight casts"].fixed == 128 * 512 * 2
    assert node.at(1) > summed.at(1) and node.at(64) < summed.at(64)


# The moment after a node (grad_settling.py): a conv's or linear's bf16 weight gradient cast to the
# fp32 .grad beside it; a channels-last weight gradient copied into the parameter's layout. Fixed
# bytes where the node freed bytes per sample: exact at two batches only with a moment of their own.
# Before it: resnet18 bf16 b4 +65,528 B (the fp32 gradient held from the node's start), convnext-tiny
# fp32 b2 -205,856 B (the copy left out), bf16 b2 -460,552 B (both) and after forward +6,144 B
# (the head's fp32 layer norm output, read by the classifier through a low cast, freed as forward returns).
SETTLING = [
    ("resnet18", 4, (3, 64, 64), "bf16", "backward, layer2.0.residual.conv2 (into .grad)"),
    ("resnet18", 8, (3, 64, 64), "bf16", "backward, layer3.0.residual.conv2 (into .grad)"),
    # a gradient sum after the node that freed autocast's weight copy (resnet50 bf16 b2: 65,536 B over
    # before, the sum counted beside layer2.0.residual.conv1's bf16 weight copy)
    ("resnet50", 2, (3, 64, 64), "bf16", "backward, layer2.0.residual.conv1"),
    ("resnet50", 4, (3, 64, 64), "bf16", "backward, layer3.0.residual.conv2 (into .grad)"),
    ("convnext-tiny", 2, (3, 64, 64), "fp32", "backward, features.4.1 (into .grad)"),
    ("convnext-tiny", 3, (3, 64, 64), "fp32", "backward, features.4.1 (into .grad)"),
    ("convnext-tiny", 2, (3, 64, 64), "bf16", "backward, features.4.1 (into .grad)"),
    ("convnext-tiny", 3, (3, 64, 64), "bf16", "backward, features.4.1 (into .grad)"),
]


@pytest.mark.parametrize("arch,batch,input,dtype,phase", SETTLING, ids=[f"{c[0]}-b{c[1]}-{c[3]}" for c in SETTLING])
def test_gradients_settling_after_their_node_are_exact_at_two_batches(arch, batch, input, dtype, phase):
    r = compare_step(arch, batch=batch, input=input, dtype=dtype, optimizer="sgd")
    _assert_exact(r)
    assert r.peak_phase == phase
