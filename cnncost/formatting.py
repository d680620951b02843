"""Exact figures as text: numbers for people, JSON and CSV for machines, tables of text cells.

Rounding happens here and only here, and it is integer arithmetic on the exact figures: no float
is involved, so nothing overflows past 1.8e308 and no digit is invented past 2^53. Human formats
show numbers from 10^21 on in scientific notation with 4 significant digits (`1.235e+45`).
Every name that reaches an output is escaped for it: control characters everywhere (a row stays a
row), HTML, LaTeX and markdown syntax in those formats, and CSV cells that a spreadsheet would run
as a formula (OWASP's CSV injection rule: a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`).
"""
from __future__ import annotations

import csv
import math
import re
from typing import Any, Sequence

from .conventions import MB
from .errors import escape, int_text

TABLEFMT = {"text": "simple", "markdown": "github", "html": "html", "latex": "latex_booktabs"}
SCI_FROM = 10**21  # human formats: from here on, scientific notation
_LOG10_2 = math.log10(2)

# --- exact numbers ---

def _round_div(num: int, den: int) -> int:
    """num / den rounded to the nearest int, halves away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    if 2 * r >= den:
        q += 1
    return -q if num < 0 else q


def _at_least_pow10(num: int, den: int, k: int) -> bool:
    """num / den >= 10**k, exactly."""
    return num >= den * 10**k if k >= 0 else num * 10**-k >= den


def _exponent(num: int, den: int = 1) -> int:
    """floor(log10(num / den)) for num, den > 0, exactly."""
    e = int((num.bit_length() - den.bit_length()) * _LOG10_2)
    while _at_least_pow10(num, den, e + 1):
        e += 1
    while not _at_least_pow10(num, den, e):
        e -= 1
    return e


def _scaled(num: int, den: int, power: int) -> int:
    """round(num / den * 10**power) for any integer power."""
    return _round_div(num * 10**power, den) if power >= 0 else _round_div(num, den * 10**-power)


def sci(num: int, den: int = 1, digits: int = 4) -> str:
    """num / den as '1.235e+45' (digits significant digits), exactly rounded."""
    if num == 0:
        return "0." + "0" * (digits - 1) + "e+00"
    sign, num = ("-" if (num < 0) != (den < 0) else ""), abs(num)
    den = abs(den)
    e = _exponent(num, den)
    m = _scaled(num, den, digits - 1 - e)
    if m >= 10**digits:
        m, e = m // 10, e + 1
    text = str(m)
    return f"{sign}{text[0]}.{text[1:]}e{'+' if e >= 0 else '-'}{abs(e):02d}"


def grouped(value: int) -> str:
    """1234567 -> '1,234,567'; from 10^21 on, '1.235e+21'."""
    if abs(value) >= SCI_FROM:
        return sci(value)
    return f"{value:,}"


def fixed(num: int, den: int = 1, decimals: int = 1, group: bool = True) -> str:
    """num / den with `decimals` decimals, exactly rounded; from 10^21 on, scientific."""
    if den < 0:
        num, den = -num, -den
    if abs(num) >= SCI_FROM * den:
        return sci(num, den)
    q = _round_div(num * 10**decimals, den)
    sign = "-" if q < 0 else ""
    whole, frac = divmod(abs(q), 10**decimals)
    text = f"{whole:,}" if group else str(whole)
    return f"{sign}{text}.{frac:0{decimals}d}" if decimals else f"{sign}{text}"


def ratio_text(num: int, den: int, digits: int = 4) -> str:
    """num / den like '%.4g' (0.125, 8, 1.234e+05), exact; 'n/a' when den is 0."""
    if den == 0:
        return "n/a"
    if num == 0:
        return "0"
    sign, num, den = ("-" if (num < 0) != (den < 0) else ""), abs(num), abs(den)
    e = _exponent(num, den)
    m = _scaled(num, den, digits - 1 - e)
    if m >= 10**digits:
        m, e = m // 10, e + 1
    if -4 <= e < digits:
        decimals = digits - 1 - e
        if decimals <= 0:
            return sign + str(m * 10**-decimals)
        whole, frac = divmod(m, 10**decimals)
        frac_text = f"{frac:0{decimals}d}".rstrip("0")
        return sign + str(whole) + (f".{frac_text}" if frac_text else "")
    text = str(m)
    mantissa = (text[0] + "." + text[1:]).rstrip("0").rstrip(".")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e):02d}"


def si(value: int) -> str:
    """1234567 -> '1.23M'; decimal prefixes, as FLOP counts are quoted; from 10^18 on, '1.235e+18'."""
    if abs(value) >= 10**18:
        return sci(value)
    prefixes = ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T"), (10**15, "P"))
    for i in range(len(prefixes) - 1, -1, -1):
        factor, suffix = prefixes[i]
        if abs(value) >= factor:
            hundredths = _round_div(value * 100, factor)
            if abs(hundredths) >= 100_000:  # 999.995K rounds to 1000.00K: say 1.00M
                if i + 1 == len(prefixes):
                    return sci(value)
                factor, suffix = prefixes[i + 1]
                hundredths = _round_div(value * 100, factor)
            return f"{fixed(hundredths, 100, 2, group=False)}{suffix}"
    return str(value)


def mebibytes(value: int) -> str:
    """Bytes as MB (2^20) with one decimal: '1,234.5'."""
    return fixed(value, MB, 1)


def human_bytes(value: int) -> str:
    """Bytes with an IEC unit (KiB, MiB, GiB, TiB): '1.75 GiB'."""
    return binary_bytes(value)


def percent(part: int, whole: int) -> str:
    return "n/a" if whole == 0 else f"{fixed(100 * part, whole, 1)}%"


def finite_ratio(num: int, den: int) -> float | None:
    """num / den as the nearest float; None where that is not a finite number (den 0, overflow)."""
    if den == 0:
        return None
    try:
        value = num / den  # int / int is correctly rounded in Python
    except OverflowError:
        return None
    return value if math.isfinite(value) else None

# --- DataFrames ---

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1


def count_column(values: Sequence[Any]) -> Any:
    """A pandas Series of exact counts: int64 where every value and the column's sum fit in int64
    (so `.sum()` cannot wrap), else Python ints (dtype object); never uint64 or float."""
    import pandas as pd
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if ints and all(INT64_MIN <= v <= INT64_MAX for v in values) and INT64_MIN <= sum(values) <= INT64_MAX:
        return pd.Series(values, dtype="int64")
    return pd.Series(values, dtype=object)


# --- JSON ---

def json_safe(value: Any) -> Any:
    """Non-finite floats -> None, recursively (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(data: Any, indent: int | None = 2) -> str:
    """JSON that never holds NaN or Infinity (None instead), with ints of any size exact (also past
    Python's 4,300-digit str() limit). With `indent`, mappings and lists are laid out one item a
    line, except that a list of mappings (the rows) has each mapping on one line."""
    import json  # here and below: json and html load only for the formats that need them (the cold path)
    try:
        return _layout(data, indent)
    except ValueError:  # a non-finite float, or an int past the digit limit: the careful way
        pass
    import secrets
    data = json_safe(data)
    huge: list[int] = []
    nonce = secrets.token_hex(8)

    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [mark(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= 14_000:
            huge.append(value)
            return f"\x00{nonce}:{len(huge) - 1}\x00"
        return value

    text = _layout(mark(data), indent)
    for i, value in enumerate(huge):
        text = text.replace(json.dumps(f"\x00{nonce}:{i}\x00"), int_text(value), 1)
    return text


def _compact(value: Any) -> str:
    import json
    return json.dumps(value, allow_nan=False, separators=(", ", ": "))


def _layout(value: Any, indent: int | None, level: int = 0) -> str:
    import json
    if indent is None:
        return json.dumps(value, allow_nan=False)
    inner = " " * (indent * (level + 1))
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(str(k))}: {_layout(v, indent, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(v, dict) for v in value):
            items = [inner + _compact(v) for v in value]
        elif all(not isinstance(v, (dict, list, tuple)) for v in value):
            return _compact(list(value))  # a shape: [3, 224, 224]
        else:
            items = [inner + _layout(v, indent, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "]"
    return _compact(value)

# --- tables ---

_HTML_ALIGN = {"left": "", "right": ' style="text-align: right;"'}


def grid(headers: tuple[str, ...] | list[str], rows: Sequence[list[str] | tuple[str, ...]], fmt: str,
         colalign: tuple[str, ...] | None = None, header_pad: int = 2) -> str:
    """A table of text cells in tabulate's layout (formats simple, github, html, latex_booktabs,
    for the same inputs the same output), in linear time: tabulate infers a type for every
    cell, which takes seconds per 100,000 rows. Cells must be one line; html and latex cells are
    escaped here (after padding, as tabulate does). `header_pad`: tabulate widens every column
    to its header plus 2; 0 makes a column as wide as its widest cell or header (a compact table)."""
    n = len(headers)
    align = tuple(colalign or ()) + ("left",) * (n - len(colalign or ()))
    widths = [len(h) + header_pad for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)

    def padded(row: list[str] | tuple[str, ...]) -> list[str]:
        return [cell.ljust(widths[i]) if align[i] == "left" else cell.rjust(widths[i]) for i, cell in enumerate(row)]

    if fmt == "simple":
        lines = ["  ".join(padded(headers)).rstrip(), "  ".join("-" * w for w in widths).rstrip()]
        lines += ["  ".join(padded(row)).rstrip() for row in rows]
    elif fmt == "github":
        lines = ["| " + " | ".join(padded(headers)) + " |", "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        lines += ["| " + " | ".join(padded(row)) + " |" for row in rows]
    elif fmt == "html":
        import html

        def html_row(tag: str, row: list[str] | tuple[str, ...]) -> str:
            cells = "".join(f"<{tag}{_HTML_ALIGN.get(align[i], '')}>{html.escape(cell)}</{tag}>"
                            for i, cell in enumerate(padded(row)))
            return f"<tr>{cells.rstrip()}</tr>"
        lines = ["<table>", "<thead>", html_row("th", headers), "</thead>", "<tbody>"]
        lines += [html_row("td", row) for row in rows]
        lines += ["</tbody>", "</table>"]
    elif fmt == "latex_booktabs":
        def latex_row(row: list[str] | tuple[str, ...]) -> str:
            return "&".join(latex_escape(f" {cell} ") for cell in padded(row)) + "\\\\"
        spec = "".join("r" if a == "right" else "l" for a in align)
        lines = ["\\begin{tabular}{" + spec + "}", "\\toprule", latex_row(headers), "\\midrule"]
        lines += [latex_row(row) for row in rows]
        lines += ["\\bottomrule", "\\end{tabular}"]
    else:
        raise ValueError(f"unknown table format {fmt!r}")
    return "\n".join(lines)


_LATEX = {"&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_", "^": "\\^{}", "{": "\\{", "}": "\\}",
          "~": "\\textasciitilde{}", "\\": "\\textbackslash{}", "<": "\\ensuremath{<}", ">": "\\ensuremath{>}"}
_LATEX_SPECIAL = re.compile(r"[&%$#_^{}~\\<>]")


def latex_escape(text: str) -> str:
    """LaTeX's special characters as commands: \\ & % $ # _ { } ~ ^ (and < >, as tabulate does)."""
    return _LATEX_SPECIAL.sub(lambda m: _LATEX[m.group()], text)


# --- cells ---

def text_cell(value: object, fmt: str) -> str:
    """A name, type or attribute for a human format: control characters escaped, and the
    format's own syntax (HTML and LaTeX are escaped by `grid`, after padding; markdown here)."""
    text = escape(value)
    if fmt == "markdown":
        import html
        text = html.escape(text, quote=False).replace("|", "\\|")
    return text


def csv_cell(value: object) -> object:
    """A cell as CSV holds it: numbers stay numbers (an integer too long for Python's str() is
    written in full); text has its control characters, line separators and bidi overrides escaped
    visibly (`\\x1b`, `\\n`, `\\u202e`: no raw control byte ever reaches the file), everything
    else exactly as it is, so that `csv.reader` reads back the same string."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= 14_000:
        return int_text(value)
    return value


def csv_line(cells: Sequence[object]) -> str:
    """One CSV record written by the standard library's `csv` module (a cell holding a comma, a
    quote, CR or LF is quoted, quotes doubled; None is an empty cell), the cells given by
    `csv_cell`; ends in a newline."""
    return _CSV_ROW.writerow([csv_cell(value) for value in cells])


class _Echo:
    """A file for csv.writer whose write gives the line back (writerow returns it): no buffer."""

    def write(self, text: str) -> str:
        return text


_CSV_ROW = csv.writer(_Echo(), lineterminator="\n")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|nan)")


def csv_formula_safe(text: str) -> str:
    """CSV text with every cell a spreadsheet would evaluate as a formula (one starting with =, +,
    -, @, TAB or CR that is not a number) given a leading apostrophe (`--csv-safe`); the data then
    no longer round-trips, which is why this is only done on request."""
    import csv
    import io
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell) else cell
                         for cell in row])
    return buffer.getvalue()


def title_text(text: str, fmt: str) -> str:
    """Free text around a table: the title and the conventions line."""
    text = escape(text)
    if fmt in ("html", "markdown"):
        import html
        return html.escape(text, quote=fmt == "html")
    return text  # latex: written as a % comment, which holds anything on one line


BYTE_UNITS = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
UNITS_NOTE = ("Units: K, M, G, T, P = 10^3, 10^6, 10^9, 10^12, 10^15 (counts); KiB, MiB, GiB, TiB = 2^10, "
              "2^20, 2^30, 2^40 B (MiB is the lecture's MB, GiB its GB)")


def binary_bytes(value: int, decimals: int = 2) -> str:
    """Bytes in the largest binary unit that holds at least 1 of it: '1.75 GiB', '512 B'; exact."""
    for factor, unit in BYTE_UNITS:
        if abs(value) >= factor:
            return f"{fixed(value, factor, decimals)} {unit}"
    return f"{value} B"


def byte_unit(values: list[int]) -> tuple[int, str]:
    """One unit for a column of byte counts: the largest in which the column's largest value is
    at least 10 (so it shows three significant digits); B under 10 KiB. A column of a tiny net is
    in KiB or B, never all 0.0."""
    top = max((abs(v) for v in values), default=0)
    for factor, unit in BYTE_UNITS:
        if top >= 10 * factor:
            return factor, unit
    return 1, "B"


def table_byte_unit(values: list[int]) -> tuple[int, str]:
    """One unit for every byte column of a table (activations + params = memory reads in one
    unit): of the units in which the largest value stays under 100,000 ('99,999.9', 8 characters),
    the largest in which the smallest nonzero value is at least 1, else the smallest of them (the
    small figures keep their digits): MiB beside GiB-sized figures where some are only MiB."""
    top = max((abs(v) for v in values), default=0)
    least = min((abs(v) for v in values if v), default=0)
    fits = [(factor, unit) for factor, unit in ((1, "B"), *reversed(BYTE_UNITS)) if top < 100_000 * factor]
    if not fits:
        return BYTE_UNITS[0]
    whole = [(factor, unit) for factor, unit in fits if least >= factor]
    return whole[-1] if whole else fits[0]


def in_unit(value: int, factor: int) -> str:
    """value / factor with one decimal (a whole number of bytes for factor 1)."""
    return grouped(value) if factor == 1 else fixed(value, factor, 1)


def si_spaced(value: int, unit: str = "") -> str:
    """1140000000, 'MACs' -> '1.14 GMACs'; 512 -> '512 MACs' (as `si`, with a space before the unit)."""
    text = si(value)
    if text[-1:] in "KMGTP" and text[-1:].isalpha():
        return f"{text[:-1]} {text[-1]}{unit}"
    return f"{text} {unit}".rstrip()

def breakdown_table(step: dict, fmt: str = "text") -> str:
    """What the peak moment of a step holds, largest first, with shares of the peak."""
    peak = step["peak_bytes"]
    body = [(text_cell(part, fmt), mebibytes(size), percent(size, peak))
            for part, size in sorted(step["breakdown"].items(), key=lambda item: -item[1])]
    body.append(("peak", mebibytes(peak), "100.0%"))
    title = f"{step['mode']} step peak, at {step['phase']}:"
    table = grid(("held", "MiB", "share"), body, TABLEFMT.get(fmt, "simple"), ("left", "right", "right"))
    title = title_text(title, fmt)
    if fmt == "html":
        title = f"<p>{title}</p>"
    elif fmt == "latex":
        title = f"% {title}"
    return f"{title}\n{table}"


def duration(seconds: float) -> str:
    """Seconds for people, 3 significant digits: '812 us', '12.3 ms', '4.56 s', '2.50 h' (from 2 hours)."""
    if seconds >= 7200:
        return f"{seconds / 3600:.3g} h"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if seconds >= scale or unit == "ns":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return f"{seconds:.3g} s"
