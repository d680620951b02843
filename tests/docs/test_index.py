"""docs/index.md is the path through the docs: it and the README link every page, every relative
link in the docs resolves, and "the lecture" is defined once where the links to it point."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")
ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')
PAGES = sorted([*DOCS.glob("*.md"), *DOCS.glob("*.ipynb")])


def links(path: Path) -> list[str]:
    return [target for target in LINK.findall(path.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:", target)]   # http:, https:, mailto:


def linked_pages(path: Path) -> set[Path]:
    return {(path.parent / target.split("#")[0]).resolve() for target in links(path) if target.split("#")[0]}


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "index.md"], ids=lambda p: p.name)
def test_index_and_readme_link_every_page(page: Path) -> None:
    assert page.resolve() in linked_pages(DOCS / "index.md"), f"docs/index.md does not link {page.name}"
    assert page.resolve() in linked_pages(ROOT / "README.md"), f"README.md's docs list does not link {page.name}"


def test_readme_links_the_index_right_after_its_first_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block_end = text.index("```", text.index("```") + 3)
    assert "(docs/index.md)" in text[first_block_end:first_block_end + 300]


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS.glob("*.md")], ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and file and anchor in ("the-lecture",):
            if anchor not in ANCHOR.findall(resolved.read_text(encoding="utf-8")):
                broken.append(target)
    assert not broken, f"{path.name}: links to nothing: {broken}"


def test_the_lecture_is_introduced_once_in_the_index_and_the_readme() -> None:
    for path in (DOCS / "index.md", ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert ANCHOR.findall(text).count("the-lecture") == 1, path.name
        definition = " ".join(text[text.index('<a id="the-lecture"></a>'):].split("\n\n")[0].split())
        assert "6. CNN Architectures" in definition and "lecture.md" in definition, definition
