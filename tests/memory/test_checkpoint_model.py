"""Activation checkpointing in the memory model (no torch): which regions each policy names, what
checkpointing does to saved bytes, the step's timeline and training FLOPs, and fit --checkpoint auto.
The figures against PyTorch: test_checkpoint_torch.py and tests/differential/test_checkpoint.py."""
import json

import pytest

import cnncost
from cnncost.api import load
from cnncost.errors import CnnCostError
from cnncost.graph import compile
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.memory.checkpoint import regions, saved
from cnncost.memory.checkpoint_auto import CheckpointFit
from cnncost.memory.checkpoint_policy import chain, resolve
from cnncost.cli import main


def graph(arch):
    return compile(load(arch))


def test_the_chain_of_resnet50_is_its_sixteen_bottlenecks():
    assert [b.path for b in chain(graph("resnet50"))] == [
        f"layer{s}.{i}" for s, n in ((1, 3), (2, 4), (3, 6), (4, 3)) for i in range(n)]


def test_the_chain_goes_through_a_lone_wrapper_block():
    # densenet121's only top-level block is `features`: its blocks are the chain
    assert [b.path for b in chain(graph("densenet121"))] == [
        "features.denseblock1", "features.transition1", "features.denseblock2", "features.transition2",
        "features.denseblock3", "features.transition3", "features.denseblock4"]


def test_a_stage_gives_the_chain_of_its_children():
    assert [b.path for b in chain(graph("resnet50"), "layer4")] == ["layer4.0", "layer4.1", "layer4.2"]


def test_policies():
    g = graph("resnet50")
    assert resolve(g, ["all"]) == tuple(b.path for b in chain(g))
    assert resolve(g, ["every:5"]) == ("layer1.0", "layer2.2", "layer3.3", "layer4.2")
    # 16 blocks: segments of ceil(sqrt(16)) = 4, the last one not checkpointed
    assert resolve(g, ["sqrt"]) == ("layer1.0..layer2.0", "layer2.1..layer3.0", "layer3.1..layer3.4")
    # 3 blocks: segments of 2, the last (layer4.2) left out
    assert resolve(g, ["sqrt:layer4"]) == ("layer4.0..layer4.1",)


def test_patterns_keep_the_outermost_block():
    g = graph("resnet18")
    assert resolve(g, ["layer2.*"]) == ("layer2.0", "layer2.1")
    assert resolve(g, ["layer2", "layer2.1"]) == ("layer2",)


@pytest.mark.parametrize("spec,message", [
    ("layer9.1", "matches no block"), ("every:0", "positive integer"), ("auto", "budget"),
    ("sqrt:nothing", "no block matches the stage")])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(CnnCostError, match=message):
        resolve(graph("resnet18"), [spec])


def test_overlapping_runs_are_refused():
    with pytest.raises(CnnCostError, match="overlap"):
        resolve(graph("resnet18"), ["layer1.0..layer2.0", "layer1.1..layer3.0"])


def fp32_trace(arch="resnet18"):
    return trace(graph(arch), precision=Precision("fp32", "cuda"))


def test_a_regions_ops_save_nothing_but_what_ops_outside_save_stays():
    t = fp32_trace()
    base = step_memory(t, Setup("adam"))
    step = step_memory(t, Setup("adam", checkpoint=("layer2.1",)))
    first, stop = regions(t, ("layer2.1",))[0].first, regions(t, ("layer2.1",))[0].stop
    inside = sum(a for i, a in enumerate(t._saved_columns()[0]) if first <= i < stop)
    # what layer2.1's ops save first (4 maps of 128x28x28 fp32) goes, except its output, which
    # layer3.0's first conv and shortcut save too; its input stays saved by layer2.0's in-place relu
    assert saved(step).per_sample == t.saved().per_sample - inside + 128 * 28 * 28 * 4
    assert saved(base) == t.saved()


def test_the_recompute_comes_right_before_the_backward_of_the_regions_last_saving_op():
    step = step_memory(fp32_trace(), Setup("adam", checkpoint=("layer2.1",)))
    phases = [step.moment(i).phase for i in range(step.count)]
    at = phases.index("recompute layer2.1, layer2.1.residual.conv1")
    # early stop: the add saves nothing; the last saving op is the in-place relu after it
    assert phases[at:at + 8] == [f"recompute layer2.1, layer2.1.{p}" for p in (
        "residual.conv1", "residual.bn1", "residual.relu1", "residual.conv2", "residual.bn2", "residual.add",
        "relu")] + ["backward, layer2.1.relu"]
    assert step.count == 2 * len(step.trace.steps) + 1 + 7


def test_the_recompute_holds_the_regions_saved_tensors_again():
    t = fp32_trace()
    step = step_memory(t, Setup("adam", checkpoint=("layer2.1",)))
    r = regions(t, ("layer2.1",))[0]
    # at the recompute's last moment: what the region's ops save first (its input is first saved before
    # it, by layer2.0's in-place relu): conv1's, bn1's and conv2's outputs and the add's, 128x28x28 each
    inside = sum(a for i, a in enumerate(t._saved_columns()[0]) if r.first <= i < r.stop)
    assert inside == 4 * 128 * 28 * 28 * 4
    phases = [step.moment(i).phase for i in range(step.count)]
    last = phases.index("recompute layer2.1, layer2.1.relu")
    assert step.parts["recomputed"][0][last] == inside


def test_without_checkpoint_nothing_changes():
    t = fp32_trace()
    assert step_memory(t, Setup("adam", checkpoint=())) is step_memory(t, Setup("adam"))
    report = cnncost.table("resnet18", memory="autograd")
    assert "recompute_flops" not in report.to_dict()["total"]
    assert "checkpoint" not in report.to_dict()["training_step"]


def test_recompute_flops_are_the_forward_flops_of_the_ops_run_again_and_count_in_training_flops():
    plain = cnncost.table("resnet18", memory="autograd", batch=8)
    ck = cnncost.table("resnet18", memory="autograd", batch=8, checkpoint=["layer2.1"])
    g = graph("resnet18")
    # every op of layer2.1 runs again (its last op, the relu, saves its output): 2 x its MACs
    macs = sum(n.macs for n in g.nodes if n.path.startswith("layer2.1."))
    assert ck.totals.recompute_flops == 2 * macs * 8
    assert ck.totals.training_flops == plain.totals.training_flops + 2 * macs * 8
    assert ck.totals.saved_bytes < plain.totals.saved_bytes
    record = ck.to_dict()
    assert record["training_step"]["checkpoint"] == ["layer2.1"]
    assert "checkpoint_convention" in record


def test_checkpoint_needs_the_autograd_model():
    with pytest.raises(CnnCostError, match="--memory autograd"):
        cnncost.table("resnet18", checkpoint=["all"])


def test_checkpointing_every_block_lets_a_larger_batch_fit():
    plain = cnncost.fit("resnet50", "24GiB")
    ck = cnncost.fit("resnet50", "24GiB", checkpoint=["all"])
    assert ck.batch > plain.batch


@pytest.mark.parametrize("arch", ["resnet152", "densenet201"])
def test_fit_auto_answer_fits(arch):  # (its speed: benchmarks/bench_guards.py)
    result = cnncost.fit(arch, "40GiB", checkpoint=["auto"])
    assert isinstance(result, CheckpointFit)
    assert result.peak_bytes <= result.budget
    plain = cnncost.fit(arch, "40GiB")
    assert result.batch >= plain.batch
    # its regions, checkpointed by name, give the same step
    again = cnncost.fit(arch, "40GiB", checkpoint=list(result.regions)) if result.regions else plain
    assert again.batch >= result.batch


def test_fit_auto_json_names_the_regions_and_their_cost(capsys):
    assert main(["fit", "resnet50", "--budget", "24GiB", "--checkpoint", "auto", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["checkpoint"]["policy"] == "auto"
    assert record["checkpoint"]["regions"]
    assert record["checkpoint"]["recompute_flops"] > 0
    assert record["batch"] > cnncost.fit("resnet50", "24GiB").batch


def test_table_cli_checkpoint_changes_saved_bytes(capsys):
    assert main(["table", "resnet18", "--memory", "autograd", "--checkpoint", "every:2", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["training_step"]["checkpoint"] == ["layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    assert record["total"]["recompute_flops"] > 0


def test_a_spec_marks_a_block_checkpoint_true():
    from cnncost import Net
    from cnncost.layers import BatchNorm, Conv, GlobalAvgPool, ReLU, Sequential
    layers = [Conv(out=8, kernel=3, padding=1), BatchNorm(), ReLU()]
    marked = Net("n", input=(3, 16, 16), layers=(Conv(out=8, kernel=3, padding=1),
                                                 Sequential(name="block", layers=tuple(layers), checkpoint=True),
                                                 GlobalAvgPool()))
    plain = Net("n", input=(3, 16, 16), layers=(Conv(out=8, kernel=3, padding=1),
                                                Sequential(name="block", layers=tuple(layers)), GlobalAvgPool()))
    assert resolve(compile(marked), []) == ("block",)
    ck = cnncost.table(marked, memory="autograd", batch=4)
    by_option = cnncost.table(plain, memory="autograd", batch=4, checkpoint=["block"])
    assert ck.to_dict()["training_step"] == by_option.to_dict()["training_step"]
    assert ck.totals.recompute_flops == by_option.totals.recompute_flops > 0
    # the lecture's figures ignore the mark
    assert cnncost.table(marked).to_dict() | {"architecture": 0} == cnncost.table(plain).to_dict() | {"architecture": 0}


def test_selective_checkpointing_keeps_conv_outputs_and_recomputes_no_conv():
    plain = cnncost.table("resnet18", memory="autograd", batch=8, checkpoint=["all"])
    kept = cnncost.table("resnet18", memory="autograd", batch=8, checkpoint=["all"], checkpoint_save=["conv"])
    g = graph("resnet18")
    # only the blocks' non-conv ops run again: their MACs (batch norm's, the adds') are none in this count
    convs = {n.path for n in g.nodes if n.type == "conv"}
    assert kept.totals.recompute_flops == 2 * 8 * sum(
        n.macs for n in g.nodes if n.path.startswith("layer") and n.path not in convs)
    assert kept.totals.recompute_flops < plain.totals.recompute_flops
    # the kept outputs count as saved for backward: 8 convs' outputs more than plain checkpointing
    outputs = sum(n.activations for n in g.nodes if n.path.startswith("layer") and n.path in convs) * 4 * 8
    assert kept.totals.saved_bytes == plain.totals.saved_bytes + outputs


def test_checkpoint_save_needs_regions_and_known_types():
    with pytest.raises(CnnCostError, match="give --checkpoint too"):
        cnncost.table("resnet18", memory="autograd", checkpoint_save=["conv"])
    with pytest.raises(CnnCostError, match="allowed: conv, linear"):
        cnncost.table("resnet18", memory="autograd", checkpoint=["all"], checkpoint_save=["relu"])


def test_checkpointing_with_accumulation_is_the_checkpointed_micro_step_twice():
    """--checkpoint with --accumulate K: micro-step 1 is the checkpointed step's forward and backward
    (recompute moments included), micro-steps 2..K the same moments holding every gradient (the
    one a moment's backward makes on top, until AccumulateGrad adds it), then the optimizer step."""
    t = trace(graph("resnet18"), precision=Precision("fp32", "cpu"))
    regions_ = tuple(resolve(graph("resnet18"), ("every:2",)))
    single = step_memory(t, Setup("sgd", checkpoint=regions_))
    acc = step_memory(t, Setup("sgd", checkpoint=regions_, accumulate=3))
    m1 = single.count - 1
    assert m1 > 2 * len(t.steps)  # the recompute moments are there
    assert acc.count == 2 * m1 + 1
    grads = sum(s.params for s in t.steps) * 4
    for i in range(m1):
        moment = single.moment(i)
        made = moment.parts["gradients"].fixed if "gradients" in moment.parts else 0
        step = single.backward_of[i]
        new = t.steps[step].params * 4 if step >= 0 else 0
        assert acc.moment(i).at(8) == moment.at(8)
        assert acc.moment(m1 + i).at(8) == moment.at(8) - made + grads + new
        assert acc.moment(m1 + i).phase == "micro-steps 2-3 of 3, " + moment.phase
    assert acc.moment(2 * m1).at(8) == single.moment(m1).at(8)
    assert acc.recomputed == single.recomputed and acc.saved_columns() == single.saved_columns()
    r = cnncost.table("resnet18", memory="autograd", checkpoint=["every:2"], accumulate=3, optimizer="sgd", batch=8)
    assert r.to_dict()["training_step"]["phase"].startswith("micro-steps 2-3 of 3")
    assert r.totals.saved_bytes == cnncost.table("resnet18", memory="autograd", checkpoint=["every:2"],
                                                 optimizer="sgd", batch=8).totals.saved_bytes


def test_frozen_layers_get_no_gradient_in_a_checkpointed_step():
    """--freeze with --checkpoint: only the trainable parameters get gradients (and state)."""
    t = trace(graph("resnet18"), precision=Precision("fp32", "cpu"), frozen=frozenset({"conv1", "bn1"}))
    step = step_memory(t, Setup("momentum", checkpoint=("layer1.0",), freeze=("conv1", "bn1")))
    trainable = sum(s.trainable_params for s in t.steps) * 4
    assert trainable < sum(s.params for s in t.steps) * 4
    last = step.moment(step.count - 1)
    assert last.parts["gradients"].fixed == trainable and last.parts["optimizer state"].fixed == trainable
