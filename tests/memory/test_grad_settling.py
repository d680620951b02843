"""How parameter gradients settle after their node (cnncost.memory.grad_settling), from the
trace alone: figures derived by hand from the probe of docs/memory.md ("The step on CPU,
measured"; torch 2.13 CPU: weight then bias; a bf16 gradient cast beside it; a channels-last
weight gradient copied)."""
import cnncost
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.memory.grad_moments import backward_extras, gradient_sums
from cnncost.memory.grad_settling import arrivals, settling


def _convnext(dtype):
    return trace(cnncost.load("convnext-tiny").with_input((3, 64, 64)), precision=Precision(dtype, "cpu"))


def test_channels_last_downsampling_conv_copies_its_weight_gradient():
    """features.2.1: a 2x2 conv from 96 to 192 channels reading LayerNorm2d's channels-last map.
    fp32: after its node the channels-last gradient and its copy (2 x 4W) beside the bias's (4B);
    bf16: the copy (8W) beside the bias's bf16 gradient (2B), more than the weight's cast (2W + 4W)."""
    w, b = 192 * 96 * 2 * 2, 192
    for dtype, first, later in (("fp32", 8 * w + 4 * b, 4 * w + 4 * b), ("bf16", 8 * w + 2 * b, 6 * w + 2 * b)):
        t = _convnext(dtype)
        k = [s.path for s in t.steps].index("features.2.1")
        assert arrivals(t.steps[k], dtype == "bf16") == [(w, dtype == "bf16", True), (b, dtype == "bf16", False)]
        node, after = settling(t)
        assert node[k] == (4 if dtype == "fp32" else 2) * (w + b)
        assert after[k] == (first, later)


def test_depthwise_and_pointwise_convs_need_no_copy():
    """A depthwise 7x7 (weight dim 1 of size 1) and any 1x1 kernel keep the contiguous strides
    where sizes are above 1: no copy, so no moment after their node in fp32."""
    t = _convnext("fp32")
    node, after = settling(t)
    paths = [s.path for s in t.steps]
    assert sorted(paths[k] for k in after) == ["features.2.1", "features.4.1", "features.6.1"]
    depthwise = [k for k, s in enumerate(t.steps) if s.type == "conv" and s.layer.groups > 1]
    assert len(depthwise) == 18 and all(t.steps[k].output.channels_last and k not in after for k in depthwise)


def test_the_moment_after_a_node_in_the_timeline():
    """resnet18 bf16: every conv and the fc get a moment after their node, where the step's own
    saved tensors, weight copy and output gradient are gone and its gradients are fp32 beside the
    weight's bf16 one; in fp32 the axis is the plain 2n + 1 (its gradient sums hold more than
    their node at every batch: the node's moment takes them)."""
    t = trace(cnncost.load("resnet18"), precision=Precision("bf16", "cpu"))
    step = step_memory(t, Setup("sgd"))
    n = len(t.steps)
    matmuls = sum(s.type in ("conv", "linear") for s in t.steps)
    sums = gradient_sums(t, backward_extras(t))[1]  # gradient sums with a moment of their own
    assert [t.steps[k].path for k in sums] == ["layer3.0.residual.conv1", "layer4.0.residual.conv1"]
    assert step.count == 2 * n + 1 + matmuls + len(sums)
    phases = [step.moment(i).phase for i in range(step.count)]
    i = phases.index("backward, fc (into .grad)")
    assert phases[i - 1] == "backward, fc"
    node, after = step.moment(i - 1), step.moment(i)
    w, b = 512 * 1000, 1000
    assert node.parts["gradients"].fixed == 2 * (w + b)
    assert after.parts["gradients"].fixed == 6 * w + 2 * b
    assert node.parts["weight casts"].fixed - after.parts["weight casts"].fixed == 2 * w  # fc's copy freed
    assert node.parts["saved for backward"].per_sample - after.parts["saved for backward"].per_sample == 512 * 2
    assert node.parts["activation gradients"].per_sample - after.parts["activation gradients"].per_sample == 1000 * 2
    fp32 = step_memory(trace(cnncost.load("resnet18"), precision=Precision("fp32", "cpu")), Setup("sgd"))
    assert fp32.count == 2 * n + 1


def test_fit_lands_on_a_settling_moment_and_is_verified_there():
    """convnext-tiny bf16 (CUDA, SGD) peaks where a downsampling conv's gradient settles at small
    batches (features.6.1: its channels-last gradient copied, 8 B per weight element): fit's
    answer is the largest batch whose peak is within the budget, the next one's is not, and the
    JSON shows the same peak as the table at that batch."""
    budget = 600 * 2**20
    f = cnncost.fit("convnext-tiny", budget, dtype="bf16", optimizer="sgd")
    at = cnncost.table("convnext-tiny", batch=f.batch, dtype="bf16", optimizer="sgd", memory="autograd")
    after = cnncost.table("convnext-tiny", batch=f.batch + 1, dtype="bf16", optimizer="sgd", memory="autograd")
    step = at.to_dict()["training_step"]
    assert f.batch == 7 and f.peak.phase == step["phase"] == "backward, features.6.1 (into .grad)"
    assert f.peak_bytes == step["peak_bytes"] <= budget < after.to_dict()["training_step"]["peak_bytes"]
