"""Names -> architectures. Python families register with `@register_arch` (`cnncost.zoo.arch`);
every YAML file in the specs folder registers itself under its file name. Both are looked up the
same way.

Lookups are lazy: `_index.py` maps each built-in name to the family module that registers it, so
`get_arch("resnet152")` imports `cnncost.zoo.resnet` alone (the CLI's cold start), and a spec name
reads its one YAML file. A name the index does not know (a family added since) loads everything,
as `list_archs` does. `python -m cnncost.zoo.registry` rewrites the index; a test checks it."""
from __future__ import annotations

import difflib
import fnmatch
import re
from typing import TYPE_CHECKING

from ..errors import UnknownArchitecture
from ..net import Net
from .arch import ARCHS, MODULES, Arch, add_arch

if TYPE_CHECKING:  # pathlib loads where a spec file is read, off a family's cold path
    from pathlib import Path


def specs_dir() -> Path:
    """The YAML specs: inside the installed package, or at the top of a source checkout."""
    from pathlib import Path
    here = Path(__file__).resolve().parent.parent
    packaged = here / "specs"
    return packaged if packaged.is_dir() else here.parent / "specs"


def _register_yaml_specs() -> None:
    for path in sorted(specs_dir().glob("*.yaml")):
        _register_yaml(path)


def _register_yaml(path: Path) -> None:
    if path.stem in ARCHS and ARCHS[path.stem].source == f"specs/{path.name}":
        return  # registered already, by a lookup of its name

    def build(p: Path = path) -> Net:
        from ..spec import load_spec
        return load_spec(p, f"specs/{p.name}")
    add_arch(Arch(path.stem, build, source=f"specs/{path.name}", description=_first_comment(path)), "specs")


def _first_comment(path: Path) -> str:
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    return first.lstrip("#").strip() if first.startswith("#") else ""


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import families  # noqa: F401  (registers the Python families)
        _register_yaml_specs()


def _find(name: str) -> Arch | None:
    """The Arch of `name`, importing only the family module the index names for it (or reading
    the one spec file of that name); everything when the index does not know the name."""
    for key in (name, name.lower()):
        arch = ARCHS.get(key)
        if arch is not None:
            return arch
    if not _loaded:
        from ._index import INDEX
        for key in (name, name.lower()):
            module = INDEX.get(key)
            if module == "specs":
                path = specs_dir() / f"{key}.yaml"
                if path.is_file():
                    _register_yaml(path)
            elif module is not None:
                import importlib
                importlib.import_module(module)
            if key in ARCHS:
                return ARCHS[key]
        _ensure_loaded()
        return ARCHS.get(name) or ARCHS.get(name.lower())
    return None


def get_arch(name: str) -> Net:
    """Build a registered architecture by name; an unknown name suggests the closest ones."""
    arch = _find(name)
    if arch is None:
        _ensure_loaded()
        close = difflib.get_close_matches(name.lower(), list(ARCHS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownArchitecture(f"unknown architecture '{name}'{hint} (see `cnncost list`)")
    net = _BUILT.get(arch.name)
    if net is None:  # Nets are immutable: build each once, and its compiled graphs stay cached on it
        net = _BUILT[arch.name] = arch.build()
    return net


_BUILT: dict[str, Net] = {}


def arch_info(name: str) -> Arch:
    get_arch(name)
    return ARCHS.get(name) or ARCHS[name.lower()]


def index_text() -> str:
    """The source of `_index.py` for every architecture registered now (load them all first)."""
    _ensure_loaded()
    by_module: dict[str, list[str]] = {}
    for name in sorted(ARCHS, key=_natural):
        by_module.setdefault(MODULES.get(name, ""), []).append(name)
    lines = ['"""Built-in architecture name -> the module that registers it (written by',
             '`python -m cnncost.zoo.registry`; tests/sweeps/test_sweep.py checks it is complete and current).',
             'A YAML spec in specs/ is "specs"."""', "", "_BY_MODULE: dict[str, tuple[str, ...]] = {"]
    for module in sorted(by_module):
        names = by_module[module]
        lines.append(f"    {module!r}: (")
        line = "       "
        for n in names:
            item = f" {n!r},"
            if len(line) + len(item) > 110:
                lines.append(line)
                line = "       "
            line += item
        lines.append(line)
        lines.append("    ),")
    lines += ["}", "INDEX: dict[str, str] = {name: module for module, names in _BY_MODULE.items() for name in names}", ""]
    return "\n".join(lines)


def list_archs(pattern: str = "*") -> list[Arch]:
    """Registered architectures whose name matches a shell pattern, in natural order."""
    _ensure_loaded()
    names = [n for n in ARCHS if fnmatch.fnmatch(n, pattern)]
    return [ARCHS[n] for n in sorted(names, key=_natural)]


def _natural(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def write_index() -> Path:
    """Rewrite `_index.py` from the architectures registered now."""
    from pathlib import Path
    target = Path(__file__).with_name("_index.py")
    target.write_text(index_text(), encoding="utf-8")
    return target


if __name__ == "__main__":  # python -m cnncost.zoo.registry: rewrite the name index
    print(f"wrote {write_index()} ({len(ARCHS)} architectures)")
