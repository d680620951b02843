"""Tick labels a reader can read without counting zeros: every tick carries its unit ("10 MiB",
"1 GFLOP", "2 ms"), and a log axis has ticks between its decades where they fit (1, 2, 5 x 10^k,
or 1, 3 x 10^k over a wider span; bytes at powers of 2: 1 MiB, 4 MiB, 16 MiB). The data stay the
exact figures: only the ticks are rounded."""
from __future__ import annotations

import math
from typing import Any

from ..errors import CnnCostError

try:
    from matplotlib.ticker import Formatter, Locator, MaxNLocator, NullFormatter
except ImportError:
    raise CnnCostError("plots need matplotlib: pip install 'cnncost[plot]'") from None

_IEC = ((2**50, "PiB"), (2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"), (1, "B"))
_SI = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))
_SECONDS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
KINDS = ("bytes", "count", "seconds")
# a log axis's ticks between decades, densest first: the densest that keeps at most MAX_TICKS
_DECADE_SUBS = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1, 3), (1,))
_POWER_STRIDES = (1, 2, 5, 10, 20, 30)  # bytes: every 2^stride (strides dividing 10 keep 1 KiB, 1 MiB ...)
MAX_TICKS = 11
MAX_POWER_TICKS = 8  # bytes: doublings are closer together than 1, 2, 5


def _prefixes(kind: str) -> tuple[tuple[float, str], ...]:
    return _IEC if kind == "bytes" else _SECONDS if kind == "seconds" else _SI


def prefix_for(value: float, kind: str) -> tuple[float, str]:
    """(scale, prefix): the largest of the kind's units not above |value| (the smallest for 0)."""
    table = _prefixes(kind)
    for scale, name in table:
        if abs(value) >= scale * (1 - 1e-9):
            return scale, name
    return table[-1]


def _number(value: float) -> str:
    """Three significant digits at most, no trailing zeros, no exponent: 1, 2.5, 512, 1000."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"  # 'g' drops trailing zeros


def human(value: float, kind: str, unit: str = "", scale: tuple[float, str] | None = None) -> str:
    """'10 MiB', '1 GFLOP', '2 ms', '50M' (no unit: the prefix alone). `scale`: one unit for all
    the ticks of a linear axis."""
    if value == 0:
        return "0"
    size, prefix = scale or prefix_for(value, kind)
    number = _number(value / size)
    if kind in ("bytes", "seconds"):
        return f"{number} {prefix}"
    return f"{number} {prefix}{unit}" if unit else f"{number}{prefix}"


class HumanFormatter(Formatter):
    """Labels in human units; on a linear axis every tick in the unit of the axis's largest value
    (0, 200 MiB, 400 MiB ...), on a log axis each in its own (512 KiB, 1 MiB, 2 MiB)."""

    def __init__(self, kind: str, unit: str = "") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.unit = kind, unit

    def __call__(self, x: float, pos: int | None = None) -> str:
        scale = None
        axis: Any = self.axis  # an Axis once set on one
        if axis is not None and axis.get_scale() != "log":
            low, high = axis.get_view_interval()
            scale = prefix_for(max(abs(low), abs(high)), self.kind)
        return human(x, self.kind, self.unit, scale)


def _log_ticks(low: float, high: float, kind: str) -> list[float]:
    """Ticks in [low, high]: the densest set of at most MAX_TICKS, at least two where any exist."""
    if kind == "bytes":
        first, last = math.floor(math.log2(low)), math.ceil(math.log2(high))
        for stride in _POWER_STRIDES:
            ticks = [2.0**k for k in range(first, last + 1) if k % stride == 0 and low <= 2.0**k <= high]
            if len(ticks) <= MAX_POWER_TICKS:
                return ticks
        return ticks
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for subs in _DECADE_SUBS:
        ticks = [s * 10.0**k for k in range(first, last + 1) for s in subs if low <= s * 10.0**k <= high * (1 + 1e-9)]
        if len(ticks) <= MAX_TICKS:
            return ticks
    stride = 2
    while True:  # decades only, every stride-th: a span of many decades
        ticks = [10.0**k for k in range(first, last + 1) if k % stride == 0 and low <= 10.0**k <= high]
        if len(ticks) <= MAX_TICKS:
            return ticks
        stride += 1


class HumanLocator(Locator):
    """Ticks at round values of the kind's units: on a linear axis MaxNLocator's in the unit of the
    axis's largest value; on a log axis `_log_ticks`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self) -> Any:
        axis: Any = self.axis
        low, high = axis.get_view_interval()
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> Any:
        low, high = sorted((vmin, vmax))
        axis: Any = self.axis
        if axis is not None and axis.get_scale() == "log" and high > 0:
            return _log_ticks(max(low, high * 1e-30), high, self.kind)
        size, _ = prefix_for(max(abs(low), abs(high)) or 1, self.kind)
        inner = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
        return [t * size for t in inner.tick_values(low / size, high / size)]


def human_axis(axis: Any, kind: str, unit: str = "") -> None:
    """Human ticks on `axis` (ax.xaxis, ax.yaxis), whatever its scale; set the scale first: a
    scale change puts matplotlib's defaults back. Minor ticks of a log axis stay unlabelled."""
    axis.set_major_locator(HumanLocator(kind))
    axis.set_major_formatter(HumanFormatter(kind, unit))
    axis.set_minor_formatter(NullFormatter())
