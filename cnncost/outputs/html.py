"""A report's table as HTML for notebooks: rows nested under their blocks in `<details>`."""
from __future__ import annotations

import html
from typing import Any

from ..errors import escape, format_shape
from ..formatting import grouped, si_spaced

_LEFT = ' style="text-align: left;"'
_RIGHT = ' style="text-align: right;"'
_NAME = ' style="text-align: left; overflow-wrap: anywhere;"'  # breaks at the dots (<wbr>) first
_HEAD = ' style="text-align: {}; white-space: normal; vertical-align: bottom;"'  # headers wrap at spaces
HTML_NEST = 2  # <details> levels: top-level blocks and their children; deeper rows list flat inside
PAD = 2  # a cell's padding in ch (Jupyter's 0.5em each side)


def column_widths(headers: list[str], body: list[list[str]], total: list[str]) -> list[int | None]:
    """Each column's width in ch: its widest cell or, where wider, its header's longest word (a
    header wraps at its spaces), plus padding; None for the layer's name, which takes the room
    left and wraps at its dots."""
    widths: list[int | None] = [None]
    for i in range(1, len(headers)):
        cells = max((len(row[i]) for row in body + [total]), default=0)
        widths.append(max(cells, *(len(word) for word in headers[i].split())) + PAD)
    return widths


def html_report_table(report: Any, headers: list[str], align: list[str], body: list[list[str]],
                      total: list[str]) -> str:
    """The table as HTML for notebooks: every cell aligned by an inline style (which wins over
    Jupyter's right-aligning CSS): text left, numbers right; the rows of each block inside a
    `<details>` (collapsed; its summary gives the block's params, MACs and output), up to
    HTML_NEST levels; a bold total row. One table per run of rows, with the same column widths.
    It fits the notebook's width: 100% wide at most, fixed columns as wide as their cells, headers
    wrapping at their spaces, the layer's name taking the room left and wrapping at its dots."""
    styles = [_NAME] + [_LEFT if a == "left" else _RIGHT for a in align[1:]]
    heads = [_HEAD.format(a) for a in align]
    widths = column_widths(headers, body, total)
    names = max((len(row[0]) for row in body + [total]), default=0) + PAD
    natural = names + sum(w for w in widths if w is not None)
    colgroup = "<colgroup>" + "".join("<col>" if w is None else f'<col style="width: {w}ch;">'
                                      for w in widths) + "</colgroup>"
    table_open = (f'<table style="table-layout: fixed; width: 100%; max-width: {natural}ch; '
                  'border-collapse: collapse;">')

    def cell(i: int, text: str, tag: str) -> str:
        inner = html.escape(text)
        if i == 0 and tag == "td":
            inner = inner.replace(".", ".<wbr>")
        return f"<{tag}{heads[i] if tag == 'th' else styles[i]}>{inner}</{tag}>"

    def row_html(cells: list[str], tag: str = "td", bold: bool = False) -> str:
        if bold:
            inner = "".join(f"<{tag}{styles[i]}><b>{html.escape(c)}</b></{tag}>" for i, c in enumerate(cells))
            return f'<tr style="font-weight: bold;">{inner}</tr>'
        return "<tr>" + "".join(cell(i, c, tag) for i, c in enumerate(cells)) + "</tr>"

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
