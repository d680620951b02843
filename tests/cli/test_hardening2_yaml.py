"""Spec loading at engine speed (issue 21, item 4): the event-stream loader (`cnncost.yaml_events`)
gives exactly the data of PyYAML's composer + `check_node_graph` + constructor, and refuses what
they refuse, on the fuzzer's generated and hostile YAML; its cost per layer stays flat."""
from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
import yaml

from cnncost.errors import SpecError
from cnncost.safe_yaml import SpecLoader, describe_yaml_error, load_yaml

ROOT = Path(__file__).resolve().parents[2]


def _fuzzer():
    spec = importlib.util.spec_from_file_location("cnncost_fuzz_cli_y", ROOT / "benchmarks" / "fuzz_cli.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def composed(text: str, max_nodes: int = 250_000, max_depth: int = 256):
    """The previous loader: node graph, check, construct."""
    loader = SpecLoader(text)
    loader.max_nodes, loader.max_depth = max_nodes, max_depth
    try:
        return ("data", loader.get_single_data())
    except yaml.YAMLError as error:
        return ("error", describe_yaml_error(error, text))
    finally:
        loader.dispose()


def evented(text: str):
    try:
        return ("data", load_yaml(text))
    except SpecError as error:
        return ("error", error.problem)


def documents(count: int):
    fuzz = _fuzzer()
    rng = random.Random(2021)
    for i in range(count):
        roll = i % 3
        if roll == 0:
            yield fuzz._emit(rng, fuzz.valid_spec(rng, odd=0.3))
        elif roll == 1:
            yield fuzz._emit(rng, fuzz.mutate(rng, fuzz.valid_spec(rng)))
        else:
            yield fuzz.hostile_yaml(rng)


EXTRA = [
    "base: &b {type: conv, out: 4}\nlayers: [{<<: *b, kernel: 3}, {<<: [*b, {out: 9, pad: 1}], out: 2}]\n",
    "a: &x [1, 2, 3]\nb: [*x, *x, *x]\n",
    "name: &a [*a]\n",
    "? [1, 2]\n: x\n",
    "a: 1\na: 2\n",
    "a: 1\n01: 2\n1: 3\n",
    "x: !!binary aGVsbG8=\n",
    "x: !foo 1\n",
    "x: !!int 12x\n",
    "x: !!seq {a: 1}\n",
    "x: !!map abc\n",
    "x: !!str [a]\n",
    "x: &a 1\ny: &a 2\n",
    "x: *nope\n",
    "--- 1\n--- 2\n",
    "",
    "7",
    "[" * 300 + "]" * 300,
    "x: 2024-01-01\ny: =\nz: 1_000\nw: 0x1F\nv: .inf\nu: ~\n",
]


@pytest.mark.parametrize("text", EXTRA)
def test_the_event_loader_agrees_with_the_composer_on_edge_cases(text):
    old, new = composed(text), evented(text)
    assert old[0] == new[0], (old, new)
    if old[0] == "data":
        assert old[1] == new[1] and repr(old[1]) == repr(new[1])  # same values, types and key order


def test_the_event_loader_agrees_with_the_composer_on_fuzzed_yaml():
    disagreements = []
    for text in documents(600):
        if not isinstance(text, str) or "\ud800" <= max(text, default="a") and any("\ud800" <= c <= "\udfff" for c in text):
            continue  # not Unicode text: load_yaml refuses it before parsing
        old, new = composed(text), evented(text)
        if old[0] != new[0] or (old[0] == "data" and repr(old[1]) != repr(new[1])):
            disagreements.append((text[:300], old, new))
    assert not disagreements, disagreements[:3]


def chain(layers: int) -> str:
    lines = ["name: big", "input: [8, 8, 8]", "layers:"]
    lines += [f"  - {{name: c{i}, type: conv, out: 8, kernel: 3, padding: 1}}" if i % 2 == 0
              else f"  - {{name: r{i}, type: relu}}" for i in range(layers)]
    return "\n".join(lines) + "\n"


def test_a_40000_layer_chain_loads_whole():
    """The event loader in one pass (its per-layer time flat from 1,000 to 200,000 layers:
    `python benchmarks/bench_load.py`) keeps every layer, in order."""
    data = load_yaml(chain(40_000))
    assert len(data["layers"]) == 40_000
    assert data["layers"][0] == {"name": "c0", "type": "conv", "out": 8, "kernel": 3, "padding": 1}
    assert [layer["name"] for layer in data["layers"][-2:]] == ["c39998", "r39999"]
