"""Fuzz the command line in-process: generated specs (valid nets, mutated nets, random layer
fields, hostile YAML, broken bytes) through `cnncost.cli.main`, each under a time and memory
bound. Every outcome must be exit 0 with a table (or exit 1 from `fit` when nothing fits), or
exit 2 with exactly one stderr line starting `cnncost: error:`; anything else is a failure:
a traceback (an exception that reached the boundary: CNNCOST_DEBUG=1 re-raises it here), a
hang, a slow case, or output breaking its contract (NaN in JSON, a CSV formula cell, an
unescaped HTML name, a control character in a table, a multi-line error).

    python benchmarks/fuzz_cli.py                  # 100,000 cases, seed 0
    python benchmarks/fuzz_cli.py -n 5000 --seed 7 --save-failures /tmp/fuzz

The test suite (tests/cli/test_fuzz_cli.py) runs the same generator on 2,000 cases
(CNNCOST_FUZZ_CASES for more). Reproducible: case i of seed s is always the same spec.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

try:
    import resource
except ImportError:  # not on Windows: no memory bound
    resource = None  # type: ignore[assignment]

SOFT_LIMIT_S = 3.0    # a case slower than this is a failure ("slow")
HARD_LIMIT_S = 10.0   # a case is interrupted here ("hang")
MEMORY_HEADROOM = 3 * 2**30  # address space a case may add to the process


# --- generation ---

PLAIN_NAMES = ["conv", "relu", "pool", "fc", "block", "stem", "head", "a", "b", "x1", "layer", "c_2"]
ODD_NAMES = ["<script>alert(1)</script>", "=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR",
             "a\nb", "line\r\nbreak", "\x1b[31mred\x1b[0m", "\u202eevil", "caf\u00e9", "\u4e2d\u6587", "\U0001F600",
             "zero\u200bwidth", "&amp;", "a&b%c$d#e_f{g}h~i^j\\k", "|pipe|", "x" * 300, "\u2028sep", "'quote\"",
             "\x00nul", "\x7fdel", "\u0085nel", "100", "true", "null", "", " ", "a.b", "input", "training",
             "forward", "type", "add", "concat", "\ud800", "\\n"]
ACTS = ["relu", "relu6", "silu", "gelu", "hardswish", "sigmoid", "tanh", "leaky_relu", "mish", "identity",
        "hardsigmoid", "hardtanh"]
HOSTILE_INTS = [0, -1, -(2**63), 2**63, 2**64, 10**30, 10**300, int("9" * 4000), 1, 2, 3, 7, 16]


@dataclass
class Case:
    """One generated input: the command line (FILE/FILE2 stand for the spec files) and the files."""

    kind: str
    argv: list[str]
    files: list[bytes] = field(default_factory=list)
    stdin: bytes | None = None

    def show(self, limit: int = 3000) -> str:
        parts = [f"kind: {self.kind}", f"argv: {self.argv!r}"]
        for i, data in enumerate(self.files):
            text = data.decode("utf-8", "backslashreplace")
            parts.append(f"--- FILE{i + 1 if i else ''} ({len(data)} bytes) ---\n"
                         + (text if len(text) <= limit else text[:limit] + f"\n... [{len(text) - limit} more]"))
        if self.stdin is not None:
            parts.append(f"--- stdin ({len(self.stdin)} bytes) ---\n" + self.stdin[:limit].decode("utf-8", "replace"))
        return "\n".join(parts)


class _Names:
    def __init__(self, rng: random.Random, odd: float) -> None:
        self.rng, self.odd, self.used = rng, odd, set()

    def __call__(self, base: str) -> str:
        rng = self.rng
        name = rng.choice(ODD_NAMES) if rng.random() < self.odd else f"{base}{len(self.used)}"
        if name in self.used:
            name = f"{base}{len(self.used)}_{rng.randrange(1000)}"
        self.used.add(name)
        return name


def _valid_layers(rng: random.Random, shape: list[int], count: int, names: _Names, depth: int = 0) -> list[dict]:
    """Layers that (mostly) fit the shapes reaching them; `shape` is updated in place."""
    layers: list[dict] = []
    for _ in range(count):
        c, h, w = shape
        roll = rng.random()
        if roll < 0.25:
            k = rng.choice([1, 1, 3, 3, 5]) if h >= 5 else 1
            out = rng.choice([1, 2, 4, 8, 16, c])
            layer = {"name": names("conv"), "type": "conv", "out": out, "kernel": k}
            if k > 1 and rng.random() < 0.7:
                layer["padding"] = rng.choice([k // 2, "same"])
            if rng.random() < 0.2 and h >= 4:
                layer["stride"] = 2
                layer.pop("padding", None) if layer.get("padding") == "same" else None
            if rng.random() < 0.15 and out % c == 0:
                layer["groups"] = c
            if rng.random() < 0.3:
                layer["bias"] = False
            pad = layer.get("padding", 0)
            stride = layer.get("stride", 1)
            if pad == "same":
                nh, nw = h, w
            else:
                nh, nw = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            shape[:] = [out, nh, nw]
        elif roll < 0.45:
            act = rng.choice(ACTS)
            layer = {"name": names(act), "type": act}
            if act in ("relu", "silu", "leaky_relu", "hardswish", "relu6") and rng.random() < 0.5:
                layer["inplace"] = rng.random() < 0.5
        elif roll < 0.55:
            kind = rng.choice(["batchnorm", "batchnorm", "group_norm", "layer_norm", "instance_norm"])
            layer = {"name": names("norm"), "type": kind}
            if kind == "group_norm":
                layer["groups"] = rng.choice([g for g in (1, 2, 4) if c % g == 0])
        elif roll < 0.65 and h >= 2 and w >= 2:
            kind = rng.choice(["maxpool", "avgpool"])
            layer = {"name": names("pool"), "type": kind, "kernel": 2}
            if rng.random() < 0.2:
                layer["ceil_mode"] = True
                shape[:] = [c, -(-h // 2), -(-w // 2)]
            else:
                shape[:] = [c, h // 2, w // 2]
        elif roll < 0.7:
            layer = {"name": names("drop"), "type": "dropout", "p": rng.choice([0.0, 0.1, 0.5, 1.0])}
        elif roll < 0.77 and depth < 3:
            inner = list(shape)
            body = _valid_layers(rng, inner, rng.randint(1, 3), _Names(rng, names.odd), depth + 1)
            kind = rng.choice(["sequential", "repeat"]) if inner != shape else rng.choice(
                ["sequential", "repeat", "residual", "side"])
            layer = {"name": names(kind), "type": kind, "layers": body}
            if kind == "repeat":
                layer["times"] = rng.randint(1, 3)
                if inner != shape:  # a repeat must keep its shape to chain
                    layer["type"] = "sequential"
                    layer.pop("times")
            if kind == "side":
                layer["layers"] = [{"type": "global_avgpool"}, {"type": "flatten"}, {"type": "linear", "out": 3}]
            elif kind != "residual" or inner == shape:
                if layer["type"] in ("sequential", "repeat"):
                    shape[:] = inner
        elif roll < 0.83 and depth < 3:
            outs = [rng.choice([1, 2, 4, 8]) for _ in range(rng.randint(2, 3))]
            layer = {"name": names("mix"), "type": "concat",
                     "branches": [[{"name": "conv", "type": "conv", "out": o, "kernel": 1}] for o in outs]}
            shape[:] = [sum(outs), h, w]
        elif roll < 0.87 and depth < 3:
            layer = {"name": names("se"), "type": "se", "reduction": rng.choice([1, 2, 4])}
        elif roll < 0.9 and layers:
            named = [item["name"] for item in layers if item.get("type") in ACTS + ["batchnorm"]]
            if not named:
                continue
            layer = {"name": names("join"), "type": rng.choice(["add", "mul"]), "from": [named[-1], layers[-1]["name"]]}
        elif roll < 0.93 and c % 4 == 0 and rng.random() < 0.5:
            layer = {"name": names("shuffle"), "type": "channel_shuffle", "groups": 2}
        elif roll < 0.96 and h >= 1:
            layer = {"name": names("up"), "type": "upsample", "scale_factor": 2}
            shape[:] = [c, h * 2, w * 2]
        else:
            layer = {"name": names("id"), "type": "identity"}
        layers.append(layer)
    return layers


def valid_spec(rng: random.Random, odd: float = 0.1) -> dict:
    names = _Names(rng, odd)
    size = rng.choice([1, 4, 8, 16, 32])
    shape = [rng.choice([1, 3, 4]), size, size]
    document: dict[str, Any] = {"name": rng.choice(ODD_NAMES) if rng.random() < odd else f"net{rng.randrange(10**6)}",
                                "input": list(shape)}
    if rng.random() < 0.1:
        document["notes"] = rng.choice(["free text", "x" * 1000, "\u202e", "a\nb"])
    layers = _valid_layers(rng, shape, rng.randint(1, 12), names)
    if rng.random() < 0.6:
        layers += [{"name": names("gap"), "type": "global_avgpool"}, {"name": names("flat"), "type": "flatten"},
                   {"name": names("fc"), "type": "linear", "out": rng.choice([1, 10, 1000])}]
    document["layers"] = layers
    if rng.random() < 0.1:
        document["blocks"] = {"unit": {"params": ["width"], "type": "sequential",
                                       "layers": [{"name": "c", "type": "conv", "out": "$width", "kernel": 1},
                                                  {"name": "r", "type": "relu"}]}}
        document["layers"].insert(0, {"name": names("unit"), "type": "unit", "width": rng.choice([1, 4, 8])})
    return document


def _random_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(HOSTILE_INTS)
    if roll < 0.45:
        return rng.choice([0.0, -0.5, 0.5, 1.0, 1e-300, 1e300, float("inf"), float("-inf"), float("nan")])
    if roll < 0.55:
        return rng.choice([True, False, None])
    if roll < 0.7:
        return rng.choice(["same", "valid", "x", "", "relu", "$width", "channels", "chw", "nearest", "bilinear",
                           "zeros", "reflect", "row", "batch", "input"] + ODD_NAMES[:8])
    if roll < 0.85:
        return [rng.choice(HOSTILE_INTS) for _ in range(rng.randint(0, 4))]
    if roll < 0.95:
        return {"type": rng.choice(["relu", "conv"]), "out": 2, "kernel": 1}
    return [[{"type": "relu"}], {"type": "identity"}]


def _layer_types() -> dict[str, list[str]]:
    import dataclasses
    from cnncost.layers import LAYER_TYPES
    return {name: [("from" if f.name == "inputs" else f.name) for f in dataclasses.fields(cls)]
            for name, cls in sorted(LAYER_TYPES.items())}


_TYPES: dict[str, list[str]] | None = None


def random_layer(rng: random.Random) -> dict:
    global _TYPES
    if _TYPES is None:
        _TYPES = _layer_types()
    kind = rng.choice(list(_TYPES))
    layer: dict[str, Any] = {"type": kind}
    for name in _TYPES[kind]:
        if rng.random() < 0.5:
            layer[name] = _random_value(rng) if name != "name" else rng.choice(ODD_NAMES + PLAIN_NAMES)
    if rng.random() < 0.05:
        layer[rng.choice(["bogus", "outs", "kernal", "1", ""])] = 1
    return layer


def mutate(rng: random.Random, document: dict) -> dict:
    """One to three structural mutations of a spec document."""
    for _ in range(rng.randint(1, 3)):
        layers = document.get("layers")
        roll = rng.random()
        if isinstance(layers, list) and layers and roll < 0.5:
            target = rng.choice(layers)
            if isinstance(target, dict):
                keys = list(target)
                action = rng.random()
                if action < 0.5 and keys:
                    target[rng.choice(keys)] = _random_value(rng)
                elif action < 0.7 and keys:
                    target.pop(rng.choice(keys))
                elif action < 0.85:
                    target["type"] = rng.choice(list(_TYPES or _layer_types()))
                else:
                    target["from"] = rng.choice([["input"], ["nowhere"], [target.get("name", "x")], "input", [1]])
        elif isinstance(layers, list) and roll < 0.65:
            layers.insert(rng.randrange(len(layers) + 1), random_layer(rng))
        elif roll < 0.75:
            key = rng.choice(["name", "input", "layers", "notes", "blocks", "outputs", "extra"])
            document[key] = _random_value(rng)
        elif roll < 0.85:
            document["input"] = rng.choice([[3, 8, 8], [3, 10**30, 10**30], [1], [3, 0, 8], "3x8x8", "224",
                                            [3, 8, 8, 8], [int("9" * 4000), 1, 1], [3, 8.5, 8], None])
        elif isinstance(layers, list) and roll < 0.95:
            layers.append(dict(layers[0]) if layers and isinstance(layers[0], dict) else {"type": "relu"})
        else:
            document["outputs"] = rng.choice([["nope"], [], "x", [None], [document.get("name")]])
    return document


def nested(depth: int, leaf: str = "{type: relu}", kind: str = "sequential") -> str:
    text = leaf
    for i in range(depth):
        text = f"{{name: n{i}, type: {kind}, layers: [{text}]}}"
    return text


def laughs(levels: int, leaf: str = "lol", layers: bool = False) -> str:
    """A list whose item i holds ten aliases of item i - 1: 10^levels leaves once expanded."""
    items = [f"&a0 [{', '.join([leaf] * 10)}]"]
    items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    if layers:
        items = ["{type: sequential, layers: " + item.replace("*a", "{type: sequential, layers: *a").replace(
            "], ", "]}, ") + "}" for item in items]
        items = [re.sub(r"(\*a\d+)(?=[,\]])", r"\1}", item) for item in items]
    return "[" + ", ".join(items) + "]"


def hostile_yaml(rng: random.Random) -> str:
    head = "name: h\ninput: [3, 8, 8]\n"
    levels = rng.choice([2, 3, 4, 6, 7, 9])  # 10^5 (legal, but seconds to tabulate) left out
    choices = [
        # alias expansion ("billion laughs") in layers, names and notes
        lambda: head + "layers: " + laughs(levels, "{type: relu}", layers=True) + "\n",
        lambda: f"name: {laughs(levels)}\ninput: [3, 8, 8]\nlayers: [{{type: relu}}]\n",
        lambda: head + f"notes: {laughs(levels)}\nlayers: [{{type: relu}}]\n",
        # recursive aliases
        lambda: "name: &a [*a]\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n",
        lambda: head + "layers: &a [{type: sequential, layers: *a}]\n",
        lambda: head + "layers: [&a {type: residual, layers: [*a]}]\n",
        # tags on wrong values and tags that are not data
        lambda: rng.choice(["name: !!int x\n", "name: !!float x\n", "name: !!bool maybe\n", "name: !!null x\n",
                            "name: !!binary aGk=\n", "name: !!timestamp 2001-99-99\n", "name: !!set {a}\n",
                            "name: !!python/object:os.system x\n", "name: !foo x\n", "name: !!str [1]\n",
                            "name: !!map x\n", "name: !!omap [a: 1]\n", "name: 2024-01-01\n"])
        + "input: [3, 8, 8]\nlayers: [{type: conv, out: " + rng.choice(["!!int x", "!!float 2", "!!str 3", "4"])
        + ", kernel: 1}]\n",
        # duplicate keys
        lambda: "name: a\nname: b\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n",
        lambda: head + "layers: [{type: conv, out: 2, out: 3, kernel: 1}]\n",
        lambda: "b: &b {type: conv, out: 2, kernel: 1}\n" + head + "layers: [{<<: *b, out: 4}]\n".replace("b: &b", ""),
        # huge integers, in the input and in the result
        lambda: head + f"layers: [{{type: conv, out: {'9' * rng.choice([4299, 4301, 5000, 100000])}, kernel: 1}}]\n",
        lambda: f"name: h\ninput: [3, {'9' * rng.choice([20, 300, 2000, 4300])}, 1]\nlayers: [{{type: conv, out: "
        f"{'7' * rng.choice([1, 30, 1000])}, kernel: 1}}, {{type: flatten}}, {{type: linear, out: {'8' * 200}}}]\n",
        lambda: head + "layers: [{type: conv, out: 0x" + "f" * rng.choice([10, 5000]) + ", kernel: 1}]\n",
        lambda: head + "layers: [{type: conv, out: " + ":".join(["59"] * rng.choice([3, 3000])) + ", kernel: 1}]\n",
        lambda: head + "layers: [{type: conv, out: 1e400, kernel: .inf}]\n",
        # deep nesting
        lambda: head + "layers: [" + nested(rng.choice([10, 60, 100, 127, 200, 500]),
                                            kind=rng.choice(["sequential", "residual", "side", "gate"])) + "]\n",
        lambda: head + "layers: " + "[" * rng.choice([100, 999, 1001, 5000]) + "]" * 1 + "\n",
        lambda: "name: h\ninput: [3, 8, 8]\nlayers:\n" + "".join("  " * i + "- type: sequential\n" + "  " * i
                                                                 + "  layers:\n" for i in range(rng.choice([50, 130])))
        + "  " * 130 + "- {type: relu}\n",
        # expansion through repeats and templates
        lambda: head + "layers: [{type: repeat, times: " + str(rng.choice([10, 100, 5000, 10**9]))
        + ", layers: [{type: repeat, times: " + str(rng.choice([2, 100, 10**5])) + ", layers: [{type: relu}]}]}]\n",
        lambda: "name: t\ninput: [3, 8, 8]\nblocks:\n" + "".join(
            f"  b{i}: {{type: sequential, layers: [{{name: x, type: b{i - 1}}}, {{name: y, type: b{i - 1}}}]}}\n"
            for i in range(1, rng.choice([5, 20, 31]))).replace("type: b0}", "type: relu}")
        + f"layers: [{{type: b{rng.choice([4, 19, 30])}}}]\n",
        lambda: "name: t\ninput: [3, 8, 8]\nblocks:\n  me: {type: sequential, layers: [{type: me}]}\nlayers: [{type: me}]\n",
        # many layers
        lambda: head + "layers:\n" + "  - {type: relu}\n" * rng.choice([1000, 3000]),
        lambda: head + "layers:\n" + "  - {type: conv, out: 3, kernel: 1, padding: 0}\n" * rng.choice([500, 2000]),
        # odd documents
        lambda: rng.choice(["", "~", "[]", "42", "- a\n- b\n", "{}", "name: x", "---\n...\n", "a: 1\n---\nb: 2\n",
                            "? [1, 2]\n: x\n", "{1: 2}\n", "name: x\ninput: [3,8,8]\nlayers: {}\n",
                            "name: x\ninput: [3,8,8]\nlayers: [1, 2]\n", "name: x\ninput: [3,8,8]\nlayers: [[]]\n",
                            "\t\tname: x\n", "name: 'unterminated\n", "layers: [{type: relu}\n", "*x\n", "&a\n",
                            "name: x\ninput: [3,8,8]\nlayers: [{type: relu, name: {a: 1}}]\n"]),
        # control characters and odd unicode, raw or escaped
        lambda: head.replace("name: h", "name: \"" + rng.choice(["\\x1b[31m", "\\n", "\\u202e", "\\ud800",
                                                                "\\U0001F600", "\\0", "\\x85", "\\u2028"]) + "\"")
        + "layers: [{type: conv, out: 4, kernel: 30}]\n",
        lambda: head + "layers: [{name: \"" + rng.choice(["a\\nb", "\\x1b]0;x\\x07", "\\t", "\\u200b"])
        + "\", type: conv, out: 4, kernel: 30}]\n",
        lambda: head.replace("h", rng.choice(["\x01", "\x1b", "\x7f", "\u0085", "\u2028", "\ufeff", "\x0c"]))
        + "layers: [{type: relu}]\n",
        lambda: head + "layers: [{type: " + rng.choice(["'\\u202e'", "\"\\n\"", "x" * 5000, "'<b>'"]) + "}]\n",
    ]
    return rng.choice(choices)()


def _emit(rng: random.Random, document: Any) -> str:
    style = rng.random()
    try:
        if style < 0.5:
            return yaml.safe_dump(document, sort_keys=False, allow_unicode=rng.random() < 0.5, width=120)
        if style < 0.8:
            return yaml.safe_dump(document, sort_keys=False, default_flow_style=True, width=1 << 16)
        return json.dumps(document, ensure_ascii=rng.random() < 0.5)  # JSON is YAML (mostly)
    except (ValueError, TypeError, OverflowError):  # e.g. a value json cannot write
        return yaml.safe_dump(document, sort_keys=False)


def _break_bytes(rng: random.Random, data: bytes) -> bytes:
    roll = rng.random()
    if roll < 0.15:
        return data.decode("utf-8", "replace").encode(rng.choice(["utf-16", "utf-16-le", "utf-32"]))
    if roll < 0.25:
        return data.decode("utf-8", "replace").encode("latin-1", "replace").replace(b"n", b"\xe9", 1)
    if roll < 0.3:
        return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\x1f\x8b\x08", b"\x00", b"PK\x03\x04"]) + data
    if roll < 0.35:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not data:
            break
        i = rng.randrange(len(data))
        action = rng.random()
        if action < 0.4:
            data[i] = rng.choice(b"{}[]:,-&*!|>'\"#%@`\n\t \x00\x01\xff\xc3")
        elif action < 0.7:
            del data[i:i + rng.randint(1, 20)]
        else:
            data[i:i] = bytes(rng.choice([b": ", b"\n  ", b"- ", b"*a", b"&a ", b"!!int ", b"{", b"]", b"\xe2\x80\xae"]))
    if rng.random() < 0.2:
        data = data[:rng.randrange(len(data) + 1)]
    return bytes(data)


FORMATS = ("text", "markdown", "csv", "json", "html", "latex")


def _options(rng: random.Random, command: str) -> list[str]:
    out: list[str] = []
    if command in ("table", "compare"):
        if rng.random() < 0.4:
            out += ["--batch", str(rng.choice([1, 2, 3, 128, 10**6, 10**18, 10**30, 10**300]))]
        if rng.random() < 0.3:
            out += ["--dtype", rng.choice(["fp32", "fp16", "bf16", "fp64", "int8", "half"])]
        if rng.random() < 0.2:
            out += ["--optimizer", rng.choice(["sgd", "momentum", "adam", "adamw"])]
        if rng.random() < 0.1:
            out += ["--input", rng.choice(["3x8x8", "1x1x1", "3x64x64", "16", "3x100000x100000"])]
        formats = FORMATS if command == "table" else ("text", "markdown", "csv", "json", "html")
        out += ["--format", rng.choice(formats)]
        if out[-1] == "csv" and rng.random() < 0.3:  # issue 21: formulas neutralised on request
            out.append("--csv-safe")
    if command == "table":
        if rng.random() < 0.25:
            out += ["--memory", "autograd"]
        elif rng.random() < 0.15:
            out += ["--activations", "lecture"]
        if rng.random() < 0.2:
            out += ["--depth", str(rng.choice([0, 1, 2, 5]))]
    if command == "fit":
        out += ["--budget", rng.choice(["1GiB", "80GiB", "1B", "16MiB", "1000000TiB", "0.5KiB"]),
                "--format", rng.choice(["text", "markdown", "json"])]
        if rng.random() < 0.3:
            out += ["--dtype", rng.choice(["fp32", "bf16", "fp16", "fp64"])]
        if rng.random() < 0.2:
            out += ["--mode", "inference"]
    return out


def generate(seed: int, index: int) -> Case:
    """Case `index` of `seed`: always the same."""
    rng = random.Random(f"{seed}:{index}")
    roll = rng.random()
    if roll < 0.3:
        kind, text = "valid", _emit(rng, valid_spec(rng))
    elif roll < 0.55:
        kind, text = "mutated", _emit(rng, mutate(rng, valid_spec(rng, odd=0.3)))
    elif roll < 0.65:
        document = {"name": "r", "input": [rng.choice([1, 3]), 8, 8],
                    "layers": [random_layer(rng) for _ in range(rng.randint(1, 5))]}
        kind, text = "random-layers", _emit(rng, document)
    elif roll < 0.9:
        kind, text = "hostile", hostile_yaml(rng)
    else:
        kind, text = "bytes", None
    data = text.encode("utf-8", "surrogatepass") if text is not None else _break_bytes(
        rng, _emit(rng, valid_spec(rng)).encode("utf-8", "surrogatepass"))
    command = rng.choices(["table", "compare", "spec", "fit"], weights=[80, 7, 6, 7])[0]
    if command == "compare":
        other = _emit(rng, valid_spec(rng)).encode("utf-8", "surrogatepass")
        files = [data, other] if rng.random() < 0.5 else [other, data]
        return Case(kind, ["compare", "FILE", "FILE2"] + _options(rng, command), files)
    if rng.random() < 0.05:
        return Case(kind, [command, "-"] + _options(rng, command), [], stdin=data)
    return Case(kind, [command, "FILE"] + _options(rng, command), [data])


def generate_check(seed: int, index: int) -> Case:
    """Case `index` of `seed` for `cnncost check` (PyTorch): small valid or mutated nets."""
    rng = random.Random(f"check:{seed}:{index}")
    document = valid_spec(rng, odd=0.3)
    kind = "valid"
    if rng.random() < 0.3:
        kind, document = "mutated", mutate(rng, document)
    argv = ["check", "FILE", "--batch", str(rng.choice([1, 2, 3])),
            "--dtype", rng.choice(["fp32", "fp64", "bf16", "fp16"]),
            "--format", rng.choice(["text", "markdown", "csv", "json"])]
    if rng.random() < 0.1:
        argv += ["--device", rng.choice(["meta", "mps", "cuda:x", "cpu"])]
    return Case(f"check-{kind}", argv, [_emit(rng, document).encode("utf-8", "surrogatepass")])


# --- running ---

class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` swallows it."""


@dataclass
class Outcome:
    cls: str            # ok | error:<what> | traceback | hang | slow | bad-output
    seconds: float
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.cls in ("traceback", "hang", "slow", "bad-output")


_ERROR_CLASSES = [
    ("read", r"cannot read spec|not a regular file|limit for spec files"),
    ("encoding", r"not UTF-8|UTF-16|UTF-32|binary data|compressed|zip archive|not valid Unicode"),
    ("yaml-limit", r"expands to more than|nests deeper|recursive alias|more than [\d,]+ nodes"),
    ("yaml-duplicate", r"duplicate key"),
    ("yaml-tag", r"tag |is not an integer|is not a number|is not a boolean|is not null|digit limit"),
    ("yaml", r"invalid YAML"),
    ("graph-limit", r"expands to more than|more than [\d,]+ nodes|expands into itself|nest"),
    ("unknown-type", r"unknown layer type|unknown field|unknown top-level|unknown parameter"),
    ("field", r"field '|must be|missing field|missing top-level|missing parameter"),
    ("shape", r"input shape|shape|channels|larger than|does not fit|divisible"),
    ("option", r"argument --|expected a memory size|memory budget|unknown dtype|use one or the other"),
    ("unexpected", r"unexpected \w+ in|a bug"),
]


def classify_error(line: str) -> str:
    for name, pattern in _ERROR_CLASSES:
        if re.search(pattern, line):
            return name
    return "other"


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _parse_int(text: str) -> int | str:
    return int(text) if len(text) < 4000 else text  # json.loads stops at Python's 4,300 digits


def check_output(argv: list[str], out: str) -> str | None:
    """What is wrong with a successful command's output, or None."""
    if not out.strip():
        return "empty output"
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else "text"
    command = argv[0]
    if fmt == "json":
        def refuse(name: str) -> None:
            raise ValueError(f"JSON holds {name}")
        try:
            data = json.loads(out, parse_constant=refuse, parse_int=_parse_int)
        except ValueError as error:
            return f"invalid JSON: {error}"
        if not isinstance(data, dict):
            return "JSON is not an object"
        return None
    if command == "spec":
        return None
    if fmt == "csv":  # issue 21: no raw control byte; formulas neutralised only under --csv-safe
        if _CONTROL.search(out):
            return f"control character {_CONTROL.search(out).group()!r} in CSV output"
        rows = list(csv.reader(io.StringIO(out)))
        if len({len(row) for row in rows}) > 1:
            return "CSV rows of different lengths"
        for r, row in enumerate(rows):
            for cell in row[:1] if r and "--csv-safe" in argv else ():
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[-+]?\d+(\.\d*)?", cell):
                    return f"CSV cell {cell[:40]!r} would run as a formula under --csv-safe"
        return None
    if _CONTROL.search(out):
        return f"control character {_CONTROL.search(out).group()!r} in {fmt} output"
    if fmt == "html" and re.search(r"<(?!/?(div|table|colgroup|col|thead|tbody|tr|th|td|p|b|br|small|details|summary|wbr)\b)", out, re.I):
        return "unescaped '<' in HTML output"
    if fmt == "latex":
        for table in out.split("\\begin{tabular}")[1:]:
            rows = [line for line in table.split("\\end{tabular}")[0].splitlines() if line.endswith("\\\\")]
            if len({len(re.findall(r"(?<!\\)&", row)) for row in rows}) > 1:
                return "an unescaped '&' in a LaTeX row"
    return None


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer"):  # no alarm on this platform: no hard bound
        yield
        return

    def ring(signum: int, frame: Any) -> None:
        raise CaseTimeout()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def memory_bound(headroom: int = MEMORY_HEADROOM) -> Iterator[None]:
    """Cap the process's address space at its current size + headroom (Linux), restore after."""
    if resource is None:
        yield
        return
    try:
        with open("/proc/self/statm") as handle:
            current = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError, AttributeError):
        yield
        return
    limit = current + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_case(case: Case, workdir: Path, soft: float = SOFT_LIMIT_S, hard: float = HARD_LIMIT_S) -> Outcome:
    from cnncost.cli import main
    paths = []
    for i, data in enumerate(case.files):
        path = workdir / f"spec{i}.yaml"
        path.write_bytes(data)
        paths.append(str(path))
    argv = [paths[0] if a == "FILE" else paths[1] if a == "FILE2" else a for a in case.argv]
    out_buffer, err_buffer = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out_buffer, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err_buffer, encoding="utf-8", errors="strict", write_through=True)
    stdin = io.TextIOWrapper(io.BytesIO(case.stdin or b""), encoding="utf-8")
    saved = sys.stdout, sys.stderr, sys.stdin
    saved_debug = os.environ.get("CNNCOST_DEBUG")
    os.environ["CNNCOST_DEBUG"] = "1"  # an unexpected exception is re-raised: a traceback here
    start = time.perf_counter()
    code: Any = None
    problem: str | None = None
    try:
        sys.stdout, sys.stderr, sys.stdin = stdout, stderr, stdin
        with _alarm(hard):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = exit_.code
    except CaseTimeout:
        return Outcome("hang", time.perf_counter() - start, f"interrupted after {hard:.0f} s")
    except BaseException as error:  # noqa: BLE001  what the fuzzer is looking for
        if isinstance(error, KeyboardInterrupt):
            raise
        problem = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
        if saved_debug is None:
            os.environ.pop("CNNCOST_DEBUG", None)
        else:
            os.environ["CNNCOST_DEBUG"] = saved_debug
    seconds = time.perf_counter() - start
    if problem is not None:
        return Outcome("traceback", seconds, problem)
    out = out_buffer.getvalue().decode("utf-8", "replace")
    err = err_buffer.getvalue().decode("utf-8", "replace")
    if seconds > soft:
        return Outcome("slow", seconds, f"took {seconds:.2f} s (bound {soft} s); exit {code}")
    if code == 2:
        lines = err.split("\n")
        if len(lines) != 2 or lines[1] != "" or not lines[0].startswith("cnncost: error: "):
            return Outcome("bad-output", seconds, f"exit 2 but stderr is not one error line: {err[:2000]!r}")
        if _CONTROL.search(lines[0]):
            return Outcome("bad-output", seconds, f"control character in the error line: {lines[0][:500]!r}")
        if out:
            return Outcome("bad-output", seconds, f"exit 2 with output: {out[:300]!r}")
        return Outcome("error:" + classify_error(lines[0]), seconds, lines[0])
    if code == 0 or (code == 1 and argv[0] == "fit"):
        if err:
            return Outcome("bad-output", seconds, f"exit {code} with stderr: {err[:500]!r}")
        wrong = check_output(argv, out)
        if wrong:
            return Outcome("bad-output", seconds, f"{wrong}; output starts {out[:500]!r}")
        return Outcome("ok", seconds)
    return Outcome("bad-output", seconds, f"exit {code!r}; stderr {err[:500]!r}")


def fuzz(cases: int, seed: int = 0, soft: float = SOFT_LIMIT_S, hard: float = HARD_LIMIT_S,
         progress: bool = False, examples: dict[str, list[str]] | None = None, check_cases: int = 0
         ) -> tuple[Counter, list[tuple[int, Case, Outcome]], list[float]]:
    """Run `cases` cases; the outcome classes, the failures and every case's time (`examples`, if
    given, collects a few error lines per class)."""
    classes: Counter = Counter()
    failures: list[tuple[int, Case, Outcome]] = []
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cnncost-fuzz-") as tmp, memory_bound():
        workdir = Path(tmp)
        for i in range(cases + check_cases):
            case = generate(seed, i) if i < cases else generate_check(seed, i - cases)
            outcome = run_case(case, workdir, soft, hard)
            classes[outcome.cls] += 1
            times.append(outcome.seconds)
            if outcome.failed:
                failures.append((i, case, outcome))
            elif examples is not None and outcome.cls.startswith("error:"):
                bucket = examples.setdefault(outcome.cls, [])
                if len(bucket) < 8:
                    bucket.append(outcome.detail[:300])
            if progress and (i + 1) % 1000 == 0:
                print(f"  {i + 1:,} cases, {len(failures)} failures", file=sys.stderr, flush=True)
    return classes, failures, times


def report(classes: Counter, failures: list, times: list[float], wall: float) -> str:
    ordered = sorted(times)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    lines = [f"{len(times):,} cases in {wall:.1f} s ({len(times) / wall:,.0f}/s); per case ms: "
             f"mean {sum(times) / max(len(times), 1) * 1000:.1f}, p50 {q(0.5):.1f}, p99 {q(0.99):.1f}, "
             f"max {max(times, default=0) * 1000:.0f}"]
    for name, count in sorted(classes.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {name:28} {count:8,}")
    lines.append(f"tracebacks: {classes['traceback']}, hangs: {classes['hang']}, slow: {classes['slow']}, "
                 f"bad output: {classes['bad-output']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soft", type=float, default=SOFT_LIMIT_S, help="seconds after which a case is 'slow'")
    parser.add_argument("--hard", type=float, default=HARD_LIMIT_S, help="seconds after which a case is interrupted")
    parser.add_argument("--save-failures", type=Path, metavar="DIR", help="write each failing case there")
    parser.add_argument("--show", type=int, default=5, help="failures to print (default 5)")
    parser.add_argument("--examples", action="store_true", help="print a few error lines of each class")
    parser.add_argument("--check", type=int, default=0, metavar="N",
                        help="also N cases of `cnncost check` (needs PyTorch; about 15 ms each)")
    parser.add_argument("--targets", type=int, default=0, metavar="N",
                        help="run issue 21's targets instead (benchmarks/fuzz_targets.py): N in-process cases each of "
                             "onnx and csv-names, N/20 of deprecated, and N/20 real-process cases each of pyspec, "
                             "write, special-file")
    args = parser.parse_args(argv)
    if args.targets:
        return _run_targets(args.targets, args.seed)
    start = time.perf_counter()
    examples: dict[str, list[str]] = {}
    classes, failures, times = fuzz(args.cases, args.seed, args.soft, args.hard, progress=True, examples=examples,
                                    check_cases=args.check)
    print(report(classes, failures, times, time.perf_counter() - start))
    if args.examples:
        for name, lines in sorted(examples.items()):
            print(f"\n{name}:\n" + "\n".join(f"  {line}" for line in lines))
    for i, case, outcome in failures[:args.show]:
        print(f"\n=== case {i} (seed {args.seed}): {outcome.cls} ===\n{case.show(1500)}\n--- detail ---\n"
              f"{outcome.detail[-4000:]}")
    if args.save_failures:
        args.save_failures.mkdir(parents=True, exist_ok=True)
        for i, case, outcome in failures:
            (args.save_failures / f"case{i}.txt").write_text(
                f"{case.show(10**7)}\n--- {outcome.cls} ---\n{outcome.detail}", encoding="utf-8", errors="backslashreplace")
    return 1 if failures else 0


def _run_targets(count: int, seed: int) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fuzz_targets
    counts = {name: count if name in fuzz_targets.IN_PROCESS else max(1, count // 20) for name in fuzz_targets.TARGETS}
    counts["deprecated"] = max(1, count // 20)  # two `fit` runs a case
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnncost-fuzz-targets-") as tmp:
        results, failures = fuzz_targets.run_targets(counts, seed, Path(tmp))
    print(f"issue 21 targets, seed {seed}, {sum(counts.values()):,} cases in {time.perf_counter() - start:.0f} s")
    for name, classes in results.items():
        print(f"  {name:14} " + ", ".join(f"{cls} {n:,}" for cls, n in sorted(classes.items())))
    print(f"failures: {len(failures)}")
    for line in failures[:10]:
        print("  " + line[:1000])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
