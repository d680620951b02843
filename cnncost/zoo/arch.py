"""The table of built-in architectures and the decorator that fills it. Family modules import
this module alone; looking names up (and loading the families to do so) is `cnncost.zoo.registry`."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

from ..net import Net


@dataclass(frozen=True)
class Arch:
    """A named architecture: how to build it and where its definition comes from.

    `reference` holds published figures (e.g. {"params": 25_557_032}) with `source` saying whose.
    `scale(width, depth)`, where the family's builder takes multipliers, builds the same net with
    its channels times `width` and its blocks per stage times `depth` (1, 1: this net);
    `cnncost.sweep` calls it for its `width` and `depth` axes.
    """

    name: str
    build: Callable[[], Net] = field(repr=False)
    source: str
    description: str = ""
    reference: dict[str, int] = field(default_factory=dict)
    scale: Callable[[float, float], Net] | None = field(default=None, repr=False, compare=False)


ARCHS: dict[str, Arch] = {}
MODULES: dict[str, str] = {}  # name -> the module that registered it (what `_index.py` records)


def register_arch(name: str, *, source: str, description: str = "",
                  reference: dict[str, int] | None = None,
                  scale: Callable[..., Net] | None = None) -> Callable[[Callable[..., Net]], Callable[..., Net]]:
    """Decorate a zero-argument builder; a duplicate name is an error. `scale(width, depth)`: the
    same architecture with width and depth multipliers (see `Arch`)."""
    # Callable[..., Net]: the families' loops register `lambda d=depth: build(d)`, which mypy
    # cannot match to `Callable[[], Net]` (a lambda with defaults); Arch's fields keep the exact types.
    module = sys._getframe(1).f_globals.get("__name__", "")

    def decorate(build: Callable[..., Net]) -> Callable[..., Net]:
        add_arch(Arch(name, build, source, description or (build.__doc__ or "").strip().split("\n")[0],
                      dict(reference or {}), scale), module)
        return build
    return decorate


def add_arch(arch: Arch, module: str) -> None:
    """Enter `arch` in the table, registered by `module` (a YAML spec's is "specs")."""
    if arch.name in ARCHS:
        raise ValueError(f"architecture '{arch.name}' is registered twice")
    ARCHS[arch.name] = arch
    MODULES[arch.name] = module
