"""The package has no import cycle at all: every import counts, at module level, inside functions
and under TYPE_CHECKING, and `from . import x` counts as importing the package too (it runs the
package's __init__). A cycle means two modules each need the other: one of them is in the wrong layer."""
from __future__ import annotations

import ast
from pathlib import Path

import cnncost

ROOT = Path(cnncost.__file__).parent


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ("cnncost",) + path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module `name` imports anywhere in its text."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets += [base] + [f"{base}.{alias.name}" for alias in node.names]
    out = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def test_no_import_cycles():
    known = modules()
    edges = {name: imported(name, path, known) for name, path in known.items()}
    # A package importing its own submodules, which import nothing back but the package itself,
    # is the ordinary layout of a package, not a cycle between two jobs.
    cycles = [c for c in strongly_connected(edges)
              if not (len([m for m in c if known[m].name != "__init__.py"]) <= 1)]
    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join(c) + "\n    " + "; ".join(f"{m} imports {sorted(edges[m] & set(c))}" for m in c) for c in cycles)


def test_the_check_sees_a_cycle(tmp_path):
    """The checker itself finds a function-level cycle (so the test above can fail)."""
    (tmp_path / "a.py").write_text("def f():\n    from .b import g\n")
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n")
    known = {"cnncost.a": tmp_path / "a.py", "cnncost.b": tmp_path / "b.py"}
    edges = {name: imported(name, path, known) for name, path in known.items()}
    assert strongly_connected(edges) == [["cnncost.a", "cnncost.b"]]
