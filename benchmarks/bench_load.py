"""Spec loading speed (issue 21, item 4): a flat YAML chain of N layers (conv 3x3 and relu in
turn), per-layer CPU time of

- `before`: PyYAML's composer + `check_node_graph` + constructor (the loader cnncost used until
  issue 21; still in `cnncost.safe_yaml.SpecLoader.get_single_data`),
- `after`: `cnncost.safe_yaml.load_yaml` (libyaml's events, one pass, every limit checked),
- `table`: `cnncost table FILE --format csv` in-process (load, build, compile, write),

and `cnncost list --format csv|json` in a fresh process (best of 3; no built-in is compiled: the
totals come from the per-sample sums shipped in cnncost/zoo/_totals.json).

    python benchmarks/bench_load.py                 # 1k, 10k, 100k, 200k layers
    python benchmarks/bench_load.py --sizes 1000 20000 --before-max 20000
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def chain(layers: int) -> str:
    lines = ["name: big", "input: [8, 8, 8]", "layers:"]
    lines += [f"  - {{name: c{i}, type: conv, out: 8, kernel: 3, padding: 1}}" if i % 2 == 0
              else f"  - {{name: r{i}, type: relu}}" for i in range(layers)]
    return "\n".join(lines) + "\n"


def cpu(function) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def before(text: str) -> None:
    from cnncost.safe_yaml import SpecLoader
    loader = SpecLoader(text)
    loader.max_nodes = 10**8
    try:
        loader.get_single_data()
    finally:
        loader.dispose()


def after(text: str) -> None:
    from cnncost.safe_yaml import load_yaml
    load_yaml(text, max_nodes=10**8)


def table(path: str) -> None:
    from cnncost.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["table", path, "--format", "csv", "--max-yaml-nodes", str(10**8), "--timeout", "0"]) == 0


def list_seconds(form: str) -> float:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnncost", "list", "--format", form], check=True,
                       stdout=subprocess.DEVNULL, env=environment)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 200_000])
    parser.add_argument("--before-max", type=int, default=100_000, help="largest size the old loader is timed at")
    args = parser.parse_args(argv)
    print(f"{'layers':>8} {'before us/layer':>16} {'after us/layer':>15} {'table us/layer':>15} {'table s':>8}")
    folder = tempfile.mkdtemp(prefix="cnncost-bench-")
    try:
        for layers in args.sizes:
            text = chain(layers)
            path = os.path.join(folder, f"chain{layers}.yaml")
            Path(path).write_text(text)
            old = cpu(lambda: before(text)) if layers <= args.before_max else None
            new = cpu(lambda: after(text))
            whole = cpu(lambda: table(path))
            print(f"{layers:>8,} {f'{old / layers * 1e6:.1f}' if old is not None else '-':>16} "
                  f"{new / layers * 1e6:>15.1f} {whole / layers * 1e6:>15.1f} {whole:>8.2f}", flush=True)
        print("cnncost list, fresh process, wall, best of 3: "
              + ", ".join(f"--format {form} {list_seconds(form):.2f} s" for form in ("csv", "json")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
