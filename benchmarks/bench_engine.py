"""How fast the engine is: in-process table builds and a cold `cnncost table` process.

    python benchmarks/bench_engine.py [--repeat N]

Prints the time per table, per layer, and the ratio of a cold CLI run to an in-process build.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import cnncost


def best_of(repeat: int, func) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--archs", nargs="*", default=["vgg16", "googlenet", "resnet152", "efficientnet-b7"])
    args = parser.parse_args()
    print(f"{'architecture':16} {'layers':>7} {'load+table':>11} {'table only':>11} {'per layer':>10}")
    in_process = {}
    for name in args.archs:
        try:
            net = cnncost.load(name)
        except cnncost.UnknownArchitecture:
            print(f"{name:16} not registered, skipped")
            continue
        layers = len(cnncost.analyze(net).leaves)
        full = best_of(args.repeat, lambda: cnncost.table(name))
        table_only = best_of(args.repeat, lambda: cnncost.table(net))
        in_process[name] = full
        print(f"{name:16} {layers:7d} {full * 1e3:9.2f}ms {table_only * 1e3:9.2f}ms {table_only / layers * 1e6:8.1f}us")

    cold = []
    for _ in range(max(3, args.repeat // 4)):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnncost.cli", "table", "googlenet"], check=True,
                       stdout=subprocess.DEVNULL)
        cold.append(time.perf_counter() - start)
    interpreter = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    cold_best = min(cold)
    print(f"\ncold `cnncost table googlenet`: best {cold_best * 1e3:.0f}ms, median {statistics.median(cold) * 1e3:.0f}ms"
          f" (bare interpreter start {interpreter * 1e3:.0f}ms)")
    if "googlenet" in in_process:
        print(f"ratio cold process / in-process googlenet table: {cold_best / in_process['googlenet']:.0f}x")


if __name__ == "__main__":
    main()
