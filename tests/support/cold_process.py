"""The cold-path tests' probe: a `cnncost` command run through cnncost.cli.main in a fresh Python
process, and which of some modules that process had imported by its end."""
from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable


def cold_run(argv: list[str], modules: Iterable[str]) -> tuple[list[str], str]:
    """Runs `cnncost ARGV` in a fresh process; asserts it exits 0. Returns which of `modules` it
    imported (sorted) and its standard output."""
    probe = ("import sys; from cnncost.cli import main; code = main(sys.argv[1:]); "
             f"print('LOADED', sorted(m for m in {list(modules)!r} if m in sys.modules), file=sys.stderr); "
             "sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    line = next(line for line in reversed(done.stderr.splitlines()) if line.startswith("LOADED "))
    return ast.literal_eval(line[len("LOADED "):]), done.stdout
