"""torchvision's CNN families (cnncost/zoo: the vgg -tv twins, squeezenet, densenet, mnasnet, regnet,
shufflenet, mobilenet_v3, efficientnet_v2 with the efficientnet-b0-tv ... -b7-tv twins, convnext,
resnext101-64x4d) against the figures measured on the real torchvision models
(tests/fixtures/torchvision_reference.json and torchvision_modules.json, written by
tests/fixtures/measure_torchvision.py): the default input is the eval crop of the first weights,
params and conv + linear MACs agree to the unit, every module that holds parameters or does MACs
is a row of the same path with the same counts, and the autograd memory model's saved bytes at
batch 2 equal torchvision's on CPU.

No torch needed: the fixture holds torchvision's numbers. A model the fixture lacks is skipped, and
so is one that cnncost does not register yet (its family waits for a layer type).
"""
from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path

import pytest

import cnncost
from cnncost.zoo.registry import ARCHS, _ensure_loaded

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# cnncost name -> torchvision builder
MODELS: dict[str, str] = {
    **{f"vgg{d}{bn}-tv": f"vgg{d}{bn.replace('-', '_')}" for d in (11, 13, 16, 19) for bn in ("", "-bn")},
    "squeezenet1-0": "squeezenet1_0", "squeezenet1-1": "squeezenet1_1",
    **{f"densenet{d}": f"densenet{d}" for d in (121, 161, 169, 201)},
    **{f"mnasnet{s.replace('_', '-')}": f"mnasnet{s}" for s in ("0_5", "0_75", "1_0", "1_3")},
    **{f"regnet-x-{s.replace('_', '-')}": f"regnet_x_{s}"
       for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")},
    **{f"regnet-y-{s.replace('_', '-')}": f"regnet_y_{s}"
       for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")},
    **{f"shufflenet-v2-{s.replace('_', '-')}": f"shufflenet_v2_{s}" for s in ("x0_5", "x1_0", "x1_5", "x2_0")},
    "mobilenet-v3-large": "mobilenet_v3_large", "mobilenet-v3-small": "mobilenet_v3_small",
    **{f"efficientnet-v2-{s}": f"efficientnet_v2_{s}" for s in ("s", "m", "l")},
    **{f"convnext-{s}": f"convnext_{s}" for s in ("tiny", "small", "base", "large")},
    "resnext101-64x4d": "resnext101_64x4d",
    **{f"efficientnet-b{i}-tv": f"efficientnet_b{i}" for i in range(8)},
}
# Names whose paths are the zoo's own, not torchvision's: per-layer counts are compared as a
# multiset there, not by path. (None now; kept for twins built from the older families.)
OWN_PATHS: set[str] = set()
# The family module each name comes from, for the skip message of a name not registered yet.
FAMILY = {"shufflenet": "Chunk, ChannelShuffle", "mobilenet-v3": "Hardsigmoid (se gate)",
          "efficientnet-v2": "StochasticDepth", "convnext": "LayerNorm, LayerScale, StochasticDepth"}


def _load(name: str) -> dict:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"tests/fixtures/{name} is missing (tests/fixtures/measure_torchvision.py writes it)")
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def reference() -> dict:
    return _load("torchvision_reference.json")["models"]


@pytest.fixture(scope="module")
def modules() -> dict:
    return _load("torchvision_modules.json")["models"]


def _graph(name: str):
    _ensure_loaded()
    if name not in ARCHS:
        waits = next((layers for family, layers in FAMILY.items() if name.startswith(family)), "?")
        pytest.skip(f"'{name}' is not registered: its family needs the layer types {waits} "
                    "(and its import in cnncost/zoo/families.py)")
    net = cnncost.load(name)
    return net, cnncost.compile(net)


def _entry(table: dict, builder: str) -> dict:
    entry = table.get(builder)
    if entry is None:
        pytest.skip(f"the fixture has no '{builder}' yet")
    if isinstance(entry, dict) and "error" in entry:
        pytest.skip(f"the fixture recorded an error for '{builder}': {entry['error']}")
    return entry


@pytest.mark.parametrize("name", list(MODELS))
def test_totals_equal_torchvision(name: str, reference: dict) -> None:
    ref = _entry(reference, MODELS[name])
    net, graph = _graph(name)
    assert list(net.input) == ref["input"], "default input = the eval crop of torchvision's first weights"
    assert sum(n.params for n in graph.nodes) == ref["params"]
    macs = sum(n.macs for n in graph.nodes if n.type in ("conv", "conv_transpose", "linear"))
    assert macs == ref["macs"]["conv2d"] + ref["macs"]["conv_transpose2d"] + ref["macs"]["linear"]
    assert ARCHS[name].reference.get("params", ref["params"]) == ref["params"]


def _channels_last(shape: tuple[int, ...]) -> list[int]:
    return [*shape[1:], shape[0]] if len(shape) == 3 else list(shape)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_module_with_weights_or_macs_is_a_row_of_its_path(name: str, modules: dict) -> None:
    """torchvision's module paths are row paths: features.3.expand1x1, trunk_output.block1.block1-0.f.b.0.

    A parameter that a torchvision module holds itself (ConvNeXt's `layer_scale`) is a row beneath
    it; a module that torchvision runs channels-last (ConvNeXt's MLP) may show its shape permuted.
    """
    tv = [m for m in _entry(modules, MODELS[name]) if m["params"] or m["macs"]]
    _, graph = _graph(name)
    rows = {n.path: n for n in graph.nodes}
    if name in OWN_PATHS:
        ours = Counter((n.params, n.macs) for n in graph.nodes if n.params or n.macs)
        assert ours == Counter((m["params"], m["macs"]) for m in tv)
        return
    tv_paths = {m["path"] for m in _entry(modules, MODELS[name])}
    wrong = []
    for m in tv:
        if m.get("leaf", True):
            row = rows.get(m["path"])
            if row is None:
                wrong.append(f"{m['path']} ({m['type']}): no row")
            elif (row.params, row.macs) != (m["params"], m["macs"]) or \
                    m["out"] not in (list(row.output_shape), _channels_last(row.output_shape)):
                wrong.append(f"{m['path']} ({m['type']}): ours {row.params} params, {row.macs} MACs, "
                             f"{row.output_shape}; torchvision {m['params']}, {m['macs']}, {m['out']}")
        else:
            own = sum(n.params for p, n in rows.items()
                      if p.startswith(m["path"] + ".") and p not in tv_paths and n.params)
            if own != m["params"]:
                wrong.append(f"{m['path']} ({m['type']}) holds {m['params']} params itself; rows beneath: {own}")
    assert not wrong, f"{len(wrong)} modules differ:\n" + "\n".join(wrong[:20])
    assert sum(n.params for n in graph.nodes) == sum(m["params"] for m in tv)


# Names whose autograd saved bytes are known to differ from torchvision's, with the reason.
SAVED_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("name", list(MODELS))
def test_saved_bytes_at_batch_2_equal_torchvision_on_cpu(name: str, reference: dict) -> None:
    """`--memory autograd` at batch 2 against what autograd saved in torchvision's model (CPU, fp32)."""
    ref = _entry(reference, MODELS[name])
    _graph(name)
    if name in SAVED_GAPS:
        pytest.xfail(SAVED_GAPS[name])
    options = {"device": "cpu"} if "device" in inspect.signature(cnncost.table).parameters else {}
    report = cnncost.table(name, batch=2, memory="autograd", **options)
    assert report.totals.saved_bytes == ref["saved_b2"]["total"]


def test_regnet_widths_follow_torchvision_rounding() -> None:
    """Quantized widths, then group-width snapping; regnet_x_1_6gf rounds exact halves to even."""
    from cnncost.zoo.regnet import regnet_stages
    assert regnet_stages(18, 80, 34.01, 2.25, 24) == [(72, 2, 24), (168, 4, 24), (408, 10, 24), (912, 2, 24)]
    assert regnet_stages(23, 80, 49.56, 2.88, 120) == [(80, 2, 80), (240, 5, 120), (720, 15, 120),
                                                       (1920, 1, 120)]  # group width clipped to 80
    assert regnet_stages(27, 456, 160.83, 2.52, 264) == [(528, 2, 264), (1056, 7, 264), (2904, 17, 264),
                                                         (7392, 1, 264)]


def test_twins_differ_from_the_papers_names_only_where_torchvision_does() -> None:
    """vgg16-tv keeps the 7x7 adaptive pool: at another input its params stay torchvision's."""
    paper, tv = cnncost.load("vgg16"), cnncost.load("vgg16-tv")
    assert cnncost.table(paper, batch=1).totals.params == cnncost.table(tv, batch=1).totals.params
    assert cnncost.table(tv, batch=1, input=(3, 256, 256)).totals.params == 138_357_544
    assert cnncost.load("efficientnet-b2").input == (3, 260, 260)
    assert cnncost.load("efficientnet-b2-tv").input == (3, 288, 288)
