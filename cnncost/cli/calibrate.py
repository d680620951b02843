"""`cnncost calibrate --out FILE`: measure this machine through PyTorch (CPU, or CUDA when asked)
within a time budget and write its hardware profile as YAML (`load_profile(FILE)` reads it back).
PyTorch is imported only when the command runs."""
from __future__ import annotations

import argparse
import os
from typing import Any

from .progress import stage


def budget(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text[:40]}'") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds above 0 and at most 3600, got '{text[:40]}'")
    return value


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("calibrate", help="measure this machine (PyTorch) and write a hardware profile",
                                 description="Microbenchmarks through PyTorch within a time budget: matmul and conv "
                                 "throughput per dtype and shape class, convs' gradients, depthwise convs and batch "
                                 "norms forward and backward at a net's shapes, copy bandwidth and a tiny op's time "
                                 "(medians of repeats); writes a YAML hardware profile (see docs/time.md). "
                                 "Needs cnncost[torch].")
    parser.add_argument("-o", "--out", required=True, metavar="FILE",
                        help="the YAML profile to write (whole or not at all); the figures are printed on stdout")
    parser.add_argument("--budget-seconds", type=budget, default=60.0, metavar="S",
                        help="time for the measurements, after PyTorch is imported (default 60)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cpu (default) or cuda")
    parser.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                        help="CPU timings: wall clock (default), or the process's CPU time (on a machine shared with "
                             "other jobs, with one thread: OMP_NUM_THREADS=1)")
    parser.add_argument("--name", default=None, help="the profile's name (default local-cpu or local-cuda)")
    parser.set_defaults(run=run, writes_own_out=True)


def run(args: argparse.Namespace) -> str:
    from ..errors import CnnCostError
    from ..hardware.calibrate import calibrate
    from ..hardware.files import profile_yaml
    from .hardware import _detail
    if args.out == "-":
        raise CnnCostError("calibrate writes its profile to a file (-o FILE.yaml) and prints its figures on stdout")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):  # before a minute of measuring
        raise CnnCostError(f"cannot write the profile: {'no folder' if not os.path.isdir(folder) else 'no write access to'} "
                           f"{folder}", source=args.out)
    stage(f"measuring (about {args.budget_seconds:g} s)")
    profile = calibrate(budget_seconds=args.budget_seconds, device=args.device, name=args.name, clock=args.clock)
    text = profile_yaml(profile, header=f"cnncost calibrate --device {args.device} --budget-seconds "
                        f"{args.budget_seconds:g} --clock {args.clock}: a hardware profile; load it with --hardware FILE")
    try:
        from .boundary import write_file_atomically
        write_file_atomically(args.out, text)  # whole or not at all
    except OSError as error:
        raise CnnCostError(f"cannot write the profile: {error.strerror or error}", source=args.out) from None
    return f"{_detail(profile)}\n\nWrote {args.out}"
