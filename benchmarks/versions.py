"""Two versions of cnncost, benchmarked in one run: each benchmark script of each version runs
against its own code (PYTHONPATH), alternating, so both see the same machine at the same time.

    git worktree add /tmp/base <commit>
    python benchmarks/versions.py /tmp/base [--rounds 2] [--only bench_engine bench_sweep bench_cold]
                                            [--peers-python /work/sidevenv/bin/python]

bench_peers runs only with --peers-python (an interpreter that has torch, torchvision and the peer
tools, plus cnncost's dependencies). Nothing is asserted: each script prints its own figures.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
SCRIPTS = ("bench_engine", "bench_sweep", "bench_cold", "bench_peers")


def run(checkout: Path, script: str, python: str, extra: list[str]) -> str:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run([python, str(checkout / "benchmarks" / f"{script}.py"), *extra], env=env,
                          capture_output=True, text=True, cwd=checkout)
    return done.stdout + (f"[exit {done.returncode}] {done.stderr[-2000:]}" if done.returncode else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="a checkout of the other version")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS[:3]))
    parser.add_argument("--peers-python", help="interpreter with torch, torchvision and the peer tools")
    args = parser.parse_args()
    versions = {"baseline": args.baseline.resolve(), "this": HERE}
    for round_ in range(1, args.rounds + 1):
        for script in args.only:
            python, extra = sys.executable, []
            if script == "bench_peers":
                if not args.peers_python:
                    print("bench_peers: skipped (no --peers-python)")
                    continue
                python, extra = args.peers_python, ["--repeat", "5", "--devices", "meta"]
            for label, checkout in versions.items():
                print(f"=== round {round_}, {script}, {label} ({checkout})", flush=True)
                print(run(checkout, script, python, extra), flush=True)


if __name__ == "__main__":
    main()
