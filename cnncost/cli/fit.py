"""`cnncost fit ARCH --budget SIZE`: the largest batch whose training step (or inference pass)
fits, with the breakdown at that batch; exit status 1 when not even one sample fits."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import CnnCostError, one_line
from .arch import resolve_arch
from .boundary import write
from .options import add_arch, add_device, add_dtype, add_format, add_input, add_optimizer, add_reading_options, graph_kwargs, input_arguments
from .options import add_torch_version

BUDGET_DEPRECATED = ("cnncost: note: --memory in fit is deprecated; until it is removed it keeps its old meaning, "
                     "kB, MB, GB, TB = 2^10, 2^20, 2^30, 2^40 B{read}; use --budget, "
                     "where GB = 10^9 B and GiB = 2^30 B\n")
# --memory's old units: binary whatever the spelling (a CI script's answer must not change silently)
_OLD_BINARY_UNITS = {"kb": "KiB", "mb": "MiB", "gb": "GiB", "tb": "TiB"}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("fit", help="largest batch whose PyTorch training step fits in memory",
                                 description="Largest batch whose training step (autograd memory model: "
                                 "parameters, gradients, optimizer state, saved activations) fits, with the "
                                 "breakdown at that batch (e.g. cnncost fit vgg16 --budget 80GiB --dtype bf16). "
                                 "Sizes take SI or IEC units: GB = 10^9 bytes, GiB = 2^30 bytes.")
    add_arch(parser)
    parser.add_argument("--budget", metavar="SIZE",
                        help="memory budget with a unit: 80GB = 80*10^9 B, 80GiB = 80*2^30 B; kB, MB, GB, TB are "
                             "decimal (10^3, 10^6, 10^9, 10^12), KiB, MiB, GiB, TiB binary (2^10 ... 2^40); "
                             "case-insensitive; fractions allowed (1.5TB). Note: GB used to mean 2^30 here")
    parser.add_argument("--memory", dest="memory_deprecated", metavar="SIZE", help=argparse.SUPPRESS)
    add_input(parser)
    add_dtype(parser, choices=("bf16", "fp16", "fp32", "fp64"),
              help="fp32 (default); bf16/fp16 = autocast with fp32 master weights")
    add_optimizer(parser)
    parser.add_argument("--mode", default="train", choices=("train", "inference"))
    add_device(parser, help="whose autograd rules (dropout's mask differs; default cuda)")
    add_torch_version(parser)
    add_format(parser, "text", "markdown", "json")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def _budget(args: argparse.Namespace) -> str:
    """--budget, or the deprecated --memory (one note on stderr)."""
    budget, old = getattr(args, "budget", None), getattr(args, "memory_deprecated", None)
    if budget is not None and old is not None:
        raise CnnCostError("give --budget only (--memory is its deprecated name)")
    if budget is None and old is None:
        raise CnnCostError("fit needs --budget SIZE, e.g. --budget 80GB (80*10^9 B) or --budget 80GiB (80*2^30 B)")
    if budget is None:
        import re
        match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]{2})\s*", old)
        binary = (match.group(1) + _OLD_BINARY_UNITS[match.group(2).lower()]
                  if match and match.group(2).lower() in _OLD_BINARY_UNITS else old)
        read = f" (read here as {one_line(binary)})" if binary != old else ""
        write(sys.stderr, BUDGET_DEPRECATED.format(read=read))
        return binary
    return budget


def run(args: argparse.Namespace) -> tuple[str, int]:
    from ..api import fit
    from ..conventions import SCHEMA_VERSION
    from ..errors import int_text
    from ..formatting import breakdown_table, dumps
    from ..units import size_text
    budget = _budget(args)
    net = resolve_arch(args, args.arch)
    result = fit(net, budget, dtype=args.dtype, optimizer=args.optimizer, input=args.input,
                 mode=args.mode, device=args.device, torch_version=args.torch_version, **graph_kwargs(args, fit))
    name, fits = result.architecture, 0 if result.batch else 1  # exit 1: not even one sample fits
    setting = f"{args.dtype}, {args.optimizer}, train" if args.mode == "train" else f"{args.dtype}, inference"
    step = {"mode": args.mode, "peak_bytes": result.peak_bytes, "phase": result.peak.phase,
            "breakdown": result.breakdown}
    if args.format == "json":
        return dumps({"schema_version": SCHEMA_VERSION, "architecture": name, "budget_bytes": result.budget,
                      "budget": result.budget_text, "batch": result.batch, "dtype": args.dtype,
                      "optimizer": args.optimizer, "mode": args.mode, "training_step": step}), fits
    shown = one_line(name)
    units = "Units: kB, MB, GB = 10^3, 10^6, 10^9 B; KiB, MiB, GiB = 2^10, 2^20, 2^30 B."
    if result.batch == 0:
        return (f"{shown}: not even batch 1 fits in budget {result.budget_shown} ({setting}); "
                f"batch 1 needs {size_text(result.peak_bytes)}\n\n" + breakdown_table(step, args.format)
                + f"\n\n{units}"), fits
    same = (f"\n\nSame figures: cnncost table {one_line(args.arch)} --batch {result.batch} --dtype {args.dtype} "
            f"--optimizer {args.optimizer} --memory autograd"
            + (f" --device {args.device}" if args.device != "cuda" else "")
            + (f" --torch-version {args.torch_version}" if args.torch_version else "")
            + input_arguments(args.input)) if args.mode == "train" else ""
    caveat = ("\n\nNo headroom is included for the CUDA context (about 0.3-1 GB), cuDNN workspaces or "
              f"allocator fragmentation: give --budget a margin below the card's capacity. {units}")
    return (f"{shown}: largest batch that fits in budget {result.budget_shown}: {int_text(result.batch)} "
            f"({setting}; peak {size_text(result.peak_bytes)})\n\n"
            + breakdown_table(step, args.format) + same + caveat), 0
