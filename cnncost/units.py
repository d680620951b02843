"""Sizes in bytes as people write them: `80GB`, `80GiB`, `16000MiB`, `1.5TB`, `65536`.

Both systems, as their standards define them; letters are case-insensitive (`80gb` = `80GB`):

- SI (decimal): B = 1, kB/KB = 10^3, MB = 10^6, GB = 10^9, TB = 10^12 (a card sold as "80 GB" and
  a disk's "1 TB" are these);
- IEC (binary): KiB = 2^10, MiB = 2^20, GiB = 2^30, TiB = 2^40;
- a bare letter, K/M/G/T, is binary (as GNU coreutils reads `16M`).

Every result is an exact int (a fraction of a byte is dropped: `0.1KiB` = 102 bytes). Reports
print bytes in IEC units (cnncost.formatting); this module is about what a user types.
"""
from __future__ import annotations

import re

from .errors import CnnCostError, escape

SIZE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
              "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
# how a unit is shown back ("budget 80 GB = 80,000,000,000 B")
UNIT_NAMES = {"b": "B", "kb": "kB", "mb": "MB", "gb": "GB", "tb": "TB", "kib": "KiB", "mib": "MiB",
              "gib": "GiB", "tib": "TiB", "k": "KiB", "m": "MiB", "g": "GiB", "t": "TiB", "": "B"}
UNITS_HELP = "B; kB, MB, GB, TB = 10^3, 10^6, 10^9, 10^12 B; KiB, MiB, GiB, TiB = 2^10, 2^20, 2^30, 2^40 B"
_SIZE = re.compile(r"\s*(\d{1,30})(?:\.(\d{1,30}))?\s*([a-zA-Z]{0,3})\s*")


class SizeError(CnnCostError):
    """A size that is not a number with a known unit."""


def parse_size_text(text: str, *, unit_required: bool = False, what: str = "a size") -> tuple[int, str]:
    """(bytes, the size as it reads back: '80 GB'). `unit_required`: a bare number is refused."""
    raw = str(text)
    match = _SIZE.fullmatch(raw[:200])
    unit = match.group(3).lower() if match else None
    if match is None or unit not in (*SIZE_UNITS, "") or (unit_required and not unit):
        example = "with a unit, like 80GiB" if unit_required else "like 64MiB or 1000000"
        raise SizeError(f"expected {what} {example}, got "
                        f"'{escape(raw, 60)}'; units: {UNITS_HELP}")
    whole, frac = match.group(1), match.group(2) or ""
    factor = SIZE_UNITS.get(unit, 1)
    value = int(whole) * factor + (int(frac) * factor) // 10 ** len(frac) if frac else int(whole) * factor
    number = grouped(int(whole)) + (f".{frac}" if frac else "")
    return value, f"{number} {UNIT_NAMES[unit]}"


def parse_size(text: str | int, *, unit_required: bool = False, what: str = "a size") -> int:
    """Bytes from '80GB' (80 * 10^9), '80GiB' (80 * 2^30), '1.5MiB' or (unless `unit_required`) '65536'."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    return parse_size_text(text, unit_required=unit_required, what=what)[0]  # type: ignore[arg-type]  # a bool: refused there


def size_text(value: int, written: str | None = None) -> str:
    """'80 GB = 80,000,000,000 B' from what the user wrote; else '74.51 GiB = 80,000,000,000 B'."""
    exact = f"{grouped(value)} B"
    if written and written != exact:
        return f"{written} = {exact}"
    if abs(value) < 2**10:
        return exact
    from .formatting import binary_bytes
    return f"{binary_bytes(value)} = {exact}"


def grouped(value: int) -> str:
    """1,234,567 for any int (also past Python's 4,300-digit str() limit)."""
    if abs(value).bit_length() < 14_000:
        return f"{value:,}"
    from .errors import int_text
    digits = int_text(abs(value))
    head = len(digits) % 3 or 3
    return ("-" if value < 0 else "") + ",".join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])
