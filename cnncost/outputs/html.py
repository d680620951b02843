"""A report's table as HTML for notebooks: rows nested under their blocks in `<details>`."""
from __future__ import annotations

import html
from typing import Any

from ..errors import escape, format_shape
from ..formatting import grouped, si_spaced

_LEFT = ' style="text-align: left;"'
_RIGHT = ' style="text-align: right;"'
HTML_NEST = 2  # <details> levels: top-level blocks and their children; deeper rows list flat inside


def html_report_table(report: Any, headers: list[str], align: list[str], body: list[list[str]],
                      total: list[str]) -> str:
    """The table as HTML for notebooks: every cell aligned by an inline style (which wins over
    Jupyter's right-aligning CSS): text left, numbers right; the rows of each block inside a
    `<details>` (collapsed; its summary gives the block's params, MACs and output), up to
    HTML_NEST levels; a bold total row. One table per run of rows, with the same column widths."""
    styles = [_LEFT if a == "left" else _RIGHT for a in align]
    widths = [len(h) for h in headers]
    for cells in body + [total]:
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], len(cell))
    width = sum(w + 2 for w in widths)
    colgroup = "<colgroup>" + "".join(f'<col style="width: {w + 2}ch;">' for w in widths) + "</colgroup>"
    table_open = f'<table style="table-layout: fixed; width: {width}ch; border-collapse: collapse;">'

    def row_html(cells: list[str], tag: str = "td", bold: bool = False) -> str:
        if bold:
            inner = "".join(f"<{tag}{styles[i]}><b>{html.escape(c)}</b></{tag}>" for i, c in enumerate(cells))
            return f'<tr style="font-weight: bold;">{inner}</tr>'
        return "<tr>" + "".join(f"<{tag}{styles[i]}>{html.escape(c)}</{tag}>" for i, c in enumerate(cells)) + "</tr>"

    def table(rows: list[str], head: bool = False) -> list[str]:
        out = [table_open, colgroup]
        if head:
            out += ["<thead>", row_html(headers, "th"), "</thead>"]
        return out + ["<tbody>", *rows, "</tbody>", "</table>"]

    rows = report.rows
    index = list(range(len(rows)))
    out: list[str] = []
    first = [True]

    def emit(members: list[int], level: int) -> None:
        pending: list[str] = []

        def flush() -> None:
            if pending or first[0]:
                out.extend(table(pending, head=first[0]))
                first[0] = False
                pending.clear()

        groups: list[tuple[str, list[int]]] = []
        for i in members:
            parts = rows[i].name.split(".")
            key = ".".join(parts[:level + 1])
            if groups and groups[-1][0] == key:
                groups[-1][1].append(i)
            else:
                groups.append((key, [i]))
        for key, group in groups:
            if level >= HTML_NEST or (len(group) == 1 and rows[group[0]].depth <= level):
                pending.extend(row_html(body[i]) for i in group)
                continue
            flush()
            out.append(f"<details><summary>{_block_summary(report, key, group)}</summary>")
            emit(group, level + 1)
            out.append("</details>")
        if pending:
            flush()

    emit(index, 0)
    out.extend(table([row_html(total, bold=True)], head=first[0]))
    return "\n".join(out)


def _block_summary(report: Any, path: str, members: list[int]) -> str:
    """'<b>layer1</b> (10 rows): 215,808 params, 2.77 GMACs, output 256x56x56', escaped."""
    rows = [report.rows[i] for i in members]
    params = sum(r.params for r in rows)
    macs = sum(r.macs for r in rows)
    unknown = any("macs" in r.unknown for r in rows)  # the summary's MACs: a lower bound
    text = (f" ({len(rows)} rows): {grouped(params)} params, {'>= ' if unknown else ''}"
            f"{si_spaced(macs, 'MACs')}, output {format_shape(rows[-1].output_shape)}")
    return f"<b>{html.escape(escape(path), quote=True)}</b>{html.escape(escape(text), quote=True)}"
