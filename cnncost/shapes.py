"""Pure window arithmetic on per-sample shapes: (C, H, W) feature maps or (F,) vectors."""
from __future__ import annotations

from math import prod

Shape = tuple[int, ...]
Pair = tuple[int, int]


def parse_shape(text: str) -> Shape:
    """'3x224x224' (or '3,224,224') -> (3, 224, 224); a single size '224' means 3x224x224.

    Raises ValueError with a message for anything else."""
    try:
        dims = tuple(int(v) for v in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise ValueError(f"expected CxHxW like 3x224x224, got '{text}'") from None
    if len(dims) == 1:
        dims = (3, dims[0], dims[0])
    if len(dims) != 3:
        raise ValueError(f"expected CxHxW like 3x224x224 (or one size, 224), got '{text}'")
    if any(d < 1 for d in dims):
        raise ValueError(f"dimensions must be positive, got '{text}'")
    return dims


def numel(shape: Shape) -> int:
    return prod(shape)


def pair(value: int | tuple[int, int] | list[int]) -> Pair:
    """7 -> (7, 7); [1, 7] -> (1, 7)."""
    if isinstance(value, (tuple, list)):
        return (value[0], value[1])
    return (value, value)


def window(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int,
           dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a sliding window, with PyTorch's rules (ceil_mode included).

    Returns a value < 1 when the window does not fit; callers turn that into an error.
    """
    span = dilation * (kernel - 1) + 1
    room = size + pad_lo + pad_hi - span
    if room < 0:
        return 0
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1
    # PyTorch drops a last window that would start in the right padding only.
    if (out - 1) * stride >= size + pad_lo:
        out -= 1
    return out


def same_padding(kernel: int, dilation: int) -> Pair:
    """PyTorch's padding='same' at stride 1: the odd pixel goes to the right/bottom."""
    total = dilation * (kernel - 1)
    return (total // 2, total - total // 2)
