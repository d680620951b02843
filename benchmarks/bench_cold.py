"""Cold start: fresh `cnncost table ARCH` processes against a bare `python -c pass` (and, where an
interpreter with torchvision and torchinfo is given, a fresh torchinfo process summarising
resnet152), measured interleaved in one run (one of each per round, so a busy machine slows all
alike). With --against CHECKOUT, the same commands run on that other checkout of cnncost too,
interleaved with this one's, and the ratios this/other are printed.

    python benchmarks/bench_cold.py [--rounds 15] [--archs resnet152 alexnet ...] [--clock cpu]
                                    [--against /tmp/base] [--torch-python /work/toolsvenv/bin/python]

--clock cpu measures each process's user + system CPU time (what a busy machine inflates least;
the default), wall its elapsed time. Bytecode: every process runs with a private
PYTHONPYCACHEPREFIX per checkout, filled by one untimed run of each command first, as an installed
package has its .pyc files (this machine sets PYTHONDONTWRITEBYTECODE, under which every start
would recompile every module from source). Prints best and median of each and their ratios; the
target: cnncost <= 5x the bare interpreter.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict[str, str], clock: str) -> float:
    """Seconds one run of `command` takes: its CPU time (user + system) or its elapsed time. It runs
    in a neutral directory: `python -m` puts the working directory first on the import path, where a
    checkout would shadow PYTHONPATH's."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   cwd=tempfile.gettempdir())
    if clock == "wall":
        return time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--archs", nargs="+", default=["resnet152"])
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--against", type=Path, help="another checkout of cnncost, measured interleaved")
    parser.add_argument("--torch-python", default="/work/toolsvenv/bin/python",
                        help="an interpreter with torch, torchvision and torchinfo (skipped if missing)")
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    checkouts = {"this": HERE} | ({"other": args.against.resolve()} if args.against else {})
    envs = {label: dict(env, PYTHONPATH=str(path), PYTHONPYCACHEPREFIX=tempfile.mkdtemp(prefix="cnncost-pyc-"))
            for label, path in checkouts.items()}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {"python -c pass": ([sys.executable, "-c", "pass"], env)}
    for arch in args.archs:
        for label in checkouts:
            name = f"cnncost table {arch}" + (f" ({label})" if args.against else "")
            commands[name] = ([sys.executable, "-m", "cnncost.cli", "table", arch], envs[label])
    if Path(args.torch_python).exists():
        commands["torchinfo resnet152 (fresh process)"] = ([
            args.torch_python, "-c", "import torchvision; from torchinfo import summary; "
            "summary(torchvision.models.resnet152(), input_size=(1, 3, 224, 224), verbose=0)"], env)
    for name, (command, command_env) in commands.items():  # fill the bytecode caches, untimed
        done = subprocess.run(command, env=command_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              cwd=tempfile.gettempdir())
        if done.returncode:
            raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, (command, command_env) in commands.items():
            times[name].append(timed(command, command_env, args.clock))
    base_best, base_median = min(times["python -c pass"]), statistics.median(times["python -c pass"])
    print(f"{args.rounds} interleaved rounds; {os.cpu_count()} CPUs; {args.clock} time"
          + (f"; this = {HERE}, other = {args.against}" if args.against else ""))
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(f"  {name:42s} best {best * 1e3:7.0f} ms ({best / base_best:5.1f}x)   "
              f"median {median * 1e3:7.0f} ms ({median / base_median:5.1f}x the interpreter)")
    first = f"cnncost table {args.archs[0]}" + (" (this)" if args.against else "")
    ratio = min(times[first]) / base_best
    print(f"cold {first} / bare interpreter: {ratio:.1f}x best, "
          f"{statistics.median(times[first]) / base_median:.1f}x median "
          f"(target <= 5x: {'met' if ratio <= 5 else 'NOT met'} on the best)")
    if args.against:
        for arch in args.archs:
            this, other = times[f"cnncost table {arch} (this)"], times[f"cnncost table {arch} (other)"]
            print(f"this / other, cnncost table {arch}: {min(this) / min(other):.2f} best, "
                  f"{statistics.median(this) / statistics.median(other):.2f} median")
    if "torchinfo resnet152 (fresh process)" in times:
        print(f"torchinfo process / cnncost process: "
              f"{min(times['torchinfo resnet152 (fresh process)']) / min(times[first]):.0f}x")


if __name__ == "__main__":
    main()
