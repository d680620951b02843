"""The wheel carries every package: a folder of cnncost/ missing from pyproject.toml's list would
install without its modules (the tests run on the source tree and would not see it)."""
from __future__ import annotations

from pathlib import Path

import pytest

import cnncost

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")

ROOT = Path(cnncost.__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "cnncost").rglob("__init__.py")}
    assert on_disk <= listed, f"add to pyproject.toml's packages: {sorted(on_disk - listed)}"
    assert listed - on_disk == {"cnncost.specs"}  # the YAML specs, from specs/ (package-dir)
