"""A small calculator written apart from cnncost, from PyTorch's documented formulas, on the plain
YAML data: per-sample output shape, params and MACs of every leaf row. It shares no code with the
engine, so the fuzz and property tests can check the engine against it.

`rows(spec)` returns {path: (output_shape, params, macs)}, or None for a spec using something
this calculator does not know (the caller then skips it).
"""
from __future__ import annotations

from typing import Any

ACTIVATIONS = {"relu", "relu6", "leaky_relu", "silu", "hardswish", "sigmoid", "tanh", "gelu", "dropout",
               "hardsigmoid", "hardtanh", "mish", "identity", "batchnorm", "lrn"}


class Unknown(Exception):
    """Something this calculator does not model."""


def _pair(v: Any) -> tuple[int, int]:
    return (v[0], v[1]) if isinstance(v, (list, tuple)) else (v, v)


def _out_len(n: int, k: int, s: int, p0: int, p1: int, d: int, ceil: bool) -> int:
    # torch.nn.Conv2d / MaxPool2d docs: floor((n + 2p - d(k-1) - 1) / s + 1); ceil_mode rounds up but a
    # window must start inside the input or the left padding.
    eff = d * (k - 1) + 1
    if n + p0 + p1 < eff:
        raise ValueError("window larger than input")
    num = n + p0 + p1 - eff
    out = (num + s - 1) // s + 1 if ceil else num // s + 1
    if ceil and (out - 1) * s >= n + p0:
        out -= 1
    return out


def _conv(item: dict, c: int, h: int, w: int) -> tuple[tuple[int, ...], int, int]:
    kh, kw = _pair(item["kernel"])
    sh, sw = _pair(item.get("stride", 1))
    dh, dw = _pair(item.get("dilation", 1))
    g, out = item.get("groups", 1), item["out"]
    pad = item.get("padding", 0)
    if pad == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        ph, pw = (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    elif pad == "valid":
        ph = pw = (0, 0)
    else:
        a, b = _pair(pad)
        ph, pw = (a, a), (b, b)
    oh, ow = _out_len(h, kh, sh, *ph, dh, False), _out_len(w, kw, sw, *pw, dw, False)
    params = out * (c // g) * kh * kw + (out if item.get("bias", True) else 0)
    return (out, oh, ow), params, out * oh * ow * (c // g) * kh * kw


def _leaf(item: dict, x: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    kind = item["type"]
    if kind == "conv":
        return _conv(item, *x)
    if kind in ("maxpool", "avgpool"):
        c, h, w = x
        kh, kw = _pair(item["kernel"])
        sh, sw = _pair(item.get("stride") or item["kernel"])
        ph, pw = _pair(item.get("padding", 0))
        ceil = item.get("ceil_mode", False)
        return (c, _out_len(h, kh, sh, ph, ph, 1, ceil), _out_len(w, kw, sw, pw, pw, 1, ceil)), 0, 0
    if kind == "adaptive_avgpool":
        return (x[0], *_pair(item["output"])), 0, 0
    if kind == "global_avgpool":
        return (x[0], 1, 1), 0, 0
    if kind == "flatten":
        n = 1
        for d in x:
            n *= d
        return (n,), 0, 0
    if kind == "linear":  # nn.Linear: on the last dim, every leading element a row
        rows = 1
        for d in x[:-1]:
            rows *= d
        out = item["out"]
        return (*x[:-1], out), x[-1] * out + (out if item.get("bias", True) else 0), rows * x[-1] * out
    if kind == "batchnorm":
        return x, 2 * x[0] if item.get("affine", True) else 0, 0
    if kind in ACTIVATIONS:
        return x, 0, 0
    raise Unknown(kind)


def rows(spec: dict) -> dict[str, tuple[tuple[int, ...], int, int]] | None:
    """Leaf rows of a spec given as plain data (a chain of layers, sequential / residual / concat
    blocks, add / concat merges reading named tensors). Merge rows are included."""
    try:
        out: dict[str, tuple[tuple[int, ...], int, int]] = {}
        named = {"input": tuple(spec["input"])}
        _walk(spec["layers"], tuple(spec["input"]), "", out, named)
        return out
    except (Unknown, KeyError, TypeError, ValueError):  # unknown here, or not computable
        return None


def _broadcast(shapes: list) -> tuple[int, ...]:
    """torch's broadcasting of per-sample shapes of one rank: each dim the one size other than 1."""
    return tuple(max(sizes) for sizes in zip(*shapes))


def _walk(layers: list, x: tuple[int, ...], prefix: str, out: dict, named: dict) -> tuple[int, ...]:
    for i, item in enumerate(layers):
        kind = item["type"]
        path = prefix + str(item.get("name", f"{kind}{i}"))
        if "from" in item:
            refs = item["from"] if isinstance(item["from"], list) else [item["from"]]
            shapes = [_lookup(named, prefix, r) for r in refs]
        else:
            shapes = [x]
        if kind == "add" or (kind == "concat" and "branches" not in item):
            y = _broadcast(shapes) if kind == "add" else (sum(s[0] for s in shapes), *shapes[0][1:])
            out[path] = (y, 0, 0)
        elif kind == "sequential":
            y = _walk(item["layers"], shapes[0], path + ".", out, named)
        elif kind == "residual":
            y = _walk(item["layers"], shapes[0], path + ".", out, named)
            if item.get("shortcut"):
                _walk(item["shortcut"], shapes[0], path + ".shortcut.", out, named)
            out[path + ".add"] = (y, 0, 0)
        elif kind == "concat":
            ys = [_walk(b, shapes[0], f"{path}.branch{j + 1}.", out, named) for j, b in enumerate(item["branches"])]
            y = (sum(s[0] for s in ys), *ys[0][1:])
            out[path + ".concat"] = (y, 0, 0)
        else:
            y, params, macs = _leaf(item, shapes[0])
            out[path] = (y, params, macs)
        named[path] = y
        x = y
    return x


def _lookup(named: dict, prefix: str, ref: str) -> tuple[int, ...]:
    scope = prefix.rstrip(".")
    while True:
        key = f"{scope}.{ref}" if scope else ref
        if key in named:
            return named[key]
        if not scope:
            raise KeyError(ref)
        scope = scope.rpartition(".")[0]
