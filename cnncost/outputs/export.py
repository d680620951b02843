"""The `to_<format>(path=None)` methods of reports and comparisons: the text, or written to a file."""
from __future__ import annotations

import os


def text_or_file(text: str, path: str | os.PathLike[str] | None) -> str | None:
    """`text` where `path` is None (as pandas' `to_csv()`), else written to `path` (UTF-8, ending
    in one newline) and None."""
    if path is None:
        return text
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text if text.endswith("\n") else text + "\n")
    return None
