"""How fast the engine is: in-process tables (cold: the spec built and compiled anew; warm: the
compiled graph cached) and a cold `cnncost table` process. With `--baseline DIR` (a checkout of
another version, e.g. `git worktree add /tmp/base <commit>`) the same figures are measured for
that version in the same run, and the ratios printed.

    python benchmarks/bench_engine.py [--repeat N] [--archs NAME ...] [--baseline DIR] [--clock cpu]

--clock cpu times the in-process tables in CPU time (a busy machine inflates it least); the cold
process is always elapsed time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from timing import best_of  # benchmarks/timing.py (scripts run with benchmarks/ on sys.path)

HERE = Path(__file__).resolve()


def measure(archs: list[str], repeat: int, clock: str = "wall") -> dict:
    """Seconds per table, for the cnncost on sys.path (in-process tables: elapsed or CPU time)."""
    tick = time.process_time if clock == "cpu" else time.perf_counter
    import cnncost
    out = {"version": cnncost.__file__, "archs": {}}
    for name in archs:
        try:
            net = cnncost.load(name)
        except cnncost.UnknownArchitecture:
            continue
        arch = next(a for a in cnncost.list_archs() if a.name == name)

        def cold() -> None:  # build the Net from its definition and tabulate it: nothing cached
            cnncost.table(arch.build())
        rows = len(cnncost.compile(net).nodes)
        out["archs"][name] = {"rows": rows, "cold": best_of(repeat, cold, clock=tick),
                              "warm": best_of(repeat, lambda: cnncost.table(name), clock=tick),
                              "autograd": best_of(max(1, repeat // 2), lambda: cnncost.table(name, memory="autograd"),
                                                  clock=tick)}
    runs = []
    for _ in range(max(3, repeat // 4)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnncost.cli", "table", "resnet152"], check=True,
                       stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(Path(cnncost.__file__).parents[1])})
        runs.append(time.perf_counter() - start)
    out["cli_cold"] = min(runs)
    out["cli_cold_median"] = statistics.median(runs)
    out["interpreter"] = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    return out


def show(label: str, result: dict) -> None:
    print(f"{label}: {result['version']}")
    print(f"  {'architecture':16} {'rows':>5} {'cold table':>11} {'warm table':>11} {'autograd':>10} {'per row (cold)':>15}")
    for name, r in result["archs"].items():
        print(f"  {name:16} {r['rows']:5d} {r['cold'] * 1e3:9.2f}ms {r['warm'] * 1e3:9.2f}ms "
              f"{r['autograd'] * 1e3:8.2f}ms {r['cold'] / r['rows'] * 1e6:13.1f}us")
    print(f"  cold `cnncost table resnet152` process: best {result['cli_cold'] * 1e3:.0f}ms, median "
          f"{result['cli_cold_median'] * 1e3:.0f}ms (bare interpreter {result['interpreter'] * 1e3:.0f}ms, "
          f"{result['cli_cold'] / result['interpreter']:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--archs", nargs="*", default=["vgg16", "googlenet", "resnet152", "efficientnet-b7"])
    parser.add_argument("--baseline", help="a checkout of another cnncost version to compare with")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the baseline's own run
    args = parser.parse_args()
    result = measure(args.archs, args.repeat, args.clock)
    if args.json:
        print(json.dumps(result))
        return
    show("this version", result)
    if args.baseline:
        base_dir = Path(args.baseline).resolve()
        run = subprocess.run([sys.executable, str(HERE), "--json", "--repeat", str(args.repeat), "--clock", args.clock,
                              "--archs", *args.archs],
                             env={**os.environ, "PYTHONPATH": str(base_dir)}, cwd=base_dir,
                             capture_output=True, text=True, check=True)
        base = json.loads(run.stdout)
        show("baseline", base)
        print("\nratio baseline / this version (above 1: this version is faster)")
        for name, r in result["archs"].items():
            b = base["archs"].get(name)
            if b:
                print(f"  {name:16} cold table {b['cold'] / r['cold']:5.2f}x   warm table {b['warm'] / r['warm']:5.2f}x"
                      f"   autograd {b['autograd'] / r['autograd']:5.2f}x")
        print(f"  cold process     {base['cli_cold'] / result['cli_cold']:5.2f}x")


if __name__ == "__main__":
    main()
