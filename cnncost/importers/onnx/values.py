"""The values an ONNX graph carries besides tensors (weights, random noise) and the attribute
helpers the handlers share."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..graphbuild import TV, Unsupported
from ..lowering import pair_or_int

# Ops that only reshape or retype: a weight through them is the same weight.
# Expand: a class token expanded over the batch before its Concat.
SHAPE_ONLY = {"Identity", "Cast", "CastLike", "Transpose", "Reshape", "Unsqueeze", "Squeeze", "Expand"}


@dataclass
class W:
    """A weight (initializer or weight input): name, full shape, data when the file has it."""

    name: str
    shape: tuple[int, ...]
    data: Any = None


@dataclass
class Noise:
    """A random tensor (stochastic depth's noise): full shape and keep probability."""

    shape: tuple[int, ...]
    keep: float | None = None


@dataclass
class Fused:
    """Nodes that one row stands for (an exported sdpa, a MultiheadAttention module): `skip`, the
    nodes not walked; `emit(imp, node)`, run at the last one instead of its handler."""

    skip: list[int]
    emit: Any


def safe(text: str) -> str:
    """A node name as a row name: no dots, slashes or spaces."""
    out = re.sub(r"[./\s]+", "_", text).strip("_")
    return out or "node"


def ints(value: Any) -> tuple[int, ...]:
    import numpy as np
    return tuple(int(v) for v in np.asarray(value).reshape(-1))


def scalar(v: Any) -> float | None:
    """A one-element constant (or weight with data) as a float; None for anything else."""
    import numpy as np
    if isinstance(v, W):
        v = v.data
    if v is None:
        return None
    a = np.asarray(v)
    if a.size != 1 or a.dtype.kind not in "fiub":
        return None
    return float(a.reshape(-1)[0])


def constant_ints(v: Any) -> tuple[int, ...] | None:
    """An input that should be constant ints (axes, pads, sizes): from a weight's data or a folded
    constant; None when absent or computed."""
    if isinstance(v, W):
        v = v.data
    return None if v is None else ints(v)


def text_attr(attrs: dict, name: str, default: str) -> str:
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def window(attrs: dict, spatial: int = 2) -> dict:
    """A conv's or pool's stride and symmetric padding over `spatial` dims (explicit pads or VALID
    only)."""
    pads = tuple(attrs.get("pads", (0,) * (2 * spatial)))
    auto = text_attr(attrs, "auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER") and set(attrs.get("strides", (1,))) == {1} and "kernel_shape" in attrs:
        # stride 1 (PyTorch's padding='same'): (k - 1) * d in all, the same on both sides where it is even
        total = [(k - 1) * d for k, d in zip(attrs["kernel_shape"], attrs.get("dilations", (1,) * spatial))]
        if all(t % 2 == 0 for t in total):
            pads = tuple(t // 2 for t in total) * 2
            auto = "NOTSET"
    if auto not in ("NOTSET", "VALID"):
        raise Unsupported(f"auto_pad {attrs['auto_pad']!r}")
    if pads[:spatial] != pads[spatial:]:
        raise Unsupported(f"asymmetric pads {list(pads)}")
    return {"stride": pair_or_int(tuple(attrs.get("strides", (1,) * spatial))), "padding": pair_or_int(pads[:spatial])}


def spatial_rank(attrs: dict, x_rank: int) -> int:
    """The spatial dims of a conv's or pool's input: the kernel's, else the input's rank less the channels."""
    kernel = attrs.get("kernel_shape")
    return len(kernel) if kernel else x_rank - 1


def no_extra_outputs(v: TV, node: Any) -> list:
    """A value for each output of `node`: v, then nothing (mask, statistics)."""
    return [v] + [None] * (len(node.output) - 1)
