"""`receptive_frame`: the receptive fields of a net as a pandas DataFrame."""
from __future__ import annotations

import os
from typing import Any, Sequence

from ..net import Net
from ..shapes import Shape
from .field import receptive_field
from .rules import AXIS_NAMES



def frame_columns(rank: int) -> tuple[str, ...]:
    """The frame's columns for an input map with `rank` spatial dims: one `_h`/`_w` column per axis
    on a C x H x W input (`_l` on C x L, `_d`, `_h`, `_w` on C x D x H x W)."""
    axes = AXIS_NAMES[rank]
    return (("name", "type", "receptive_field", "effective_stride", "center_offset")
            + tuple(f"{figure}_{axis}" for figure in ("receptive_field", "effective_stride", "center_offset")
                    for axis in axes)
            + ("whole_input", "note"))


FRAME_COLUMNS = frame_columns(2)


def receptive_frame(arch: str | os.PathLike[str] | Net | Any, input: Shape | str | None = None, *,
                    input_size: Sequence[int] | None = None) -> Any:
    """`receptive_field` as a pandas DataFrame, one row per graph row (the `name`s of
    `table(arch).to_dataframe()`, to join on). `receptive_field`, `effective_stride` and
    `center_offset` hold one number where every axis agrees, else a tuple ((h, w) on a C x H x W
    input); the per-axis columns (`_h` and `_w`; `_l` on a C x L input, `_d`, `_h`, `_w` on
    C x D x H x W) always one number, None where the field is not defined. A column is int64
    where every value is a whole number, else exact Python ints and `Fraction`s (dtype object).

    >>> import cnncost
    >>> row = cnncost.receptive_frame("vgg16").set_index("name").loc["stage5.pool5"]
    >>> int(row.receptive_field), int(row.effective_stride), row.center_offset
    (212, 32, Fraction(31, 2))
    """
    import pandas as pd
    records = receptive_field(arch, input, input_size=input_size)
    rank = len(records[0].size)
    values: dict[str, Sequence[Any]] = {
        "name": [r.name for r in records], "type": [r.type for r in records],
        "receptive_field": [r.receptive_field for r in records],
        "effective_stride": [r.effective_stride for r in records],
        "center_offset": [r.center_offset for r in records],
        "whole_input": [r.whole_input for r in records], "note": [r.note for r in records],
    }
    for i, axis in enumerate(AXIS_NAMES[rank]):
        values[f"receptive_field_{axis}"] = [r.size[i] for r in records]
        values[f"effective_stride_{axis}"] = [r.stride[i] for r in records]
        values[f"center_offset_{axis}"] = [r.offset[i] for r in records]

    def column(key: str, items: Sequence[Any]) -> Any:
        if key == "whole_input":
            return pd.Series(items, dtype=bool)
        if key not in ("name", "type", "note") and all(type(v) is int and -2**63 <= v < 2**63 for v in items):
            return pd.Series(items, dtype="int64")
        return pd.Series(items, dtype=object)
    return pd.DataFrame({key: column(key, values[key]) for key in frame_columns(rank)})
