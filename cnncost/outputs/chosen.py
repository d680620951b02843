"""A report's CSV and DataFrame cut to the columns it was asked to show (`Report.with_columns`):
the layer's name first, then the chosen columns in the order asked; the `unknown` column stays
where a chosen figure is unknown, naming only those."""
from __future__ import annotations

import csv
import io
from typing import Any


def chosen_csv(text: str, columns: tuple[str, ...] | None) -> str:
    """The CSV `text` (its first line the column names) with only `name` and `columns`."""
    if columns is None:
        return text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    keep = ["name", *(c for c in columns if c != "name")]
    unknown = header.index("unknown") if "unknown" in header else None
    marks = [" ".join(k for k in row[unknown].split() if k in keep) for row in rows[1:]] if unknown is not None else []
    index = [header.index(c) for c in keep]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keep + (["unknown"] if any(marks) else []))
    for i, row in enumerate(rows[1:]):
        writer.writerow([row[j] for j in index] + ([marks[i]] if any(marks) else []))
    return out.getvalue()


def chosen_frame(frame: Any, columns: tuple[str, ...] | None) -> Any:
    """The DataFrame with only `name` and `columns` (its attrs kept); `unknown` as in `chosen_csv`."""
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
