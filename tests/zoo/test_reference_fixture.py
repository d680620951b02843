"""Every torchvision CNN (and a few timm ones) against figures measured on the real models.

The figures come from `tests/fixtures/measure_torchvision.py`, run in a side venv with the versions
recorded in the fixture (torch 2.14.1, torchvision 0.29.1, timm 1.0.31). For each model's cnncost
twin at the model's default input: params, conv + transposed-conv + linear MACs (per image) and
the bytes autograd saves for backward at batch 2 on CPU (fp32, train mode) must be equal to the
unit. `test_fixture_is_current` re-measures a sample where torchvision is installed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnncost
from counting_reference import torchvision_twin as twin  # tests/support

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "torchvision_reference.json"
REFERENCE = json.loads(FIXTURE.read_text())
MODELS = REFERENCE["models"]

# torchvision's googlenet(weights=None) has aux heads that only train mode runs; its twin is the network
# the first weights load, without them (measured as `googlenet_no_aux`): compared here without the aux
# share of params, on the eval-mode MACs, and not on saved bytes (train mode runs the aux heads).
NOT_TRAIN_MODE_TWIN = {"googlenet"}


TORCHVISION = sorted(name for name, m in MODELS.items() if m.get("source") == "torchvision")


def test_fixture_covers_the_whole_torchvision_cnn_zoo() -> None:
    expected = {"alexnet", "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
                "squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
                "shufflenet_v2_x2_0", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
                "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l",
                "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "fcn_resnet50", "fcn_resnet101",
                "deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
                "lraspp_mobilenet_v3_large"}
    expected |= {f"convnext_{s}" for s in ("tiny", "small", "base", "large")}
    expected |= {f"densenet{d}" for d in (121, 161, 169, 201)}
    expected |= {f"efficientnet_b{i}" for i in range(8)}
    expected |= {f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")}
    expected |= {f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")}
    expected |= {f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")}
    assert not expected - set(MODELS), f"not measured: {sorted(expected - set(MODELS))}"


@pytest.mark.parametrize("reference_name", TORCHVISION)
def test_every_torchvision_model_has_a_twin(reference_name: str) -> None:
    assert twin(reference_name) is not None, f"no cnncost twin of torchvision's {reference_name}"


@pytest.mark.parametrize("reference_name", sorted(MODELS))
def test_twin_equals_the_real_model(reference_name: str) -> None:
    name = twin(reference_name)
    if name is None:
        pytest.skip(f"{reference_name}: no twin (reported by test_every_torchvision_model_has_a_twin)")
    measured = MODELS[reference_name]
    net = cnncost.load(name)
    assert list(net.input) == measured["input"], f"{name}: default input {net.input}, torchvision's {measured['input']}"
    report = cnncost.table(name, batch=2, memory="autograd", device="cpu")
    side_heads = any(block.type == "side" for block in cnncost.compile(net).blocks)
    params = measured["params"] - (measured.get("params_uncalled_eval", 0) if reference_name in NOT_TRAIN_MODE_TWIN else 0)
    macs = measured["macs_train" if side_heads else "macs"]["total"]
    assert (report.totals.params, report.totals.macs // 2) == (params, macs), name
    if reference_name not in NOT_TRAIN_MODE_TWIN:
        assert report.totals.saved_bytes == measured["saved_b2"]["total"], \
            f"{name}: saved bytes at batch 2 ours {report.totals.saved_bytes:,}, torch {measured['saved_b2']['total']:,}"


def test_fixture_is_current() -> None:
    """Where torchvision is installed, a sample re-measured now equals the fixture."""
    pytest.importorskip("torchvision")
    import importlib.util
    spec = importlib.util.spec_from_file_location("measure_torchvision", FIXTURE.parent / "measure_torchvision.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    for name in ("resnet18", "mobilenet_v3_small", "squeezenet1_1"):
        fresh = module.measure(name)
        assert (fresh["params"], fresh["macs"], fresh["saved_b2"]["total"]) == \
            (MODELS[name]["params"], MODELS[name]["macs"], MODELS[name]["saved_b2"]["total"]), name
