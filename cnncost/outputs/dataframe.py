"""A report as a pandas DataFrame: one row per displayed row, its layer's geometry, its shapes,
then the registry's figures (`cnncost.columns`) as exact count columns."""
from __future__ import annotations

from typing import Any

from ..columns import COLUMNS
from ..conventions import FLOP_CONVENTION, SCHEMA_VERSION
from ..formatting import count_column
from ..layers.conv import padding_pairs
from ..shapes import spatial
from .records import row_record


def report_frame(report: Any, rows: Any, per_image: bool) -> Any:
    """`Report.to_dataframe`: `rows` are the report's own or, per image, those at batch 1."""
    import pandas as pd
    records = [row_record(row) for row in rows]
    counts = set(report.totals.figures) | {k for row in rows[:1] for k in row.figures} | {"depth", "batch"}
    nodes = {node.path: node for node in report.graph.nodes} if report.graph is not None else {}
    has_unknown = any(row.unknown for row in rows)
    extended = []
    for row, record in zip(rows, records):
        node = nodes.get(row.name)
        geometry = layer_geometry(node.layer if node is not None and node.type == row.type else None)
        name = record["name"]
        head = {"architecture": report.architecture, "batch": report.batch, "name": name,
                "parent": name.rsplit(".", 1)[0] if "." in name else "", "type": record["type"],
                "depth": record["depth"], "attrs": record["attrs"], **geometry,
                "input_shape": tuple(row.input_shape), "output_shape": tuple(row.output_shape),
                **_chw("in", row.input_shape), **_chw("out", row.output_shape)}
        rest = {k: v for k, v in record.items() if k not in head and k != "unknown"}
        if has_unknown:
            rest["unknown"] = tuple(record.get("unknown", ()))
        extended.append(head | rest)
    if extended:
        columns = list(extended[0])
    else:
        columns = ["architecture", "batch", "name", "parent", "type", "depth", "attrs", *GEOMETRY,
                   "input_shape", "output_shape", *_chw("in", ()), *_chw("out", ()), *report.totals.figures]
    sides = GEOMETRY + tuple(_chw("in", ())) + tuple(_chw("out", ()))
    data = {}
    for key in columns:
        values = [r.get(key) for r in extended]
        if key in COLUMNS and COLUMNS[key].style == "seconds":  # the time model's: floats
            data[key] = pd.Series(values, dtype="float64")
        elif key in COLUMNS and COLUMNS[key].style == "text":
            data[key] = pd.Series(values, dtype=object)
        elif key in counts:
            data[key] = count_column(values)
        elif key in sides and all(v is None or type(v) is int for v in values):
            data[key] = pd.Series(values, dtype="Int64")  # nullable: <NA> where the layer has none
        else:
            data[key] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    frame.attrs.update({"schema_version": SCHEMA_VERSION, "architecture": report.architecture,
                        "batch": report.batch, "per_image": per_image, "flop_convention": FLOP_CONVENTION})
    from .chosen import chosen_frame  # `Report.with_columns`: only the columns asked for
    return chosen_frame(frame, getattr(report, "columns", None))


GEOMETRY = ("kernel", "stride", "padding", "groups")


def _square(value: Any) -> Any:
    """An int or one size per spatial dim ((h, w); (l); (d, h, w)) as an int where every dim
    agrees, else the tuple."""
    if isinstance(value, (tuple, list)):
        return value[0] if len(set(value)) == 1 else tuple(value)
    return value


def layer_geometry(layer: Any) -> dict[str, Any]:
    """kernel, stride, padding and groups of a layer with a kernel (conv, transposed conv, pools):
    ints where square, (h, w) tuples otherwise; padding 'valid' as 0 and 'same' as the symmetric
    padding it amounts to, ((top, bottom), (left, right)) where uneven (an even kernel); groups
    None for pools. All None for other layers (and for None)."""
    out = dict.fromkeys(GEOMETRY)
    kernel = getattr(layer, "kernel", None)
    if kernel is None or isinstance(kernel, str):
        return out
    try:
        out["kernel"] = _square(kernel)
        stride = getattr(layer, "effective_stride", getattr(layer, "stride", None))
        out["stride"] = None if stride is None else _square(stride)
        padding = getattr(layer, "padding", None)
        if isinstance(padding, str):
            rank = len(kernel) if isinstance(kernel, tuple) else 2
            pads = padding_pairs(padding, spatial(kernel, rank), spatial(getattr(layer, "dilation", 1), rank))
            padding = _square(tuple(lo for lo, _ in pads)) if all(lo == hi for lo, hi in pads) else pads
        elif padding is not None:
            padding = _square(padding)
        out["padding"] = padding
        groups = getattr(layer, "groups", None)
        out["groups"] = groups if type(groups) is int else None
    except (TypeError, ValueError):  # an unusual layer's own kind of kernel: leave it out
        return dict.fromkeys(GEOMETRY)
    return out


def _chw(side: str, shape: tuple) -> dict[str, Any]:
    """in_c, in_h, in_w (or out_...): channels (features of a 1-D shape; the first dim of any
    shape), height and width (the last two dims of a map with 2 or more spatial dims: a video's
    C x D x H x W gives its H and W); None (shown <NA>) where the shape has no such dimension."""
    c = shape[0] if len(shape) >= 1 else None
    h, w = (shape[-2], shape[-1]) if len(shape) >= 3 else (None, None)
    return {f"{side}_c": c, f"{side}_h": h, f"{side}_w": w}
