"""The measured peer-tool figures (tests/fixtures/tools_reference.json, written by
tests/fixtures/measure_tools.py) and each measured model's cnncost twin with the implementation
profile that describes it. Shared by tests/counting/test_counting.py and benchmarks/tools_table.py."""
from __future__ import annotations

import json
from pathlib import Path

import cnncost

TESTS = Path(__file__).resolve().parents[1]
TOOLS_FIXTURE = TESTS / "fixtures" / "tools_reference.json"
TORCHVISION_FIXTURE = TESTS / "fixtures" / "torchvision_reference.json"

# timm models measured by measure_tools.py -> their twins (test_reference_fixture.twin maps torchvision's).
TIMM_TWINS = {"timm/inception_v4": "inception-v4", "timm/inception_resnet_v2": "inception-resnet-v2",
              "timm/seresnet50": "seresnet50-timm", "timm/seresnext50_32x4d": "se-resnext50-32x4d",
              "timm/resnet50c": "resnet50-c", "timm/resnet50d": "resnet50-d", "timm/mobilenetv1_100": "mobilenet-v1"}
# Where the reference is not the implementation the twin's own profile describes: se-resnext50-32x4d is
# timm's legacy SENet; timm's non-legacy seresnext50_32x4d gates with timm's Sigmoid class.
PROFILES = {"timm/seresnext50_32x4d": "timm/seresnext50_32x4d"}
# googlenet(weights=None) has aux heads (params only: eval does not run them); its twin googlenet-tv has
# none. Its train step runs them: compared as googlenet_no_aux (torchvision_reference.json).
AUX_ONLY_PARAMS = {"googlenet"}

# fixture key -> tool name in cnncost.counting
MEASURED = {
    "flopcounter": lambda t: t["flopcounter"]["forward_b1"],
    "fvcore": lambda t: t["fvcore"]["total"],
    "ptflops": lambda t: t["ptflops"]["macs"],
    "ptflops-aten": lambda t: t["ptflops_aten"]["macs"],
    "thop": lambda t: t["thop"]["macs"],
    "torchinfo": lambda t: t["torchinfo"]["total_mult_adds"],
    "torchscan": lambda t: t["torchscan"]["totals"]["module_flops"]["known_value"],
    "torchscan-macs": lambda t: t["torchscan"]["totals"]["macs"]["known_value"],
}


def load(path: Path = TOOLS_FIXTURE) -> dict:
    return json.loads(path.read_text())


def twin(name: str) -> str | None:
    if name in TIMM_TWINS:
        return TIMM_TWINS[name]
    return torchvision_twin(name)


def profile(name: str) -> str | None:
    """The profile to count the twin of reference model `name` with (None: the twin's own)."""
    return PROFILES.get(name)


# torchvision builder -> cnncost name, where the rule (`_` -> `-`, and `NAME-tv` where NAME already
# means the paper's network) does not give it.
TWINS = {
    "timm/seresnet50": "seresnet50-timm",
    "googlenet_no_aux": "googlenet-tv",
}


def torchvision_twin(reference_name: str) -> str | None:
    if reference_name in TWINS:
        return TWINS[reference_name]
    if "/" in reference_name:
        return None
    names = {arch.name for arch in cnncost.list_archs()}
    base = reference_name.replace("_", "-")
    for candidate in (f"{base}-tv", base):
        if candidate in names:
            return candidate
    return None
