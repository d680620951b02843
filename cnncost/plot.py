"""Charts for notebooks (needs the `plot` extra: matplotlib). Figures only; the numbers are the report's."""
from __future__ import annotations

from typing import Any, Sequence

from .compare import Comparison
from .conventions import MB
from .report import Report

_SCALES = {"flops": (1e9, "GFLOPs"), "macs": (1e9, "GMACs"), "params": (1e6, "M params"),
           "activations": (1e6, "M activations"), "activation_memory_bytes": (MB, "activation memory (MB)"),
           "param_memory_bytes": (MB, "param memory (MB)"), "memory_bytes": (MB, "memory (MB)")}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        from .errors import CnnCostError
        raise CnnCostError("plots need matplotlib: pip install 'cnncost[plot]'") from None
    return plt


def layers(report: Report, column: str = "flops", ax: Any = None, skip_zero: bool = True) -> Any:
    """A horizontal bar per row of `report` (use `depth=` to get one bar per block).

    >>> import cnncost, cnncost.plot
    >>> ax = cnncost.plot.layers(cnncost.table("vgg16", depth=0), "memory_bytes")
    """
    if column not in _SCALES:
        from .errors import CnnCostError
        raise CnnCostError(f"cannot plot column '{column}'; allowed: {', '.join(_SCALES)}")
    scale, label = _SCALES[column]
    rows = [r for r in report.rows if not skip_zero or getattr(r, column)]
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(8, max(2.0, 0.25 * len(rows) + 1)))
    ax.barh([r.name for r in rows], [getattr(r, column) / scale for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.set_title(f"{report.architecture}, batch {report.batch}, {report.options.dtype}")
    return ax


def compare(comparison: Comparison, columns: Sequence[str] = ("params", "flops", "memory_bytes"),
            ax: Any = None) -> Any:
    """Grouped bars: each column as a ratio to the first architecture."""
    import numpy as np
    names = [r.architecture for r in comparison.reports]
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(max(4.0, 1.5 * len(names)), 4))
    width = 0.8 / len(columns)
    positions = np.arange(len(names))
    for i, column in enumerate(columns):
        ratios = [comparison.ratio(j, column) for j in range(len(names))]
        ax.bar(positions + i * width, ratios, width, label=_SCALES[column][1])
    ax.set_xticks(positions + width * (len(columns) - 1) / 2, names, rotation=20, ha="right")
    ax.set_ylabel(f"ratio to {names[0]}")
    ax.legend()
    return ax
