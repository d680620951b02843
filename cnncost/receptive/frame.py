"""`receptive_frame`: the receptive fields of a net as a pandas DataFrame."""
from __future__ import annotations

import os
from typing import Any, Sequence

from ..net import Net
from ..shapes import Shape
from .field import receptive_field

FRAME_COLUMNS = ("name", "type", "receptive_field", "effective_stride", "center_offset", "receptive_field_h",
                 "receptive_field_w", "effective_stride_h", "effective_stride_w", "center_offset_h",
                 "center_offset_w", "whole_input", "note")


def receptive_frame(arch: str | os.PathLike[str] | Net, input: Shape | None = None) -> Any:
    """`receptive_field` as a pandas DataFrame, one row per graph row (the `name`s of
    `table(arch).to_dataframe()`, to join on). `receptive_field`, `effective_stride` and
    `center_offset` hold one number where h and w agree, else an (h, w) tuple; the `_h` and `_w`
    columns always one number. A column is int64 where every value is a whole number, else exact
    Python ints and `Fraction`s (dtype object).

    >>> import cnncost
    >>> row = cnncost.receptive_frame("vgg16").set_index("name").loc["stage5.pool5"]
    >>> int(row.receptive_field), int(row.effective_stride), row.center_offset
    (212, 32, Fraction(31, 2))
    """
    import pandas as pd
    records = receptive_field(arch, input)
    values: dict[str, Sequence[Any]] = {
        "name": [r.name for r in records], "type": [r.type for r in records],
        "receptive_field": [r.receptive_field for r in records],
        "effective_stride": [r.effective_stride for r in records],
        "center_offset": [r.center_offset for r in records],
        "receptive_field_h": [r.size[0] for r in records], "receptive_field_w": [r.size[1] for r in records],
        "effective_stride_h": [r.stride[0] for r in records], "effective_stride_w": [r.stride[1] for r in records],
        "center_offset_h": [r.offset[0] for r in records], "center_offset_w": [r.offset[1] for r in records],
        "whole_input": [r.whole_input for r in records], "note": [r.note for r in records],
    }

    def column(key: str, items: Sequence[Any]) -> Any:
        if key == "whole_input":
            return pd.Series(items, dtype=bool)
        if key not in ("name", "type", "note") and all(type(v) is int and -2**63 <= v < 2**63 for v in items):
            return pd.Series(items, dtype="int64")
        return pd.Series(items, dtype=object)
    return pd.DataFrame({key: column(key, values[key]) for key in FRAME_COLUMNS})
