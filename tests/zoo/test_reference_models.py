"""cnncost architectures against the reference implementations they follow (torchvision, timm),
built without weights: parameter counts and conv/linear MACs must agree exactly.

An entry whose cnncost name is not registered is skipped, so the table grows with the zoo. The
reference figures are measured here, on the reference model itself: parameters from
`model.parameters()`, MACs from forward hooks on every nn.Conv2d/nn.Linear (|output| x weight
elements per output channel), the same counter `cnncost check` uses.
"""
from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import pytest

torch = pytest.importorskip("torch", reason="reference models need PyTorch")
pytest.importorskip("torchvision", reason="reference models need torchvision (and timm for the timm rows)")

import cnncost  # noqa: E402
from cnncost.layers import Side  # noqa: E402
from cnncost.torch_backend.measure import probe  # noqa: E402
from cnncost.zoo.registry import ARCHS, _ensure_loaded  # noqa: E402


class Ref(NamedTuple):
    name: str                 # cnncost architecture
    library: str              # "torchvision" or "timm"
    model: str                # the library's model name
    kwargs: dict[str, Any] = {}
    macs: bool = True         # False: the cnncost net is a different variant with the same weights


TV = "torchvision"
NO_AUX = {"aux_logits": False, "init_weights": False}
REFERENCES = [
    Ref("alexnet-tv", TV, "alexnet"),
    *[Ref(f"vgg{d}{bn}", TV, f"vgg{d}{bn.replace('-', '_')}") for d in (11, 13, 16, 19) for bn in ("", "-bn")],
    Ref("googlenet-tv", TV, "googlenet", NO_AUX),
    Ref("inception-v3", TV, "inception_v3", NO_AUX),
    Ref("inception-v3-aux", TV, "inception_v3", {"aux_logits": True, "init_weights": False}),
    Ref("resnet18", TV, "resnet18"),
    Ref("resnet34", TV, "resnet34"),
    # The paper's ResNet-50/101/152 stride in the first 1x1 conv; torchvision (v1.5) in the 3x3.
    Ref("resnet50", TV, "resnet50", macs=False),
    Ref("resnet101", TV, "resnet101", macs=False),
    Ref("resnet152", TV, "resnet152", macs=False),
    Ref("resnet50-b", TV, "resnet50"),
    Ref("resnet50-tv", TV, "resnet50"),
    Ref("resnet101-tv", TV, "resnet101"),
    Ref("resnet152-tv", TV, "resnet152"),
    Ref("resnext50-32x4d", TV, "resnext50_32x4d"),
    Ref("resnext101-32x8d", TV, "resnext101_32x8d"),
    Ref("wide-resnet50-2", TV, "wide_resnet50_2"),
    Ref("wide-resnet101-2", TV, "wide_resnet101_2"),
    Ref("mobilenet-v2", TV, "mobilenet_v2"),
    Ref("mobilenet-v2-0.5", TV, "mobilenet_v2", {"width_mult": 0.5}),
    Ref("mobilenet-v2-0.75", TV, "mobilenet_v2", {"width_mult": 0.75}),
    Ref("mobilenet-v2-1.4", TV, "mobilenet_v2", {"width_mult": 1.4}),
    *[Ref(f"efficientnet-b{i}", TV, f"efficientnet_b{i}") for i in range(8)],
    Ref("resnet50-c", "timm", "resnet50c"),
    Ref("resnet50-d", "timm", "resnet50d"),
    Ref("se-resnet50", "timm", "legacy_seresnet50"),
    Ref("se-resnext50-32x4d", "timm", "legacy_seresnext50_32x4d"),
    Ref("senet154", "timm", "legacy_senet154"),
    Ref("inception-v4", "timm", "inception_v4"),
    Ref("inception-resnet-v2", "timm", "inception_resnet_v2"),
    Ref("mobilenet-v1", "timm", "mobilenetv1_100"),
]


def reference_model(ref: Ref) -> torch.nn.Module:
    if ref.library == "timm":
        timm = pytest.importorskip("timm", reason="timm reference models need timm")
        return timm.create_model(ref.model, pretrained=False)
    models = importlib.import_module("torchvision.models")
    return getattr(models, ref.model)(weights=None, **ref.kwargs)


def measure(ref: Ref) -> dict[str, int]:
    """Params and per-image MACs of the reference model at the cnncost net's input size."""
    net = cnncost.load(ref.name)
    has_side = any(isinstance(node, Side) for node in _walk(net.layers))
    model = reference_model(ref)
    batch = 2 if has_side else 1  # auxiliary heads only run in training mode (with batch norm: batch 2)
    seen = probe(model, torch.randn(batch, *net.input), train=has_side)
    return {"params": sum(p.numel() for p in model.parameters()),
            "macs": sum(seen.macs.values()) // batch, "flops": seen.flops.total // batch}


def _walk(nodes):
    for node in nodes:
        yield node
        for field in ("layers", "branches", "shortcut"):
            children = getattr(node, field, None) or ()
            yield from _walk(c for c in children if hasattr(c, "type_name"))


def ours(name: str) -> dict[str, int]:
    leaves = cnncost.compile(cnncost.load(name)).nodes
    return {"params": sum(leaf.params for leaf in leaves), "macs": sum(leaf.macs for leaf in leaves)}


def registered(name: str) -> bool:
    _ensure_loaded()
    return name in ARCHS


@pytest.mark.parametrize("ref", REFERENCES, ids=[r.name for r in REFERENCES])
def test_matches_reference_implementation(ref: Ref) -> None:
    if not registered(ref.name):
        pytest.skip(f"cnncost has no architecture '{ref.name}' yet")
    theirs, mine = measure(ref), ours(ref.name)
    assert mine["params"] == theirs["params"], f"params: cnncost {mine['params']:,}, {ref.model} {theirs['params']:,}"
    if ref.macs:
        assert mine["macs"] == theirs["macs"], f"MACs: cnncost {mine['macs']:,}, {ref.model} {theirs['macs']:,}"
        assert 2 * mine["macs"] == theirs["flops"]  # FlopCounterMode: 2 per conv/matmul multiply-add


if __name__ == "__main__":  # the table in docs/torch-backend.md
    print("| cnncost | reference | params (cnncost) | params (ref) | GMACs (cnncost) | GMACs (ref) | result |")
    print("|---|---|---:|---:|---:|---:|---|")
    for ref in REFERENCES:
        if not registered(ref.name):
            continue
        theirs, mine = measure(ref), ours(ref.name)
        same_params = mine["params"] == theirs["params"]
        same_macs = mine["macs"] == theirs["macs"]
        verdict = ("exact" if same_params and same_macs else
                   "params exact; MACs differ by design" if same_params and not ref.macs else "DIFFERENT")
        print(f"| {ref.name} | {ref.library} `{ref.model}` | {mine['params']:,} | {theirs['params']:,} | "
              f"{mine['macs'] / 1e9:.3f} | {theirs['macs'] / 1e9:.3f} | {verdict} |", flush=True)
