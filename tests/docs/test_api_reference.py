"""The API reference (docs/build_api.py, pdoc) builds for every public module without a warning.

Skipped where pdoc (the `docs` extra) is not installed: `pip install '.[docs]'`.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import typing
from pathlib import Path

import pytest

pytest.importorskip("pdoc", reason="the API reference needs pdoc: pip install '.[docs]'")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
build_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_api)


def test_the_reference_builds_without_warnings(tmp_path: Path) -> None:
    modules, problems = build_api.build(tmp_path)
    assert not problems, "pdoc warned:\n" + "\n".join(problems)
    assert {"cnncost", "cnncost.layers", "cnncost.memory", "cnncost.receptive", "cnncost.counting",
            "cnncost.hardware"} <= set(modules)
    for module in modules:
        assert (tmp_path / (module.replace(".", "/") + ".html")).is_file(), module
    page = (tmp_path / "cnncost.html").read_text(encoding="utf-8")
    import cnncost
    documented = set(re.findall(r'<section id="([A-Za-z_]\w*)">', page))
    missing = [name for name in cnncost.__all__ if name not in documented]
    assert not missing, f"in cnncost.__all__ but not in the reference: {missing}"


def test_a_warning_fails_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an annotation pdoc cannot resolve is a warning, and a warning is an error (exit status 1)
    # (two modules: pdoc caches what it has documented, and warns once per object)
    (tmp_path / "src").mkdir()
    for name in ("broken_doc", "broken_doc_cli"):
        (tmp_path / "src" / f"{name}.py").write_text(
            'def f(x: "NoSuchType") -> None:\n    """A function with an unresolvable annotation."""\n',
            encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    try:
        _, problems = build_api.build(tmp_path / "out", modules=["broken_doc"])
        assert any("NoSuchType" in problem for problem in problems), problems
        monkeypatch.setattr(build_api, "documented_modules", lambda: (["broken_doc_cli"], []))
        assert build_api.main([str(tmp_path / "out2")]) == 1
    finally:
        sys.modules.pop("broken_doc", None)
        sys.modules.pop("broken_doc_cli", None)


def test_the_lowering_requests_have_resolved_annotations() -> None:
    # pdoc and inspect read a NamedTuple's generated __new__, which belongs to no module before Python 3.12:
    # string annotations there cannot be resolved (the layers module's reference warned on Ref, Visit, Merge)
    import inspect

    from cnncost.layers import Merge, Ref, Visit
    from cnncost.shapes import Shape
    assert inspect.signature(Ref).parameters["shape"].annotation == Shape
    assert inspect.signature(Visit).parameters["x"].annotation is Ref
    assert all(not isinstance(p.annotation, (str, typing.ForwardRef))
               for cls in (Ref, Visit, Merge) for p in inspect.signature(cls).parameters.values())
