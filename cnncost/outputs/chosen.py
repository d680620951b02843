"""A report's DataFrame cut to the columns it was asked to show (`Report.with_columns`): the
layer's name first, then the chosen columns in the order asked; the `unknown` column stays where
a chosen figure is unknown, naming only those (the CSV's: `records.csv_table`)."""
from __future__ import annotations

from typing import Any


def chosen_frame(frame: Any, columns: tuple[str, ...] | None) -> Any:
    """The DataFrame with only `name` and `columns` (its attrs kept); `unknown` as in the CSV (`records.csv_table`)."""
    if columns is None:
        return frame
    keep = ["name", *(c for c in columns if c != "name" and c in frame.columns)]
    if "unknown" in frame.columns:
        marks = frame["unknown"].map(lambda names: tuple(k for k in names if k in keep))
        out = frame[keep].copy()
        if marks.map(bool).any():
            out["unknown"] = marks
    else:
        out = frame[keep].copy()
    out.attrs.update(frame.attrs)
    return out
