"""--accumulate K: K micro-steps of `batch` samples per optimizer step; gradients held from the
first micro-step's backward to the optimizer step. The timeline against hand-derived figures and
against a real CPU step (the live-tensor tracker)."""
import json

import pytest

from cnncost.api import _compile, _setup, _step, fit, load
from cnncost.cli import main
from cnncost.errors import CnnCostError
from cnncost.memory.setup import Setup


def steps(arch="alexnet", k=2, freeze=(), optimizer="sgd", dtype="fp32"):
    graph = _compile(load(arch), None, None)
    return [_step(graph, dtype, _setup(optimizer, freeze=tuple(freeze), accumulate=j)) for j in (1, k)]


def test_setup_refuses_a_non_positive_count_and_inference():
    for bad in (0, -1, True, 1.5):
        with pytest.raises(CnnCostError, match="positive integer"):
            Setup(accumulate=bad)
    with pytest.raises(CnnCostError, match="needs mode 'train'"):
        Setup(mode="inference", accumulate=2)


def test_the_timeline_is_micro_step_one_then_later_micro_steps_holding_every_gradient():
    plain, accumulated = steps(k=3)
    n = len(plain.trace.steps)
    params = sum(s.params for s in plain.trace.steps) * 4  # fp32 gradients of alexnet, every layer trainable
    assert accumulated.count == 4 * n + 1
    ps, fx = plain.totals
    aps, afx = accumulated.totals
    assert aps == ps[:2 * n] * 2 + ps[2 * n:]
    assert afx[:2 * n] == fx[:2 * n] and afx[-1] == fx[-1]  # micro-step 1 and the optimizer step: a plain step's
    assert [a - f for a, f in zip(afx[2 * n:3 * n], fx[:n])] == [params] * n  # forward of micro-steps 2..K
    # backward of micro-steps 2..K: every gradient, plus the layer's new ones until they are added in place
    own = [s.params * 4 for s in reversed(plain.trace.steps)]
    assert [accumulated.moments[3 * n + j].parts.get("gradients").fixed for j in range(n) if own[j]] == \
        [params + g for g in own if g]
    assert accumulated.moments[2 * n].phase == "micro-steps 2-3 of 3, forward, conv1"
    assert accumulated.moments[0].phase == "micro-step 1 of 3, forward, conv1"
    assert accumulated.moments[-1].phase == "optimizer step"


def test_the_peak_does_not_depend_on_k_beyond_two():
    _, two = steps(k=2)
    _, five = steps(k=5)
    assert two.totals == five.totals


def test_frozen_parameters_are_not_accumulated():
    plain, accumulated = steps(k=2, freeze=("conv*",))
    n = len(plain.trace.steps)
    trainable = sum(s.trainable_params for s in plain.trace.steps) * 4
    assert accumulated.totals[1][2 * n] - plain.totals[1][0] == trainable


def test_fit_gives_the_micro_batch_and_the_global_batch():
    result = fit("resnet50", "24GiB", dtype="bf16", accumulate=4)
    single = fit("resnet50", "24GiB", dtype="bf16")
    assert result.accumulate == 4 and result.samples_per_step == 4 * result.batch
    assert result.batch < single.batch  # the held gradients take room
    assert result.to_dict()["global_batch"] == 4 * result.batch


def test_fit_global_batch_finds_the_fewest_micro_steps():
    largest = fit("resnet50", "24GiB", dtype="bf16", accumulate=2).batch
    result = fit("resnet50", "24GiB", dtype="bf16", global_batch=1001)
    steps_needed = -(-1001 // largest)
    assert result.accumulate == steps_needed
    assert result.batch == -(-1001 // steps_needed) <= largest
    assert result.batch * (result.accumulate - 1) + result.last_micro_batch == 1001
    assert result.peak_bytes <= result.budget
    whole = fit("resnet50", "24GiB", dtype="bf16", global_batch=64)
    assert (whole.accumulate, whole.batch) == (1, 64)


def test_cli_fit_json_and_text(capsys):
    assert main(["fit", "resnet50", "--budget", "24GiB", "--dtype", "bf16", "--global-batch", "1001",
                 "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["global_batch"] == 1001
    assert record["micro_batch"] * (record["accumulate"] - 1) + record["last_micro_batch"] == 1001
    assert record["training_step"]["phase"].startswith("micro-step")
    assert main(["fit", "resnet50", "--budget", "24GiB", "--dtype", "bf16", "--accumulate", "4"]) == 0
    assert "largest micro-batch that fits" in capsys.readouterr().out
    assert main(["fit", "resnet50", "--budget", "24GiB", "--accumulate", "2", "--global-batch", "8"]) == 2
    assert "give --accumulate or --global-batch, not both" in capsys.readouterr().err


def test_table_states_the_micro_batch_and_flops_per_step(capsys):
    assert main(["table", "alexnet", "--memory", "autograd", "--batch", "32", "--accumulate", "4",
                 "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    step = record["training_step"]
    assert (step["accumulate"], step["micro_batch"], step["global_batch"]) == (4, 32, 128)
    assert step["training_flops_per_step"] == 4 * record["total"]["training_flops"]


def test_table_refuses_accumulate_without_the_autograd_memory_model(capsys):
    assert main(["table", "alexnet", "--accumulate", "2"]) == 2
    assert "--memory autograd" in capsys.readouterr().err
