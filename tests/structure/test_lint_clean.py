"""The package type-checks and lints clean under pyproject.toml's [tool.mypy] and [tool.ruff] (issue 22):
each tool runs here where it is installed (`pip install '.[lint]'`, which `.ci/run` does), else the
test is skipped. mypy keeps its cache in the temporary folder (a cold run takes ~20 s, a warm one ~2 s)."""
from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import cnncost

ROOT = Path(cnncost.__file__).resolve().parent.parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install '.[lint]')")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("needs the source tree (pyproject.toml)")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_reports_nothing():
    result = _run("ruff", "check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_mypy_reports_nothing():
    cache = Path(tempfile.gettempdir()) / f"cnncost-mypy-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]}"
    result = _run("mypy", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout
