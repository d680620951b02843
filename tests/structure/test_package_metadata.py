"""Issue 22 item 4: a real package: `python -m cnncost`, the wheel carries LICENSE and py.typed with
an SPDX license expression, the version is written once (cnncost.__version__) and the changelog
has an entry for it."""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import cnncost

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")

ROOT = Path(cnncost.__file__).resolve().parent.parent


def test_python_m_cnncost_runs_the_command_line() -> None:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "cnncost", "--version"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"cnncost {cnncost.__version__}", out.stderr
    out = subprocess.run([sys.executable, "-m", "cnncost", "table", "alexnet"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("alexnet: input 3x224x224, 62,378,344 params"), out.stderr


def test_the_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "cnncost.__version__"}
    assert importlib.metadata.version("cnncost") == cnncost.__version__  # the installed metadata agrees


def test_the_changelog_has_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"\n## [{cnncost.__version__}] - " in changelog and "\n## [Unreleased]\n" in changelog


def test_every_dependency_has_a_lower_bound() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    assert requirements and all(">=" in r for r in requirements), requirements


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of the sources (a build writes build/ and *.egg-info beside them)."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("PEP 639 license expressions need setuptools 77")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("cnncost", "specs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return zipfile.ZipFile(next(out.glob("cnncost-*.whl")))


def test_the_wheel_carries_license_and_py_typed(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "cnncost/py.typed" in names and "cnncost/__main__.py" in names
    dist_info = f"cnncost-{cnncost.__version__}.dist-info"
    assert wheel.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    assert metadata["Version"] == cnncost.__version__ and metadata["License-Expression"] == "MIT"
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert "Copyright (c) 2026 the cnncost authors" in (ROOT / "LICENSE").read_text()


def test_the_wheel_carries_its_data(wheel: zipfile.ZipFile) -> None:
    """What the package reads at run time: the built-ins' totals (`cnncost list`), the JSON
    Schemas (`cnncost schema`), the YAML specs."""
    names = set(wheel.namelist())
    assert "cnncost/zoo/_totals.json" in names
    from cnncost.schemas import KINDS
    assert {f"cnncost/schemas/{kind}.schema.json" for kind in KINDS} <= names
    assert {f"cnncost/specs/{path.name}" for path in (ROOT / "specs").glob("*.yaml")} <= names
