"""`cnncost` on the command line: parse, call the public API, print. Errors exit 2 in one line."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from .conventions import ACTIVATION_COUNTS, DTYPE_ALIASES, DTYPE_BYTES, MEMORY_CONVENTIONS, OPTIMIZER_COPIES
from .errors import CnnCostError
from .shapes import parse_shape

DTYPE_CHOICES = (*DTYPE_BYTES, *DTYPE_ALIASES)
FORMATS = ("text", "markdown", "csv", "json", "html", "latex")


def parse_input(text: str) -> tuple[int, ...]:
    """'3x224x224' or '224' (3 channels, square) -> (3, 224, 224)."""
    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def add_training_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=positive_int, default=128, help="images per step (default 128)")
    parser.add_argument("--input", type=parse_input, metavar="CxHxW", help="input size, e.g. 3x299x299")
    parser.add_argument("--dtype", default="fp32", choices=DTYPE_CHOICES, metavar="DTYPE",
                        help=f"{', '.join(DTYPE_BYTES)} (or float32, half, bfloat16, ...); default fp32")
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES),
                        help="sets k in k x params: sgd 2, momentum 3, adam/adamw 4 (default adam)")
    parser.add_argument("--activations", default="all", choices=ACTIVATION_COUNTS,
                        help="'all' allocated tensors (default), or 'lecture': one tensor per conv/pool/FC row "
                             "and per top-level block output, as the lecture's tables count")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(prog="cnncost", description="Exact cost accounting for CNNs: "
                                     "shapes, params, MACs/FLOPs and training memory, per layer.")
    parser.add_argument("--version", action="version", version=f"cnncost {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    table = commands.add_parser("table", help="per-layer table of one architecture",
                                description="Per-layer table of a built-in architecture or a YAML spec.")
    table.add_argument("arch", metavar="NAME|FILE.yaml")
    add_training_options(table)
    table.add_argument("--depth", type=int, metavar="N", help="collapse blocks below depth N into one row")
    table.add_argument("--memory", default="lecture", choices=MEMORY_CONVENTIONS,
                       help="'lecture': 2 x activations + k x params (default); 'autograd': what PyTorch saves "
                            "for backward per layer, and the training step's peak with its breakdown")
    table.add_argument("--format", default="text", choices=FORMATS)
    table.set_defaults(run=run_table)

    fit = commands.add_parser("fit", help="largest batch whose PyTorch training step fits in memory",
                              description="Largest batch whose training step (autograd memory model: "
                              "parameters, gradients, optimizer state, saved activations) fits, with the "
                              "breakdown at that batch (e.g. cnncost fit vgg16 --memory 80GiB --dtype bf16).")
    fit.add_argument("arch", metavar="NAME|FILE.yaml")
    fit.add_argument("--memory", required=True, metavar="SIZE", help="budget with a unit: 80GiB, 16000MiB (GB = GiB = 2^30 bytes)")
    fit.add_argument("--input", type=parse_input, metavar="CxHxW", help="input size, e.g. 3x299x299")
    fit.add_argument("--dtype", default="fp32", choices=("bf16", "fp16", "fp32", "fp64"),
                     help="fp32 (default); bf16/fp16 = autocast with fp32 master weights")
    fit.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES))
    fit.add_argument("--mode", default="train", choices=("train", "inference"))
    fit.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    fit.set_defaults(run=run_fit)

    listing = commands.add_parser("list", help="built-in architectures")
    listing.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'vgg*'")
    listing.set_defaults(run=run_list)

    spec = commands.add_parser("spec", help="print an architecture as YAML (loads back to the same numbers)")
    spec.add_argument("arch", metavar="NAME|FILE.yaml")
    spec.set_defaults(run=run_spec)

    compare = commands.add_parser("compare", help="totals of several architectures or blocks side by side",
                                  description="Totals side by side, with ratios to the first "
                                  "(e.g. cnncost compare block-conv3x3 block-depthwise-separable).")
    compare.add_argument("archs", nargs="+", metavar="NAME|FILE.yaml")
    add_training_options(compare)
    compare.add_argument("--format", default="text", choices=("text", "markdown", "csv", "json", "html"))
    compare.set_defaults(run=run_compare)

    check = commands.add_parser("check", help="build in PyTorch and check every number on real tensors",
                                description="Build the network in PyTorch and compare, per layer and in "
                                "total, the engine's figures with measurements (needs cnncost[torch]).")
    check.add_argument("arch", metavar="NAME|FILE.yaml")
    check.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    check.add_argument("--batch", type=positive_int, default=2, help="images per step (default 2)")
    check.add_argument("--input", type=parse_input, metavar="CxHxW", help="input size, e.g. 3x299x299")
    check.add_argument("--dtype", default="fp32", choices=("fp32", "fp64", "fp16", "bf16"),
                       help="fp16/bf16 run as autocast with fp32 parameters")
    check.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES))
    check.add_argument("--format", default="text", choices=("text", "markdown", "csv", "json"))
    check.set_defaults(run=run_check)
    return parser


def run_table(args: argparse.Namespace) -> str:
    from .api import table
    report = table(args.arch, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                   input=args.input, depth=args.depth, activations=args.activations, memory=args.memory)
    if args.format == "json":
        return report.to_json()
    if args.format == "csv":
        return report.to_csv().rstrip("\n")
    from .formatting import render
    return render(report, args.format)


def run_fit(args: argparse.Namespace) -> tuple[str, int]:
    import json
    from .api import fit
    from .formatting import breakdown_table, human_bytes
    result = fit(args.arch, args.memory, dtype=args.dtype, optimizer=args.optimizer, input=args.input,
                 mode=args.mode)
    name, fits = result.architecture, 0 if result.batch else 1  # exit 1: not even one sample fits
    setting = f"{args.dtype}, {args.optimizer}, train" if args.mode == "train" else f"{args.dtype}, inference"
    step = {"mode": args.mode, "peak_bytes": result.peak_bytes, "phase": result.peak.phase,
            "breakdown": {part: size.at(max(result.batch, 1)) for part, size in result.peak.parts.items()}}
    if args.format == "json":
        return json.dumps({"architecture": name, "budget_bytes": result.budget, "batch": result.batch,
                           "dtype": args.dtype, "optimizer": args.optimizer, "mode": args.mode,
                           "training_step": step}, indent=2), fits
    if result.batch == 0:
        return (f"{name}: not even batch 1 fits in {human_bytes(result.budget)} ({setting}); "
                f"batch 1 needs {human_bytes(result.peak_bytes)}\n\n" + breakdown_table(step, args.format)), fits
    same = (f"\n\nSame figures: cnncost table {args.arch} --batch {result.batch} --dtype {args.dtype} "
            f"--optimizer {args.optimizer} --memory autograd"
            + (f" --input {'x'.join(map(str, args.input))}" if args.input else "")) if args.mode == "train" else ""
    caveat = ("\n\nNo headroom is included for the CUDA context (about 0.3-1 GB), cuDNN workspaces or "
              "allocator fragmentation: give --memory a margin below the card's capacity.")
    return (f"{name}: largest batch that fits in {human_bytes(result.budget)}: {result.batch} "
            f"({setting}; peak {human_bytes(result.peak_bytes)})\n\n"
            + breakdown_table(step, args.format) + same + caveat), 0


def run_compare(args: argparse.Namespace) -> str:
    from .compare import compare
    comparison = compare(args.archs, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                         input=args.input, activations=args.activations)
    if args.format == "json":
        return comparison.to_json()
    return comparison.to_text(args.format).rstrip("\n")


def run_list(args: argparse.Namespace) -> str:
    from tabulate import tabulate
    from .zoo import list_archs
    archs = list_archs(args.pattern)
    if not archs:
        raise CnnCostError(f"no architecture matches '{args.pattern}'")
    return tabulate([(a.name, a.source, a.description) for a in archs],
                    headers=("name", "source", "description"), tablefmt="simple")


def run_spec(args: argparse.Namespace) -> str:
    from .api import load
    from .spec import dump_spec
    return dump_spec(load(args.arch)).rstrip("\n")


def run_check(args: argparse.Namespace) -> tuple[str, int]:
    try:
        from .torch_backend.cli import run_check as run
    except ImportError as error:
        if getattr(error, "name", "") != "torch":
            raise
        raise CnnCostError("cnncost check needs PyTorch: pip install 'cnncost[torch]'") from None
    return run(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], str | tuple[str, int]] = args.run
    try:
        result = run(args)
    except CnnCostError as error:
        print(f"cnncost: error: {error}", file=sys.stderr)
        return 2
    output, code = result if isinstance(result, tuple) else (result, 0)
    try:
        print(output)
    except BrokenPipeError:  # `cnncost table vgg16 | head`
        sys.stderr.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
