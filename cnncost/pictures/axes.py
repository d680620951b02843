"""Figures the matplotlib way: a new figure through pyplot, left open (a script's `plt.show()`
shows it, a notebook shows it once at the end of the cell), or the caller's own axes (`ax=`);
legends beside the axes, never over the data."""
from __future__ import annotations

from typing import Any

from ..errors import CnnCostError


def pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise CnnCostError("plots need matplotlib: pip install 'cnncost[plot]'") from None
    return plt


def new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    """The caller's axes, or new ones on a new pyplot figure (constrained layout: the labels and an
    outside legend fit), not closed."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def legend_beside(ax: Any, handles: Any = None, title: str | None = None, ncols: int = 1) -> Any:
    """A legend to the right of the axes, its top at theirs: off every data point whatever the data."""
    options: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0,
                               "fontsize": "small", "title": title, "ncols": ncols}
    if handles is not None:
        options["handles"] = handles
    return ax.legend(**options)


def renderer(fig: Any) -> Any:
    """The figure's renderer; Agg's for a canvas without one (measures text in pixels)."""
    try:
        return fig.canvas.get_renderer()
    except AttributeError:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        return FigureCanvasAgg(fig).get_renderer()
