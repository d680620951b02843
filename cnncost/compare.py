"""Several architectures or blocks side by side: totals and ratios to the first."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

from .api import table
from .columns import summary_columns
from .conventions import SCHEMA_VERSION
from .formatting import count_column, dumps, finite_ratio
from .net import Net
from .outputs.comparison import render_comparison
from .outputs.export import Exports
from .report import Report, Row, summary


@dataclass(frozen=True)
class Comparison(Exports):
    """The reports of several architectures under the same options; the first is the baseline.

    >>> import cnncost
    >>> c = cnncost.compare(["block-conv3x3", "block-depthwise-separable"], batch=1)
    >>> round(c.ratio(1, "macs"), 3)
    0.119
    """

    reports: tuple[Report, ...]

    def ratio(self, index: int, column: str) -> float:
        """The float nearest to the exact ratio; NaN where the baseline's figure is 0, infinity
        past the float range. JSON writes both as null, text as 'n/a' and exact digits."""
        base = self.reports[0].totals.figures[column]
        value = self.reports[index].totals.figures[column]
        if not base:
            return float("nan")
        ratio = finite_ratio(value, base)
        return float("inf") if ratio is None else ratio

    def to_dict(self) -> dict[str, Any]:
        """`schema_version` first; per architecture its totals (an unknown figure, from an opaque
        layer, null, with `unknown` naming those figures) and `ratios` to the first (null where
        the baseline's figure is 0, or either is unknown)."""
        options = self.reports[0].options
        base = self.reports[0].totals
        return {
            "schema_version": SCHEMA_VERSION,
            "batch": options.batch, "dtype": options.dtype, "optimizer": options.optimizer,
            "activation_count": options.activations, "baseline": self.reports[0].architecture,
            "architectures": [_record(r.architecture, r.totals, base) for r in self.reports],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Exact ints; a ratio whose baseline figure is 0 (or that is past the float range) is null."""
        return dumps(self.to_dict(), indent=indent)

    def to_dataframe(self) -> Any:
        """One row per architecture, in order (a RangeIndex, as every cnncost frame), its name in
        `architecture`; shapes as tuples; count columns int64 where their values and sum fit, else
        Python ints (object), never uint64 or float; then `<column>_ratio` for each compared
        column, its ratio to the first architecture as in the JSON: the nearest float, <NA> where
        the baseline's figure is 0 or either is unknown (pandas' nullable `Float64`: never NaN)."""
        import pandas as pd
        compared = [c.name for c in summary_columns()]
        architectures = self.to_dict()["architectures"]
        records = [{"architecture" if k == "name" else k: tuple(v) if k.endswith("_shape") else v
                    for k, v in a.items() if k not in ("ratios", "unknown")} for a in architectures]
        frame = pd.DataFrame({key: (count_column([r[key] for r in records]) if key in compared
                                    else pd.Series([r[key] for r in records], dtype=object))
                              for key in records[0]})
        for column in compared:
            frame[f"{column}_ratio"] = pd.Series([a["ratios"][column] for a in architectures], dtype="Float64")
        return frame

    def to_text(self, fmt: str = "text") -> str:
        """The comparison in one of `cnncost compare`'s formats: text, markdown, csv, html, latex."""
        return render_comparison(self, fmt)

    def _rendered(self, fmt: str) -> str:
        return render_comparison(self, fmt)

    def _repr_html_(self) -> str:
        return self.to_text("html")

    def __repr__(self) -> str:
        """One line (the table is `str`): each architecture's params and MACs per image, the batch."""
        shown = [f"{r.architecture} ({summary(r.totals, r.batch)})" for r in self.reports[:3]]
        more = f", and {len(self.reports) - 3} more" if len(self.reports) > 3 else ""
        return f"<Comparison of {len(self.reports)}: {', '.join(shown)}{more}; batch {self.reports[0].batch:,}>"

    def __str__(self) -> str:
        return self.to_text()


def _record(name: str, totals: Row, base: Row) -> dict[str, Any]:
    compared = [c.name for c in summary_columns()]
    unknown = [column for column in compared if column in totals.unknown]
    out: dict[str, Any] = {"name": name, "input_shape": list(totals.input_shape),
                           "output_shape": list(totals.output_shape),
                           **{column: None if column in unknown else totals.figures[column] for column in compared},
                           "ratios": {column: None if column in totals.unknown or column in base.unknown
                                      else finite_ratio(totals.figures[column], base.figures[column])
                                      for column in compared}}
    if unknown:
        out["unknown"] = unknown
    return out


def compare(archs: Sequence[str | os.PathLike[str] | Net], **options: Any) -> Comparison:
    """Tabulate each architecture with the same options (see `cnncost.table`)."""
    if not archs:
        from .errors import CnnCostError
        raise CnnCostError("compare needs at least one architecture")
    return Comparison(tuple(table(arch, **options) for arch in archs))
