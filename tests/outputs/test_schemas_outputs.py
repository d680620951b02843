"""Every JSON shape cnncost prints is valid under its shipped JSON Schema, through the commands
and options that change the shape (issue 22, item 3), and the schemas are strict: a renamed,
retyped or missing field, or an unknown one where the contract is closed, is rejected."""
from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
from schema_validation import problems, assert_valid

from cnncost.cli import main

pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
# an operation cnncost does not know (MACs, FLOPs and saved bytes unknown: null in the JSON)
OPAQUE_SPEC = """name: with-opaque
input: [3, 16, 16]
layers:
  - {name: conv, type: conv, out: 4, kernel: 3, padding: 1}
  - {name: erf, type: opaque, op: torch.erf, shape: [4, 16, 16]}
  - {name: pool, type: global_avgpool}
"""


def run_json(*argv: str, status: int = 0) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert code == status, err.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def opaque_spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("schemas") / "opaque.yaml"
    path.write_text(OPAQUE_SPEC)
    return str(path)


TABLE_OPTIONS = {
    "plain": ["alexnet"],
    "depth": ["resnet18", "--depth", "1", "--batch", "2"],
    "autograd": ["resnet18", "--memory", "autograd", "--depth", "1"],  # on cuda: the allocator's figures
    "autograd-cpu": ["resnet18", "--memory", "autograd", "--device", "cpu", "--depth", "1"],
    "inference": ["resnet18", "--mode", "inference", "--depth", "1"],
    "inference-int8": ["mobilenet-v2", "--mode", "inference", "--dtype", "int8", "--depth", "1"],
    "hardware": ["resnet18", "--hardware", "h100-sxm5-80gb", "--epoch-images", "1000", "--price-per-hour", "2.5",
                 "--depth", "1"],
    "hardware-autograd": ["resnet18", "--hardware", "l4", "--memory", "autograd", "--depth", "1"],
    "fsdp": ["resnet18", "--memory", "autograd", "--world-size", "8", "--sharding", "fsdp", "--depth", "1"],
    "ddp": ["resnet18", "--memory", "autograd", "--world-size", "4", "--sharding", "ddp", "--depth", "1"],
    "hybrid": ["resnet18", "--memory", "autograd", "--world-size", "8", "--sharding", "hybrid",
               "--ranks-per-node", "4", "--depth", "1"],
    "checkpoint": ["resnet18", "--memory", "autograd", "--checkpoint", "layer*", "--depth", "1"],
    "checkpoint-save": ["resnet18", "--memory", "autograd", "--checkpoint", "layer1", "--checkpoint-save", "conv",
                        "--depth", "1"],
    "accumulate-freeze": ["resnet18", "--memory", "autograd", "--accumulate", "4", "--freeze", "conv1", "--depth", "1"],
    "freeze": ["resnet18", "--freeze", "layer1*", "--depth", "1"],
    "count-as": ["resnet18", "--count-as", "fvcore", "--depth", "1"],
    "lecture-activations": ["vgg16", "--activations", "lecture", "--optimizer", "sgd", "--dtype", "bf16"],
    "several-inputs": ["docs/examples/two-image.yaml"],
    "rank-4-input": ["docs/examples/two-image.yaml", "--input", "image1=3x220x512", "--input", "image2=3x220x512"],
}


@pytest.mark.parametrize("name", sorted(TABLE_OPTIONS))
def test_table_json_is_valid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    document = run_json("table", *TABLE_OPTIONS[name], "--format", "json")
    assert_valid("table", document)


def test_table_json_with_unknown_figures_is_valid(opaque_spec: str) -> None:
    for extra in ([], ["--memory", "autograd"], ["--depth", "0"]):
        document = run_json("table", opaque_spec, "--batch", "2", *extra, "--format", "json")
        assert document["unknown_counts"] and document["layers"][2]["macs"] is None  # the shape under test
        assert_valid("table", document)


def test_the_python_api_writes_the_same_contract() -> None:
    import cnncost
    assert_valid("table", json.loads(cnncost.table("resnet18", batch=4, depth=1, memory="autograd").to_json()))
    assert_valid("compare", json.loads(cnncost.compare(["resnet18", "alexnet"], batch=2).to_json()))


FIT_OPTIONS = {
    "plain": ["resnet18", "--budget", "16GiB"],
    "reserved": ["resnet18", "--budget", "16GiB", "--budget-of", "reserved", "--hardware", "h100-sxm5-80gb"],
    "sharded": ["resnet18", "--budget", "16GiB", "--world-size", "4", "--sharding", "zero2"],
    "global-batch": ["resnet18", "--budget", "16GiB", "--global-batch", "1000", "--freeze", "conv1"],
    "accumulate": ["resnet18", "--budget", "8GiB", "--accumulate", "2"],
    "checkpoint": ["resnet18", "--budget", "16GiB", "--checkpoint", "auto"],
    "inference": ["resnet18", "--budget", "16GiB", "--mode", "inference"],
    "bf16-cpu": ["mobilenet-v2", "--budget", "4GiB", "--dtype", "bf16", "--device", "cpu"],
}


@pytest.mark.parametrize("name", sorted(FIT_OPTIONS))
def test_fit_json_is_valid(name: str) -> None:
    assert_valid("fit", run_json("fit", *FIT_OPTIONS[name], "--format", "json"))


def test_fit_json_when_nothing_fits_is_valid() -> None:
    document = run_json("fit", "alexnet", "--budget", "1MB", "--format", "json", status=1)
    assert document["batch"] == 0
    assert_valid("fit", document)


@pytest.mark.parametrize("options", [
    ["resnet18", "--batch", "1,8", "--input", "3x128x128,3x224x224"],
    ["resnet18", "--batch", "2", "--dtype", "fp32,bf16", "--optimizer", "sgd,adam", "--memory", "autograd"],
    ["resnet18", "--batch", "2", "--width", "0.5,1", "--hardware", "l4"],
], ids=["lecture", "autograd", "width-hardware"])
def test_sweep_json_is_valid(options: list[str]) -> None:
    assert_valid("sweep", run_json("sweep", *options, "--format", "json"))


def test_compare_and_list_json_are_valid(opaque_spec: str) -> None:
    assert_valid("compare", run_json("compare", "resnet18", "alexnet", "--format", "json"))
    with_unknown = run_json("compare", "alexnet", opaque_spec, "--batch", "2", "--format", "json")
    assert with_unknown["architectures"][1]["unknown"]
    assert_valid("compare", with_unknown)
    assert_valid("list", run_json("list", "res*", "--format", "json"))


def test_hardware_json_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert_valid("hardware", run_json("hardware", "--format", "json"))
    assert_valid("hardware", run_json("hardware", "h100-sxm5-80gb", "--format", "json"))
    assert_valid("hardware", run_json("hardware", "docs/examples/my-gpu.yaml", "--format", "json"))


def test_profile_files_are_valid() -> None:
    import yaml

    from cnncost.hardware.files import builtin_profiles, profile_yaml
    assert_valid("profile", yaml.safe_load((ROOT / "docs/examples/my-gpu.yaml").read_text()))
    for profile in builtin_profiles().values():  # as `cnncost calibrate --out FILE` writes one
        assert_valid("profile", yaml.safe_load(profile_yaml(profile)))


def test_check_json_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    monkeypatch.chdir(ROOT)
    assert_valid("check", run_json("check", "alexnet", "--batch", "1", "--format", "json"))
    assert_valid("check-against", run_json("check", "docs/examples/my_net.yaml", "--against",
                                       "docs/examples/my_models.py:build_net", "--format", "json"))
    differing = run_json("check", "docs/examples/tiny.yaml", "--against", "docs/examples/my_models.py:build_net",
                         "--format", "json", status=1)
    assert differing["differences"]
    assert_valid("check-against", differing)


# --- strict: what a schema must reject ---

@pytest.fixture(scope="module")
def autograd_table() -> dict:
    return run_json("table", "resnet18", "--memory", "autograd", "--depth", "1", "--format", "json")


def mutated(document: dict, path: tuple, change: str, value: object = None) -> dict:
    """A deep copy with the key at `path` renamed to `value` ('rename'), set to `value` ('set') or
    removed ('drop')."""
    out = copy.deepcopy(document)
    *parents, key = path
    target = out
    for step in parents:
        target = target[step]
    if change == "rename":
        target[value] = target.pop(key)
    elif change == "drop":
        del target[key]
    else:
        target[key] = value
    return out


@pytest.mark.parametrize(("path", "change", "value"), [
    (("layers", 1, "macs"), "rename", "mac"),                      # a renamed row figure
    (("total", "params"), "set", "11689512"),                     # a count as text
    (("total", "flops"), "set", 1.5),                             # a count as a fraction
    (("layers", 3, "flops"), "drop", None),                       # a required figure missing
    (("training_step", "breakdown", "gradients"), "rename", "grads"),  # an unknown memory part
    (("training_step", "peak_bytes"), "set", -1),                 # bytes below 0
    (("schema_version",), "set", 2),                              # another contract
    (("memory_convention",), "set", "lecture"),
    (("batch",), "drop", None),
    (("total", "input_shape"), "set", "3x224x224"),               # a shape is a list of ints
    (("dtype",), "rename", "data_type"),                          # an unknown top-level key
], ids=lambda v: str(v))
def test_a_mutated_table_is_rejected(autograd_table: dict, path: tuple, change: str, value: object) -> None:
    assert problems("table", autograd_table) == []
    assert problems("table", mutated(autograd_table, path, change, value)) != []


def test_a_training_table_needs_its_training_figures(autograd_table: dict) -> None:
    # without `mode` (inference) every row has backward and training FLOPs
    assert problems("table", mutated(autograd_table, ("layers", 2, "training_flops"), "drop")) != []
    inference = run_json("table", "resnet18", "--mode", "inference", "--depth", "1", "--format", "json")
    assert "training_flops" not in inference["layers"][2] and problems("table", inference) == []


def test_mutated_outputs_of_other_commands_are_rejected() -> None:
    fit = run_json("fit", "resnet18", "--budget", "16GiB", "--world-size", "2", "--sharding", "ddp",
                   "--format", "json")
    assert problems("fit", mutated(fit, ("communication", "sharding"), "set", "zero9")) != []
    assert problems("fit", mutated(fit, ("budget_of",), "set", "free")) != []
    compare = run_json("compare", "resnet18", "alexnet", "--format", "json")
    assert problems("compare", mutated(compare, ("architectures", 1, "ratios", "macs"), "set", "0.6")) != []
    sweep = run_json("sweep", "resnet18", "--batch", "1,2", "--format", "json")
    assert problems("sweep", mutated(sweep, ("configurations", 0, "macs"), "rename", "mac")) != []
