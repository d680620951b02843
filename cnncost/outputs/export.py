"""The `to_<format>(path=None)` methods of reports and comparisons: the text, or written to a file."""
from __future__ import annotations

import os
from typing import overload


def text_or_file(text: str, path: str | os.PathLike[str] | None) -> str | None:
    """`text` where `path` is None (as pandas' `to_csv()`), else written to `path` (UTF-8, ending
    in one newline) and None."""
    if path is None:
        return text
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text if text.endswith("\n") else text + "\n")
    return None


class Exports:
    """`to_csv`, `to_markdown`, `to_html` and `to_latex` for a result that renders itself in the CLI's
    formats (`_rendered(fmt)`: a report, a comparison): each gives the text, or None once written
    to `path` (UTF-8)."""

    def _rendered(self, fmt: str) -> str:
        raise NotImplementedError

    @overload
    def to_csv(self, path: None = None) -> str: ...
    @overload
    def to_csv(self, path: str | os.PathLike[str]) -> None: ...

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """`--format csv`: exact ints, the total last (a report's column `row_kind` marks it)."""
        return text_or_file(self._rendered("csv"), path)

    @overload
    def to_markdown(self, path: None = None) -> str: ...
    @overload
    def to_markdown(self, path: str | os.PathLike[str]) -> None: ...

    def to_markdown(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """`--format markdown`."""
        return text_or_file(self._rendered("markdown"), path)

    @overload
    def to_html(self, path: None = None) -> str: ...
    @overload
    def to_html(self, path: str | os.PathLike[str]) -> None: ...

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """`--format html`, what a notebook displays."""
        return text_or_file(self._rendered("html"), path)

    @overload
    def to_latex(self, path: None = None) -> str: ...
    @overload
    def to_latex(self, path: str | os.PathLike[str]) -> None: ...

    def to_latex(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """`--format latex`."""
        return text_or_file(self._rendered("latex"), path)
