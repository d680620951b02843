"""--freeze frees memory as PyTorch does: frozen parameters get no gradient and no optimizer
state, layers before the first trainable one save nothing, and a frozen layer whose input needs a
gradient saves what that gradient needs (measured, torch 2.13 CPU: a conv, batch/layer/group norm
and prelu save as when trainable; a linear, layer scale and a learnable product not their input)."""
import json

import pytest

from cnncost import Conv, Flatten, Linear, Net, ReLU
from cnncost.api import _compile, _setup, _step, load
from cnncost.cli import main
from cnncost.errors import CnnCostError
from cnncost.memory import Precision, step_memory, trace
from cnncost.memory.setup import Setup
from cnncost.memory.trace import frozen_paths


def alexnet_step(freeze=(), dtype="fp32", optimizer="adam"):
    return _step(_compile(load("alexnet"), None, None), dtype, _setup(optimizer, freeze=tuple(freeze)))


def test_setup_refuses_a_bare_string_and_an_empty_pattern():
    with pytest.raises(CnnCostError, match="tuple of layer path patterns"):
        Setup(freeze="conv*")
    with pytest.raises(CnnCostError, match="tuple of layer path patterns"):
        Setup(freeze=("",))


def test_a_pattern_matching_no_layer_is_an_error():
    with pytest.raises(CnnCostError, match="matches no layer"):
        alexnet_step(("features.*",))


def test_layers_before_the_first_trainable_one_save_nothing():
    # alexnet with every conv frozen: only fc6's input (9216), relu6's and relu7's outputs (4096 each)
    # are saved, fp32, per sample (fc6 trainable: its input needs no gradient but its weight does)
    step = alexnet_step(("conv*",))
    assert step.trace.saved().at(1) == (9216 + 4096 + 4096) * 4
    assert all(not s.saved for s in step.trace.steps[:13])


def test_frozen_parameters_get_no_gradient_and_no_optimizer_state():
    conv_params = 34944 + 614656 + 885120 + 1327488 + 884992  # conv1..conv5 (weights and biases)
    plain, frozen = alexnet_step(), alexnet_step(("conv*",))
    opt_plain, opt_frozen = plain.moments[-1].parts, frozen.moments[-1].parts
    assert opt_plain["gradients"].fixed - opt_frozen["gradients"].fixed == conv_params * 4
    assert opt_plain["optimizer state"].fixed - opt_frozen["optimizer state"].fixed == 2 * conv_params * 4  # adam
    assert opt_frozen["parameters"] == opt_plain["parameters"]  # frozen parameters are still held


def test_a_pattern_that_freezes_no_parameters_changes_nothing():
    plain, relus = alexnet_step(), alexnet_step(("relu*",))
    assert relus.totals == plain.totals


def test_a_frozen_linear_between_trainable_ones_saves_no_input_but_its_weight_copy_under_autocast():
    net = Net("mlp", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU(), Flatten(), Linear(out=16),
                                              Linear(out=8), ReLU(), Linear(out=4)])
    graph = _compile(net, None, None)
    frozen = frozen_paths(graph, ("linear4",))
    for dtype in ("fp32", "bf16"):
        plain = trace(graph, precision=Precision(dtype, "cpu")).saved_by_module(1)
        held = trace(graph, precision=Precision(dtype, "cpu"), frozen=frozen).saved_by_module(1)
        assert plain["linear4"] == 16 * (2 if dtype == "bf16" else 4) + (16 * 8 * 2 if dtype == "bf16" else 0)
        # frozen: the input is not saved; under bf16 autocast the weight's copy is (measured, torch 2.13 CPU)
        assert held["linear4"] == (16 * 8 * 2 if dtype == "bf16" else 0)
        assert {p: b for p, b in held.items() if p != "linear4"} == {p: b for p, b in plain.items() if p != "linear4"}


def test_traces_are_kept_per_frozen_set():
    graph = _compile(load("alexnet"), None, None)
    frozen = frozen_paths(graph, ("conv1",))
    assert trace(graph, precision=Precision()) is not trace(graph, precision=Precision(), frozen=frozen)
    assert trace(graph, precision=Precision(), frozen=frozen) is trace(graph, precision=Precision(), frozen=frozen)
    assert step_memory(trace(graph, precision=Precision())).trace.frozen == frozenset()


def test_table_json_states_the_patterns_and_the_param_split(capsys):
    assert main(["table", "alexnet", "--memory", "autograd", "--freeze", "conv*", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    step = record["training_step"]
    assert step["freeze"] == ["conv*"]
    assert step["trainable_params"] + step["frozen_params"] == record["total"]["params"]
    assert step["frozen_params"] == 3747200  # the five convs' weights and biases
    assert record["total"]["saved_bytes"] == 128 * (9216 + 4096 + 4096) * 4


def test_table_text_names_the_frozen_layers(capsys):
    assert main(["table", "alexnet", "--memory", "autograd", "--freeze", "conv*"]) == 0
    assert "Frozen (conv*): 3,747,200 params, trainable 58,631,144" in capsys.readouterr().out


def test_fit_with_frozen_layers_fits_a_larger_batch(capsys):
    plain = main(["fit", "resnet50", "--budget", "24GiB", "--format", "json"])
    plain_batch = json.loads(capsys.readouterr().out)["batch"]
    assert plain == 0
    assert main(["fit", "resnet50", "--budget", "24GiB", "--format", "json", "--freeze", "conv1", "--freeze", "bn1",
                 "--freeze", "layer1.*", "--freeze", "layer2.*"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["freeze"] == ["conv1", "bn1", "layer1.*", "layer2.*"]
    assert record["batch"] > plain_batch


def test_sweep_frees_the_same_memory_as_table():
    import cnncost
    patterns = ("conv1", "bn1", "layer1.*")
    frame = cnncost.sweep("resnet18", batch=64, memory="autograd", freeze=patterns)
    report = cnncost.table("resnet18", batch=64, memory="autograd", freeze=patterns)
    assert int(frame["saved_bytes"].iloc[0]) == report.totals.saved_bytes
    assert int(frame["peak_bytes"].iloc[0]) == report.to_dict()["training_step"]["peak_bytes"]
