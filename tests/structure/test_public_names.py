"""Issue 22 items 2 and 9: every public name is in `cnncost.__all__` and `dir(cnncost)` (from_torch,
sweep, ... were in neither); `cnncost.sweep` is a plain function of a plain module; `table` takes an
`nn.Module`, and what it refuses names `cnncost.from_torch`."""
from __future__ import annotations

import inspect
import subprocess
import sys
import types
from pathlib import Path

import pytest

import cnncost
from cnncost.errors import CnnCostError

ROOT = Path(cnncost.__file__).resolve().parent.parent


def test_every_public_name_is_in_all_and_dir() -> None:
    for name in ("table", "fit", "Fit", "compare", "sweep", "load", "from_torch", "from_onnx", "zoo_frame",
                 "receptive_field", "Report", "Comparison", "Net", "Conv"):
        assert name in cnncost.__all__ and name in dir(cnncost), name
    assert set(cnncost.__all__) <= set(dir(cnncost))  # the names that load on first use too
    assert len(cnncost.__all__) == len(set(cnncost.__all__))


def test_a_star_import_gives_every_name_without_torch_or_onnx() -> None:
    """`from cnncost import *` resolves every name of __all__ (a missing one raises) and does not
    import torch or onnx: a user without the extras can still star-import."""
    code = ("import sys\nfrom cnncost import *\nimport cnncost\n"
            "assert all(n in globals() for n in cnncost.__all__)\n"
            "print(sorted(m for m in ('torch', 'onnx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_sweep_is_a_plain_function_of_a_plain_module() -> None:
    from cnncost import sweeps
    assert inspect.isfunction(cnncost.sweep) and cnncost.sweep is sweeps.sweep
    for name, module in list(sys.modules.items()):
        if name == "cnncost" or name.startswith("cnncost."):
            assert type(module) is types.ModuleType, name  # no module swaps its own class
    for path in (ROOT / "cnncost").rglob("*.py"):
        assert ".__class__ =" not in path.read_text(), path


def test_table_takes_an_nn_module() -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    report = cnncost.table(module, batch=1, input=(3, 32, 32))
    # Conv2d(3, 8, 3): 8 * 3 * 9 weights + 8 biases = 224 params; 8 * 30 * 30 outputs x 27 MACs
    assert [(r.name, r.params) for r in report.rows] == [("input", 0), ("0", 224), ("1", 0)]
    assert report.totals.macs == 8 * 30 * 30 * 27
    assert report.totals == cnncost.table(cnncost.from_torch(module, (3, 32, 32)), batch=1).totals


@pytest.mark.parametrize("argument", [3, object(), len])
def test_what_table_refuses_names_from_torch(argument: object) -> None:
    with pytest.raises(CnnCostError, match=r"a torch\.nn\.Module \(cnncost\.from_torch imports one"):
        cnncost.table(argument)  # type: ignore[arg-type]


def test_a_module_class_is_refused_as_not_a_model() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(CnnCostError, match="got the class Conv2d, not a model"):
        cnncost.table(torch.nn.Conv2d)


def test_every_name_the_docs_use_is_public() -> None:
    """`cnncost.NAME` and `from cnncost import NAME` in the README and docs/: a submodule, or a
    name of `__all__` (which each resolves)."""
    import importlib.util
    import re
    used: set[tuple[str, str]] = set()
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = page.read_text(encoding="utf-8")
        used |= {(m, page.name) for m in re.findall(r"(?<![\w./-])cnncost\.([A-Za-z]\w*)\b(?!\.py|\.ya?ml|\.json)", text)}
        for names in re.findall(r"from cnncost import ([\w, ]+)", text):
            used |= {(n.strip(), page.name) for n in names.split(",") if n.strip()}
    placeholders = {"ClassName"}  # the docs' own stand-in for a layer class
    missing = sorted((name, page) for name, page in used if name not in placeholders and name not in cnncost.__all__
                     and importlib.util.find_spec(f"cnncost.{name}") is None)
    assert not missing, f"used in the docs, not public: {missing}"
    assert all(getattr(cnncost, name) is not None for name in cnncost.__all__)
