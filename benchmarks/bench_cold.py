"""Cold start: a fresh `cnncost table resnet152` process against a bare `python -c pass` and against
a fresh torchinfo process summarising torchvision's resnet152, measured interleaved in one run (one
of each per round, so a busy machine slows all three alike).

    python benchmarks/bench_cold.py [--rounds 15] [--torch-python /work/toolsvenv/bin/python]

Bytecode: every process runs with a private PYTHONPYCACHEPREFIX, filled by one untimed run of each
command first, as an installed package has its .pyc files (this machine sets
PYTHONDONTWRITEBYTECODE, under which every start would recompile every module from source).
Prints best and median of each and their ratios; the target: cnncost <= 5x the bare interpreter.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--torch-python", default="/work/toolsvenv/bin/python",
                        help="an interpreter with torch, torchvision and torchinfo (skipped if missing)")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("cnncost")
    cnncost = [str(script), "table", "resnet152"] if script.exists() else [sys.executable, "-m", "cnncost.cli", "table", "resnet152"]
    commands = {"python -c pass": [sys.executable, "-c", "pass"], "cnncost table resnet152": cnncost}
    if Path(args.torch_python).exists():
        commands["torchinfo resnet152 (fresh process)"] = [
            args.torch_python, "-c", "import torchvision; from torchinfo import summary; "
            "summary(torchvision.models.resnet152(), input_size=(1, 3, 224, 224), verbose=0)"]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="cnncost-pyc-")
    for name, command in commands.items():  # fill the bytecode cache, untimed
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    base_best, base_median = min(times["python -c pass"]), statistics.median(times["python -c pass"])
    print(f"{args.rounds} interleaved rounds; {os.cpu_count()} CPUs")
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(f"  {name:38s} best {best * 1e3:7.0f} ms ({best / base_best:5.1f}x)   "
              f"median {median * 1e3:7.0f} ms ({median / base_median:5.1f}x the interpreter)")
    ratio = min(times["cnncost table resnet152"]) / base_best
    print(f"cold cnncost table resnet152 / bare interpreter: {ratio:.1f}x best, "
          f"{statistics.median(times['cnncost table resnet152']) / base_median:.1f}x median "
          f"(target <= 5x: {'met' if ratio <= 5 else 'NOT met'} on the best)")
    if "torchinfo resnet152 (fresh process)" in times:
        print(f"torchinfo process / cnncost process: "
              f"{min(times['torchinfo resnet152 (fresh process)']) / min(times['cnncost table resnet152']):.0f}x")


if __name__ == "__main__":
    main()
