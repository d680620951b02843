"""Names -> architectures. Python families register with `@register_arch`; every YAML file in
the specs folder registers itself under its file name. Both are looked up the same way."""
from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import UnknownArchitecture
from ..net import Net


@dataclass(frozen=True)
class Arch:
    """A named architecture: how to build it and where its definition comes from.

    `reference` holds published figures (e.g. {"params": 25_557_032}) with `source` saying whose.
    """

    name: str
    build: Callable[[], Net] = field(repr=False)
    source: str
    description: str = ""
    reference: dict[str, int] = field(default_factory=dict)


ARCHS: dict[str, Arch] = {}


def register_arch(name: str, *, source: str, description: str = "",
                  reference: dict[str, int] | None = None) -> Callable[[Callable[[], Net]], Callable[[], Net]]:
    """Decorate a zero-argument builder; a duplicate name is an error."""
    def decorate(build: Callable[[], Net]) -> Callable[[], Net]:
        _add(Arch(name, build, source, description or (build.__doc__ or "").strip().split("\n")[0],
                  dict(reference or {})))
        return build
    return decorate


def _add(arch: Arch) -> None:
    if arch.name in ARCHS:
        raise ValueError(f"architecture '{arch.name}' is registered twice")
    ARCHS[arch.name] = arch


def specs_dir() -> Path:
    """The YAML specs: inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "specs"
    return packaged if packaged.is_dir() else here.parent / "specs"


def _register_yaml_specs() -> None:
    from ..spec import load_spec
    for path in sorted(specs_dir().glob("*.yaml")):
        description = _first_comment(path)
        _add(Arch(path.stem, lambda p=path: load_spec(p, f"specs/{p.name}"), source=f"specs/{path.name}",
                  description=description))


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


def get_arch(name: str) -> Net:
    """Build a registered architecture by name; an unknown name suggests the closest ones."""
    _ensure_loaded()
    arch = ARCHS.get(name) or ARCHS.get(name.lower())
    if arch is None:
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


def list_archs(pattern: str = "*") -> list[Arch]:
    """Registered architectures whose name matches a shell pattern, in natural order."""
    _ensure_loaded()
    names = [n for n in ARCHS if fnmatch.fnmatch(n, pattern)]
    return [ARCHS[n] for n in sorted(names, key=_natural)]


def _natural(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
