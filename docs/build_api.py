"""Build the API reference from the docstrings, with pdoc (the `docs` extra).

    pip install '.[docs]'
    python docs/build_api.py [OUT_DIR]      # default build/api (ignored by git); open OUT_DIR/index.html

Documents the public modules (those that declare `__all__`, and `cnncost.plot`); a module whose
optional dependency is missing (torch, matplotlib) is left out with a note on stderr. Any warning
pdoc raises (an annotation it cannot resolve, a docstring it cannot read) is an error: the command
prints them and exits 1, so `.ci/run` keeps the reference complete.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "api"
# the public API: cnncost's __all__ and the subpackages that declare their own
MODULES = ("cnncost", "cnncost.layers", "cnncost.memory", "cnncost.receptive", "cnncost.counting", "cnncost.hardware",
           "cnncost.torch_backend", "cnncost.plot")
NEEDS = {"cnncost.torch_backend": "torch", "cnncost.plot": "matplotlib"}


def documented_modules() -> tuple[list[str], list[str]]:
    """(the modules to document, notes on the ones left out for a missing dependency)."""
    modules, notes = [], []
    for module in MODULES:
        needed = NEEDS.get(module)
        if needed and importlib.util.find_spec(needed) is None:
            notes.append(f"{module} left out: needs {needed}")
        else:
            modules.append(module)
    return modules, notes


def build(out: Path = DEFAULT_OUT, modules: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Write the HTML reference of `modules` (default: the public ones) into `out`; (the modules
    documented, pdoc's warnings as text)."""
    import pdoc  # the docs extra

    modules = documented_modules()[0] if modules is None else modules
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, output_directory=out)
    return modules, [f"{w.category.__name__}: {w.message}" for w in caught]


def main(argv: list[str]) -> int:
    if importlib.util.find_spec("pdoc") is None:
        print("build_api: pdoc is not installed (pip install '.[docs]')", file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else DEFAULT_OUT
    for note in documented_modules()[1]:
        print(f"build_api: {note}", file=sys.stderr)
    modules, problems = build(out)
    for problem in problems:
        print(f"build_api: {problem}", file=sys.stderr)
    if problems:
        print(f"build_api: {len(problems)} warning(s): the reference is incomplete", file=sys.stderr)
        return 1
    print(f"API reference of {', '.join(modules)}: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
