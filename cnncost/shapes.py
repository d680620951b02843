"""Pure window arithmetic on per-sample shapes: tuples of any rank ((C, H, W) maps, (F,) vectors, ...).

Every formula here (and every layer's `out_shape`, `params` and `macs`) is branch-free in H and W:
it gives the same exact integers when H and W are Python ints (a table) or numpy int64 arrays, one
entry per input resolution (a sweep, `cnncost.sweep`). Conditions on sizes go through `holds`,
which accepts a bool or an array of them; nothing here imports numpy."""
from __future__ import annotations

from math import prod
from typing import Any

Shape = tuple[int, ...]
Pair = tuple[int, int]


def parse_shape(text: str) -> Shape:
    """A per-sample shape of any rank: '3x224x224' (or '3,224,224') -> (3, 224, 224),
    '3x16x112x112' -> (3, 16, 112, 112), '196x768' -> (196, 768). A single size keeps its old
    meaning, '224' -> 3x224x224; a vector is written with a trailing x, '768x' -> (768,).

    Raises ValueError with a message for anything else.

    >>> parse_shape("224"), parse_shape("768x"), parse_shape("3x8x32x32")
    ((3, 224, 224), (768,), (3, 8, 32, 32))
    """
    parts = text.lower().replace(",", "x").split("x")
    vector = len(parts) == 2 and parts[1] == "" and parts[0] != ""
    try:
        dims = tuple(int(v) for v in (parts[:1] if vector else parts))
    except ValueError:
        raise ValueError(f"expected a shape like 3x224x224 (any rank; a vector: 768x), got '{text}'") from None
    if len(dims) == 1 and not vector:
        dims = (3, dims[0], dims[0])
    if any(d < 1 for d in dims):
        raise ValueError(f"dimensions must be positive, got '{text}'")
    return dims


def parse_named_shape(text: str) -> tuple[str | None, Shape]:
    """One input of several: 'image1=3x440x1024' -> ('image1', (3, 440, 1024)); a shape alone has
    no name.

    >>> parse_named_shape("flow=2x64x64"), parse_named_shape("224")
    (('flow', (2, 64, 64)), (None, (3, 224, 224)))
    """
    name, sep, shape = text.rpartition("=")
    if not sep:
        return None, parse_shape(text)
    name = name.strip()
    if not name or "." in name or "=" in name:
        raise ValueError(f"expected NAME=SHAPE like image1=3x224x224 (a name without '.' or '='), got '{text}'")
    return name, parse_shape(shape)


def numel(shape: Shape) -> int:
    return prod(shape)


def pair(value: int | tuple[int, int] | list[int]) -> Pair:
    """7 -> (7, 7); [1, 7] -> (1, 7)."""
    if isinstance(value, (tuple, list)):
        return (value[0], value[1])
    return (value, value)


def window(size: Any, kernel: int, stride: int, pad_lo: int, pad_hi: int,
           dilation: int = 1, ceil_mode: bool = False) -> Any:
    """Output length of a sliding window, with PyTorch's rules (ceil_mode included).

    Returns a value < 1 when the window does not fit; callers turn that into an error.
    Branch-free in `size`, which may be an int or an int64 array (one length per input resolution).

    >>> window(224, 7, 2, 3, 3), window(2, 3, 1, 0, 0), window(6, 3, 2, 0, 0, ceil_mode=True)
    (112, 0, 3)
    """
    span = dilation * (kernel - 1) + 1
    if stride == 1 and pad_lo + pad_hi == span - 1:  # a 'same' window: the size itself (an array stays the same object)
        return size
    room = size + (pad_lo + pad_hi - span)
    if ceil_mode:
        out = -(-room // stride) + 1
        # PyTorch drops a last window that would start in the right padding only.
        out = out - ((out - 1) * stride >= size + pad_lo)
        return out * (room >= 0)
    return room // stride + 1  # < 1 exactly when the window does not fit


def same_padding(kernel: int, dilation: int) -> Pair:
    """PyTorch's padding='same' at stride 1: the odd pixel goes to the right/bottom."""
    total = dilation * (kernel - 1)
    return (total // 2, total - total // 2)


def holds(*conditions: Any) -> bool:
    """True when every condition holds: a bool, or an array of bools that must all be true (a size
    condition evaluated at every resolution of a sweep at once).

    >>> holds(True, 3 > 1), holds(True, False)
    (True, False)
    """
    for condition in conditions:
        if condition is True or condition is False:
            if not condition:
                return False
        elif not condition.all():
            return False
    return True


def at_least(bound: int, *values: Any) -> bool:
    """Every value (an int or an array of them) is >= bound.

    >>> at_least(1, 3, 1), at_least(1, 2, 0)
    (True, False)
    """
    for value in values:
        if type(value) is int:
            if value < bound:
                return False
        elif not (value >= bound).all():
            return False
    return True


def same_sizes(a: Any, b: Any) -> bool:
    """Two sizes (ints or arrays of them, one per resolution) are equal everywhere."""
    if a is b:
        return True
    if type(a) is int and type(b) is int:
        return a == b
    return bool((a == b).all())


def same_shape(a: Shape, b: Shape) -> bool:
    """Two shapes whose sizes may be arrays (a sweep) are equal at every resolution."""
    return len(a) == len(b) and all(same_sizes(x, y) for x, y in zip(a, b))


def scale_floor(size: Any, factor: float) -> Any:
    """floor(size x factor) in double precision, as PyTorch sizes an upsampled map; an int for an
    int size, an int64 array for an array of sizes (the same IEEE products either way)."""
    if type(size) is int:
        return int(size * float(factor))
    return (size * float(factor)).astype("int64")


def is_scalar(shape: Shape) -> bool:
    """Every size of the shape is a plain int (not one array per resolution)."""
    return all(type(v) is int for v in shape)


def shape_text(shape: Shape) -> str:
    """'64x56x56'; a size that varies over a sweep's resolutions shows as its range."""
    parts = []
    v: Any  # an int, or a sweep's array of sizes
    for v in shape:
        if type(v) is int:
            parts.append(str(v))
        else:
            lo, hi = int(v.min()), int(v.max())
            parts.append(str(lo) if lo == hi else f"{lo}..{hi}")
    return "x".join(parts)


def spatial(value: int | tuple[int, ...], rank: int) -> tuple[int, ...]:
    """A window field for `rank` spatial dims: 3 -> (3,) * rank; a tuple as it is (its length is the
    caller's to check: `cnncost.layers.conv.sizes` names the layer).

    >>> spatial(3, 3), spatial((1, 7), 2)
    ((3, 3, 3), (1, 7))
    """
    return value if isinstance(value, tuple) else (value,) * rank


def sizes_text(values: tuple[int, ...]) -> str:
    """'3x3x3' (one size per dim; what a window's description shows)."""
    return "x".join(str(v) for v in values)
