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
from .options import add_time_profile

BUDGET_DEPRECATED = "cnncost: note: --memory in fit is deprecated: use --budget (GB = 10^9 B, GiB = 2^30 B)\n"


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
    add_dtype(parser, choices=("bf16", "fp16", "fp32", "tf32", "fp64"),
              help="fp32 (default); bf16/fp16 = autocast with fp32 master weights; tf32 = fp32 in memory")
    add_optimizer(parser)
    parser.add_argument("--mode", default="train", choices=("train", "inference"))
    add_device(parser, help="whose autograd rules (dropout's mask differs; default cuda)")
    add_torch_version(parser)
    # --- time (issue 20): the throughput of the batch found ---
    add_time_profile(parser, help="also the time model's training step at the batch found on this hardware profile "
                                  "(built-in name or file): step seconds and images/s, expected and roofline bound")
    # --- end time ---
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
        write(sys.stderr, BUDGET_DEPRECATED)
        return old
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
                 mode=args.mode, device=args.device, torch_version=args.torch_version, **graph_kwargs(args, fit),
                 **_time_kwargs(args))
    name, fits = result.architecture, 0 if result.batch else 1  # exit 1: not even one sample fits
    setting = f"{args.dtype}, {args.optimizer}, train" if args.mode == "train" else f"{args.dtype}, inference"
    step = {"mode": args.mode, "peak_bytes": result.peak_bytes, "phase": result.peak.phase,
            "breakdown": result.breakdown}
    if args.format == "json":
        return dumps({"schema_version": SCHEMA_VERSION, "architecture": name, "budget_bytes": result.budget,
                      "budget": result.budget_text, "batch": result.batch, "dtype": args.dtype,
                      "optimizer": args.optimizer, "mode": args.mode, "training_step": step,
                      **_time_record(result)}), fits
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
            + breakdown_table(step, args.format) + _time_lines(result) + same + caveat), 0


# --- time (issue 20): fit --hardware ---

def _time_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"hardware": args.hardware} if getattr(args, "hardware", None) else {}


def _time_record(result: Any) -> dict[str, Any]:
    """JSON: `timing`, table's object at the batch found (docs/output.md); absent without --hardware."""
    return {"timing": result.timing.to_dict()} if result.timing is not None else {}


def _time_lines(result: Any) -> str:
    """'Throughput at batch 1,924 on a100-sxm4-80gb: step 412 ms = 4,670.2 images/s expected (...)'."""
    from ..formatting import duration, grouped
    timing = result.timing
    if timing is None:
        return ""
    e, b = timing.expected, timing.bound
    return (f"\n\nThroughput at batch {grouped(result.batch)} on {timing.hardware} ({timing.dtype}): step "
            f"{duration(e.step_seconds)} = {e.images_per_second:,.1f} images/s expected, mostly {e.bound}-bound "
            f"(forward {duration(e.forward_seconds)} + backward {duration(e.backward_seconds)} + optimizer "
            f"{duration(e.optimizer_seconds)}); roofline bound {duration(b.step_seconds)} = "
            f"{b.images_per_second:,.1f} images/s (docs/time.md)")
# --- end time ---
