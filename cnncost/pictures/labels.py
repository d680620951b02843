"""Point labels that do not collide (the zoo's architecture names)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .axes import renderer

# eight spots around a point, in points from it: (dx, dy, horizontal and vertical alignment)
_SPOTS = ((4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"), (-4, -3, "right", "top"),
          (0, 5, "center", "bottom"), (0, -5, "center", "top"), (6, 0, "left", "center"), (-6, 0, "right", "center"))


def place_labels(ax: Any, xs: Sequence[float], ys: Sequence[float], texts: Sequence[str],
                 fontsize: float = 7, pad: float = 1.0) -> list[Any]:
    """Greedy label placement: in order, each label goes to the first of eight spots around its
    point where it overlaps no label placed so far, no marker and stays inside the axes; a label
    with no free spot is left out. Returns the placed `Text` artists."""
    fig = ax.figure
    measure = renderer(fig)
    frame = ax.get_window_extent(measure)
    points = ax.transData.transform(list(zip(xs, ys)))
    marker = 3.0 * fig.dpi / 72  # half a marker, in pixels
    obstacles = [(px - marker, py - marker, px + marker, py + marker) for px, py in points]
    placed = []
    for x, y, text in zip(xs, ys, texts):
        for dx, dy, ha, va in _SPOTS:
            artist = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                 fontsize=fontsize)
            box = artist.get_window_extent(measure)
            rect = (box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)
            inside = frame.x0 <= rect[0] and rect[2] <= frame.x1 and frame.y0 <= rect[1] and rect[3] <= frame.y1
            if inside and not any(rect[0] < o[2] and o[0] < rect[2] and rect[1] < o[3] and o[1] < rect[3]
                                  for o in obstacles):
                obstacles.append(rect)
                placed.append(artist)
                break
            artist.remove()
    return placed
