"""The autograd memory model: one rule per layer type, closed-form cases, the step timeline, fit,
and the `--memory autograd` convention in reports and on the command line (no torch needed)."""
import json
import subprocess
import sys

import pytest

import cnncost
from cnncost import (LRN, BatchNorm, Conv, Dropout, Flatten, Linear, MaxPool, Net, ReLU, SiLU, Residual,
                     GlobalAvgPool, Concat)
from cnncost.cli import main
from cnncost.memory import Precision, largest_batch, parse_bytes, step_memory, trace


def saved_per_sample(layers, input=(3, 8, 8), dtype="fp32", device="cuda"):
    t = trace(Net("n", input=input, layers=layers), precision=Precision(dtype, device))
    return {path: (size.per_sample, size.fixed) for path, size in t.saved_by_path().items()}


# (per-sample bytes, fixed bytes) each layer saves first; input 3x8x8 = 192 elements.
CASES = [
    ("conv saves its input", [Conv(name="c", out=4, kernel=3)], {"c": (192 * 4, 0)}),
    ("in-place relu output shared with next conv counts once, at the relu",
     [Conv(name="c1", out=4, kernel=3), ReLU(name="r"), Conv(name="c2", out=2, kernel=1)],
     {"c1": (768, 0), "r": (4 * 36 * 4, 0), "c2": (0, 0)}),
    ("batchnorm: input + fp32 mean and invstd per channel",
     [Conv(name="c", out=4, kernel=3), BatchNorm(name="bn")], {"c": (768, 0), "bn": (144 * 4, 2 * 4 * 4)}),
    ("maxpool: input + int64 indices",
     [Conv(name="c", out=4, kernel=1), MaxPool(name="p", kernel=2)], {"c": (768, 0), "p": (256 * 4 + 64 * 8, 0)}),
    ("relu on the raw input records nothing", [ReLU(name="r", inplace=False), Conv(name="c", out=4, kernel=1)],
     {"r": (0, 0), "c": (768, 0)}),
    ("in-place silu saves a copy of its input",
     [Conv(name="c1", out=4, kernel=1), SiLU(name="a"), Conv(name="c2", out=4, kernel=1)],
     {"c1": (768, 0), "a": (1024, 0), "c2": (1024, 0)}),
    ("global average pool saves nothing; linear saves the flattened view",
     [Conv(name="c", out=4, kernel=1), GlobalAvgPool(name="p"), Flatten(name="f"), Linear(name="fc", out=3)],
     {"c": (768, 0), "p": (0, 0), "f": (0, 0), "fc": (16, 0)}),
    ("residual add saves nothing of its own",
     [Conv(name="c", out=4, kernel=1), Residual(name="res", layers=[Conv(name="a", out=4, kernel=1)])],
     {"c": (768, 0), "res.a": (1024, 0), "res.add": (0, 0)}),
    ("concat saves nothing; the branches' shared input counts once",
     [Conv(name="c", out=4, kernel=1), Concat(name="cat", branches=[[Conv(name="a", out=2, kernel=1)],
                                                                    [Conv(name="b", out=2, kernel=1)]])],
     {"c": (768, 0), "cat.branch1.a": (1024, 0), "cat.branch2.b": (0, 0), "cat.concat": (0, 0)}),
]


@pytest.mark.parametrize("layers,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_saved_bytes_closed_form(layers, expected):
    assert saved_per_sample(layers) == expected


def test_lrn_closed_form_terms():
    # x (4 ch) + padded (4 + 5 - 1 = 8 ch) + base (4) + power (4) = 20 channels of 8x8 fp32
    assert saved_per_sample([Conv(name="c", out=4, kernel=1), LRN(name="n")])["n"] == (20 * 64 * 4, 0)


@pytest.mark.parametrize("device,mask_bytes", [("cuda", 1), ("cpu", 4)], ids=["cuda-bool-mask", "cpu-noise"])
def test_dropout_mask_depends_on_device(device, mask_bytes):
    layers = [Flatten(name="f"), Linear(name="fc", out=10), Dropout(name="d")]
    assert saved_per_sample(layers, device=device)["d"] == (10 * mask_bytes, 0)


def test_autocast_casts_conv_input_and_weights():
    t = trace(Net("n", input=(3, 8, 8), layers=[Conv(name="c", out=4, kernel=3)]), precision=Precision("bf16"))
    assert t.saved_by_path()["c"].per_sample == 192 * 2   # the bf16 copy of the fp32 input
    assert t.weight_casts().fixed == 4 * 3 * 9 * 2          # bias not saved


@pytest.mark.parametrize("arch", ["alexnet", "googlenet", "resnet50"])
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_fit_is_the_exact_largest_batch(arch, dtype):
    step = step_memory(trace(cnncost.load(arch), precision=Precision(dtype)), "adamw")
    budget = parse_bytes("24GiB")
    fit = largest_batch(step, budget)
    assert fit.batch > 100
    assert step.peak(fit.batch).at(fit.batch) <= budget < step.peak(fit.batch + 1).at(fit.batch + 1)


def test_fit_reports_zero_when_one_sample_does_not_fit():
    step = step_memory(trace(cnncost.load("alexnet")), "adam")
    assert largest_batch(step, parse_bytes("1MiB")).batch == 0


def test_optimizer_state_copies():
    t = trace(cnncost.load("alexnet"), precision=Precision("bf16"))
    params = 62_378_344 * 4  # fp32 master weights under mixed precision
    for optimizer, copies in (("sgd", 0), ("momentum", 1), ("adam", 2), ("adamw", 2)):
        moment = step_memory(t, optimizer).moments[0]
        assert moment.parts["parameters"].fixed == params
        assert moment.parts.get("optimizer state", cnncost.memory.Bytes()).fixed == copies * params


def test_inference_holds_no_saved_tensors_and_less_than_training():
    t = trace(cnncost.load("vgg16"))
    inference, training = step_memory(t, mode="inference"), step_memory(t, "sgd")
    assert all("saved for backward" not in m.parts for m in inference.moments)
    assert inference.peak(64).at(64) < training.peak(64).at(64)


@pytest.mark.parametrize("text,expected", [("80GiB", 80 * 2**30), ("40GB", 40 * 10**9), ("1.5MiB", 3 * 2**19),
                                           ("123b", 123), ("80gb", 80 * 10**9), ("1.5TB", 15 * 10**11)],
                         ids=["GiB", "GB is SI, 10^9", "fraction", "bytes", "case-insensitive", "TB"])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


def test_parse_bytes_rejects_unknown_unit():
    with pytest.raises(cnncost.CnnCostError, match="expected a memory size with a unit, like 80GiB, got '80 parsecs'"):
        parse_bytes("80 parsecs")
    with pytest.raises(cnncost.CnnCostError, match="with a unit"):
        parse_bytes("80")


# --- the convention in reports -----------------------------------------------------------------

def test_lecture_convention_is_unchanged():
    default, lecture = cnncost.table("googlenet").to_dict(), cnncost.table("googlenet", memory="lecture").to_dict()
    assert default == lecture
    assert "saved_bytes" not in default["total"] and "training_step" not in default
    assert "saved_bytes" not in default["layers"][1]


@pytest.mark.parametrize("depth", [None, 0], ids=["leaves", "depth0"])
def test_autograd_json_adds_saved_bytes_that_add_up(depth):
    lecture = cnncost.table("googlenet", batch=8, depth=depth).to_dict()
    autograd = cnncost.table("googlenet", batch=8, depth=depth, memory="autograd").to_dict()
    assert [dict((k, v) for k, v in row.items() if k != "saved_bytes") for row in autograd["layers"]] == lecture["layers"]
    assert sum(row["saved_bytes"] for row in autograd["layers"]) == autograd["total"]["saved_bytes"]
    step = autograd["training_step"]
    assert sum(step["breakdown"].values()) == step["peak_bytes"]


def test_autograd_rejects_int8():
    with pytest.raises(cnncost.CnnCostError, match="needs fp32, tf32, fp64, fp16 or bf16; got .int8."):
        cnncost.table("alexnet", dtype="int8", memory="autograd")


def test_cli_fit_and_table_show_the_same_peak(capsys):
    assert main(["fit", "resnet50", "--memory", "16GiB", "--dtype", "bf16", "--optimizer", "adamw",
                 "--format", "json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert main(["table", "resnet50", "--batch", str(fit["batch"]), "--dtype", "bf16", "--optimizer", "adamw",
                 "--memory", "autograd", "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["training_step"] == fit["training_step"] and fit["training_step"]["peak_bytes"] <= 16 * 2**30


def test_cli_fit_text_names_the_batch(capsys):
    assert main(["fit", "alexnet", "--memory", "8GiB"]) == 0
    out = capsys.readouterr().out
    assert "largest batch that fits in budget 8 GiB = 8,589,934,592 B:" in out and "saved for backward" in out


def test_memory_model_does_not_import_torch():
    code = ("import sys, cnncost; cnncost.table('alexnet', memory='autograd'); cnncost.fit('alexnet', '8GiB'); "
            "print([m for m in ('torch', 'pandas') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


# Saved-for-backward bytes, fp32, batch 2, default input, as PyTorch measured them: torch 2.13.0 CPU,
# `python benchmarks/memory_check.py --dtype fp32 --batch 2` (predicted = measured, every layer).
MEASURED_SAVED = {"alexnet": 9_409_536, "vgg16": 146_509_824, "googlenet": 96_824_704}


@pytest.mark.parametrize("arch", sorted(MEASURED_SAVED))
def test_saved_bytes_equal_recorded_pytorch_measurement(arch):
    predicted = trace(cnncost.load(arch), precision=Precision("fp32", device="cpu")).saved().at(2)
    assert predicted == MEASURED_SAVED[arch]
