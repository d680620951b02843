"""`cnncost` on the command line: parse, call the public API, print.

One boundary: whatever goes wrong ends as ONE line on stderr and exit status 2,

    cnncost: error: FILE: layer 'path' (type): problem

for a bad spec or option (a `CnnCostError`) and equally for anything else (RecursionError,
MemoryError, OverflowError, UnicodeError, OSError, an exception from PyTorch...), which is also
named as unexpected. Names are shown escaped (no newline or terminal escape gets through). Set
CNNCOST_DEBUG=1 to get the traceback of an unexpected exception instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, NoReturn, Sequence

from .conventions import ACTIVATION_COUNTS, DTYPE_ALIASES, DTYPE_BYTES, MEMORY_CONVENTIONS, OPTIMIZER_COPIES
from .errors import CnnCostError, SpecError, one_line
from .shapes import parse_shape

DTYPE_CHOICES = (*DTYPE_BYTES, *DTYPE_ALIASES)
FORMATS = ("text", "markdown", "csv", "json", "html", "latex")
DEBUG_ENV = "CNNCOST_DEBUG"
ARCH_METAVAR = "NAME|FILE.yaml|FILE.py:callable"
ARCH_HELP = ("a built-in name (cnncost list), a YAML spec, '-' (a spec on stdin), FILE.py:callable (runs the file: "
             "see docs/spec.md) or a model to import (torchvision:NAME, timm:NAME, package.module:callable, FILE.onnx)")
CHECK_DEVICES = ("cpu", "cuda")
REFUSED_DEVICES = {
    "meta": "meta tensors have shapes but no data or memory: every measured figure would be meaningless",
    "mps": "Apple's MPS backend is not supported: its FLOP counting and memory statistics differ; use cpu",
    "xla": "XLA devices are not supported: use cpu or cuda", "xpu": "XPU devices are not supported: use cpu or cuda",
    "hip": "use 'cuda' for ROCm builds of PyTorch",
}


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line, in the same shape as every other error."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"cnncost: error: {one_line(message)} (see '{one_line(self.prog)} --help')\n")
        raise SystemExit(2)


def parse_input(text: str) -> tuple[int, ...]:
    """'3x224x224' or '224' (3 channels, square) -> (3, 224, 224)."""
    if len(text) > 200:
        raise argparse.ArgumentTypeError(f"expected CxHxW like 3x224x224, got {len(text)} characters")
    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_int(text: str) -> int:
    shown = text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
    try:
        value = int(text)
    except ValueError:  # also an int beyond Python's 4,300-digit limit
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{shown}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{shown}'")
    return value


def non_negative_int(text: str) -> int:
    if text.strip() == "0":
        return 0
    return positive_int(text)


def device_name(text: str) -> str:
    """cpu, cuda or cuda:N; anything else is refused by name, with the reason."""
    kind, _, index = text.partition(":")
    if kind in CHECK_DEVICES and (not index or (kind == "cuda" and index.isdigit() and len(index) < 6)):
        return text
    reason = REFUSED_DEVICES.get(kind.lower(), "cnncost check runs on cpu or cuda only")
    raise argparse.ArgumentTypeError(f"device '{text}' is refused: {reason}")


def size_limit(text: str) -> int:
    from .reading import parse_size
    try:
        return parse_size(text)
    except CnnCostError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def add_reading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-spec-bytes", type=size_limit, metavar="SIZE",
                        help="largest spec file read (default 16MiB; env CNNCOST_MAX_SPEC_BYTES)")
    parser.add_argument("--max-yaml-nodes", type=positive_int, metavar="N",
                        help="most YAML nodes, aliases expanded (default 1,000,000; env CNNCOST_MAX_YAML_NODES)")
    parser.add_argument("--max-nodes", type=positive_int, metavar="N",
                        help="most nodes the network may expand to (repeats and templates count every copy)")


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
    parser = _Parser(prog="cnncost", description="Exact cost accounting for CNNs: "
                     "shapes, params, MACs/FLOPs and training memory, per layer.")
    parser.add_argument("--version", action="version", version=f"cnncost {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    table = commands.add_parser("table", help="per-layer table of one architecture",
                                description="Per-layer table of a built-in architecture or a YAML spec "
                                "('-' reads the spec from stdin).")
    table.add_argument("arch", metavar=ARCH_METAVAR, help=ARCH_HELP)
    add_training_options(table)
    table.add_argument("--depth", type=non_negative_int, metavar="N", help="collapse blocks below depth N into one row")
    table.add_argument("--memory", default="lecture", choices=MEMORY_CONVENTIONS,
                       help="'lecture': 2 x activations + k x params (default); 'autograd': what PyTorch saves "
                            "for backward per layer, and the training step's peak with its breakdown")
    table.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                       help="under --memory autograd: whose rules (dropout's mask differs; default cuda)")
    table.add_argument("--format", default="text", choices=FORMATS)
    add_reading_options(table)
    _add_counting_options(table)
    table.set_defaults(run=run_table)

    fit = commands.add_parser("fit", help="largest batch whose PyTorch training step fits in memory",
                              description="Largest batch whose training step (autograd memory model: "
                              "parameters, gradients, optimizer state, saved activations) fits, with the "
                              "breakdown at that batch (e.g. cnncost fit vgg16 --budget 80GiB --dtype bf16). "
                              "Sizes take SI or IEC units: GB = 10^9 bytes, GiB = 2^30 bytes.")
    fit.add_argument("arch", metavar=ARCH_METAVAR, help=ARCH_HELP)
    fit.add_argument("--budget", metavar="SIZE",
                     help="memory budget with a unit: 80GB = 80*10^9 B, 80GiB = 80*2^30 B; kB, MB, GB, TB are "
                          "decimal (10^3, 10^6, 10^9, 10^12), KiB, MiB, GiB, TiB binary (2^10 ... 2^40); "
                          "case-insensitive; fractions allowed (1.5TB). Note: GB used to mean 2^30 here")
    fit.add_argument("--memory", dest="memory_deprecated", metavar="SIZE", help=argparse.SUPPRESS)
    fit.add_argument("--input", type=parse_input, metavar="CxHxW", help="input size, e.g. 3x299x299")
    fit.add_argument("--dtype", default="fp32", choices=("bf16", "fp16", "fp32", "fp64"),
                     help="fp32 (default); bf16/fp16 = autocast with fp32 master weights")
    fit.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES))
    fit.add_argument("--mode", default="train", choices=("train", "inference"))
    fit.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                     help="whose autograd rules (dropout's mask differs; default cuda)")
    fit.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    add_reading_options(fit)
    fit.set_defaults(run=run_fit)

    from . import sweep_cli
    sweep_cli.add_parser(commands)
    from .importers import cli as import_cli
    import_cli.add_parser(commands)

    listing = commands.add_parser("list", help="built-in architectures",
                                  description="Built-in architectures: name, source and description as text; "
                                  "--format csv or json adds family, input and output shapes and the exact totals "
                                  "of each (cnncost.zoo_frame) at one training configuration.")
    listing.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'vgg*'")
    listing.add_argument("--format", default="text", choices=("text", "csv", "json"),
                         help="text (default): name, source, description; csv, json: every field of "
                              "cnncost.zoo_frame(), exact integers")
    listing.add_argument("--batch", type=positive_int, default=128, help="for csv/json totals (default 128)")
    listing.add_argument("--dtype", default="fp32", choices=DTYPE_CHOICES, metavar="DTYPE",
                         help="for csv/json totals (default fp32)")
    listing.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES),
                         help="for csv/json totals (default adam)")
    listing.add_argument("--activations", default="all", choices=ACTIVATION_COUNTS,
                         help="for csv/json totals (default all)")
    listing.set_defaults(run=run_list)

    spec = commands.add_parser("spec", help="print an architecture as YAML (loads back to the same numbers)")
    spec.add_argument("arch", metavar=ARCH_METAVAR, help=ARCH_HELP)
    spec.add_argument("--input", type=parse_input, metavar="CxHxW",
                      help="input size: fills in a spec without an input: key, or replaces the net's")
    add_reading_options(spec)
    spec.set_defaults(run=run_spec)

    compare = commands.add_parser("compare", help="totals of several architectures or blocks side by side",
                                  description="Totals side by side, with ratios to the first "
                                  "(e.g. cnncost compare block-conv3x3 block-depthwise-separable).")
    compare.add_argument("archs", nargs="+", metavar=ARCH_METAVAR, help=ARCH_HELP)
    add_training_options(compare)
    compare.add_argument("--format", default="text", choices=("text", "markdown", "csv", "json", "html"))
    add_reading_options(compare)
    compare.set_defaults(run=run_compare)

    check = commands.add_parser("check", help="build in PyTorch and check every number on real tensors",
                                description="Build the network in PyTorch and compare, per layer and in "
                                "total, the engine's figures with measurements (needs cnncost[torch]).")
    check.add_argument("arch", metavar=ARCH_METAVAR, help=ARCH_HELP)
    check.add_argument("--device", default="cpu", type=device_name, help="cpu (default), cuda or cuda:N")
    check.add_argument("--against", metavar="SOURCE",
                       help="compare the spec with the real network SOURCE (torchvision:NAME, timm:NAME, "
                            "package.module:callable or FILE.onnx), layer by layer: see docs/import.md")
    check.add_argument("--batch", type=positive_int, default=2, help="images per step (default 2)")
    check.add_argument("--input", type=parse_input, metavar="CxHxW", help="input size, e.g. 3x299x299")
    check.add_argument("--dtype", default="fp32", choices=("fp32", "fp64", "fp16", "bf16"),
                       help="fp16/bf16 run as autocast with fp32 parameters")
    check.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZER_COPIES))
    check.add_argument("--format", default="text", choices=("text", "markdown", "csv", "json"))
    check.add_argument("--allow-large", action="store_true",
                       help="run even when the check needs more memory than its limit (default 8 GiB; "
                            "env CNNCOST_CHECK_MAX_BYTES)")
    add_reading_options(check)
    check.set_defaults(run=run_check)

    completion = commands.add_parser("completion", help="print a shell completion script (bash, zsh, fish)",
                                     description="Print a completion script for subcommands, options and built-in "
                                     "architecture names. bash: eval \"$(cnncost completion bash)\" (in "
                                     "~/.bashrc); zsh: eval \"$(cnncost completion zsh)\" (in ~/.zshrc); fish: "
                                     "cnncost completion fish > ~/.config/fish/completions/cnncost.fish")
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    completion.set_defaults(run=run_completion)
    return parser


# --- resolving architectures: the CLI reads spec files itself, through cnncost.reading ---

def resolve(args: argparse.Namespace, arch: str) -> Any:
    """A Net from a built-in name, a spec path, '-' (stdin), FILE.py:callable (the file is run) or a
    model to import (.onnx, torchvision:NAME, timm:NAME, package.module:callable); the file is
    remembered as the source of any later error. --input fills in a YAML spec without `input:` and
    reaches a Python spec's callable when it takes `input`."""
    from .reading import STDIN, is_spec_path
    args._source = "<stdin>" if arch == STDIN else arch
    args._builtin = False
    given = _given_input(args)
    if ":" in arch and arch != STDIN:
        from .pyspec import is_python_spec, load_python_spec
        if is_python_spec(arch):
            args._is_file = True
            return load_python_spec(arch, input=given)
    if ":" in arch or arch.lower().endswith(".onnx"):
        from .importers import cli as import_cli
        net = import_cli.resolve_source(args, arch)
        if net is not None:
            args._is_file = True
            return net
    args._is_file = is_spec_path(arch)
    if args._is_file:
        if arch == STDIN:
            if getattr(args, "_stdin_used", False):
                raise SpecError("'-' (stdin) can be given only once")
            args._stdin_used = True
        from .spec import load_spec
        return load_spec(arch, max_bytes=getattr(args, "max_spec_bytes", None),
                         max_nodes=getattr(args, "max_yaml_nodes", None), input=given)
    from .zoo.registry import get_arch
    args._builtin = True
    return get_arch(arch)


def _given_input(args: argparse.Namespace) -> tuple[int, ...] | None:
    """The command's --input as one shape (sweep's list: its first full CxHxW shape), or None."""
    value = getattr(args, "input", None)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, tuple)), None)
    return value if isinstance(value, tuple) else None


def _graph_options(args: argparse.Namespace, function: Callable[..., Any]) -> dict[str, Any]:
    """`max_nodes` for the API call, where the user gave --max-nodes."""
    if getattr(args, "max_nodes", None) is None:
        return {}
    import inspect
    if "max_nodes" not in inspect.signature(function).parameters:
        raise CnnCostError("--max-nodes is not supported by this version of cnncost's engine")
    return {"max_nodes": args.max_nodes}


def _add_counting_options(parser: argparse.ArgumentParser) -> None:
    """--count-as TOOL and --freeze PATTERN (cnncost.counting)."""
    try:
        from .counting.cli import add_arguments
    except ImportError:  # pragma: no cover - the counting package ships with cnncost
        return
    add_arguments(parser)


def _counting_kwargs(args: argparse.Namespace) -> dict:
    out = {}
    if getattr(args, "count_as", None):
        out["count_as"] = args.count_as
    if getattr(args, "freeze", None):
        out["freeze"] = args.freeze
    return out


def run_table(args: argparse.Namespace) -> str:
    from .api import table
    net = resolve(args, args.arch)
    report = table(net, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                   input=args.input, depth=args.depth, activations=args.activations, memory=args.memory,
                   device=args.device, **_counting_kwargs(args), **_graph_options(args, table))
    if args.format == "json":
        return report.to_json()
    if args.format == "csv":
        return report.to_csv().rstrip("\n")
    from .formatting import render
    return render(report, args.format)


BUDGET_DEPRECATED = "cnncost: note: --memory in fit is deprecated: use --budget (GB = 10^9 B, GiB = 2^30 B)\n"


def _budget(args: argparse.Namespace) -> str:
    """fit's --budget, or the deprecated --memory (one note on stderr)."""
    budget, old = getattr(args, "budget", None), getattr(args, "memory_deprecated", None)
    if budget is not None and old is not None:
        raise CnnCostError("give --budget only (--memory is its deprecated name)")
    if budget is None and old is None:
        raise CnnCostError("fit needs --budget SIZE, e.g. --budget 80GB (80*10^9 B) or --budget 80GiB (80*2^30 B)")
    if budget is None:
        _write(sys.stderr, BUDGET_DEPRECATED)
        return old
    return budget


def run_fit(args: argparse.Namespace) -> tuple[str, int]:
    from .api import fit
    from .conventions import SCHEMA_VERSION
    from .errors import int_text
    from .formatting import breakdown_table, dumps
    from .units import size_text
    budget = _budget(args)
    net = resolve(args, args.arch)
    result = fit(net, budget, dtype=args.dtype, optimizer=args.optimizer, input=args.input,
                 mode=args.mode, device=args.device, **_graph_options(args, fit))
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
            + (f" --input {'x'.join(map(str, args.input))}" if args.input else "")) if args.mode == "train" else ""
    caveat = ("\n\nNo headroom is included for the CUDA context (about 0.3-1 GB), cuDNN workspaces or "
              f"allocator fragmentation: give --budget a margin below the card's capacity. {units}")
    return (f"{shown}: largest batch that fits in budget {result.budget_shown}: {int_text(result.batch)} "
            f"({setting}; peak {size_text(result.peak_bytes)})\n\n"
            + breakdown_table(step, args.format) + same + caveat), 0


def run_compare(args: argparse.Namespace) -> str:
    from .api import table
    from .compare import Comparison
    if not args.archs:
        raise CnnCostError("compare needs at least one architecture")
    reports = []
    options = _graph_options(args, table)
    for arch in args.archs:
        net = resolve(args, arch)
        reports.append(table(net, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                             input=args.input, activations=args.activations, **options))
    comparison = Comparison(tuple(reports))
    if args.format == "json":
        return comparison.to_json()
    return comparison.to_text(args.format).rstrip("\n")


def run_list(args: argparse.Namespace) -> str:
    from .zoo import list_archs
    archs = list_archs(args.pattern)
    if not archs:
        raise CnnCostError(f"no architecture matches '{args.pattern}'")
    if getattr(args, "format", "text") == "text":
        from tabulate import tabulate
        return tabulate([(a.name, a.source, a.description) for a in archs],
                        headers=("name", "source", "description"), tablefmt="simple")
    from .frames import zoo_frame
    frame = zoo_frame(args.pattern, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                      activations=args.activations)
    columns = [str(c) for c in frame.columns]
    rows = [[_plain(value) for value in row] for row in zip(*(frame[c].tolist() for c in frame.columns))]
    if args.format == "csv":
        from .formatting import csv_line
        return (csv_line(columns) + "".join(csv_line(row) for row in rows)).rstrip("\n")
    from .conventions import FLOP_CONVENTION, SCHEMA_VERSION
    from .formatting import dumps
    return dumps({"schema_version": SCHEMA_VERSION, "pattern": args.pattern, "batch": args.batch,
                  "dtype": args.dtype, "optimizer": args.optimizer, "activations": args.activations,
                  "flop_convention": FLOP_CONVENTION, "columns": columns,
                  "architectures": [dict(zip(columns, row)) for row in rows]})


def _plain(value: Any) -> Any:
    """A Python int or str from a DataFrame cell (numpy ints become exact ints)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, int)) else value


def run_spec(args: argparse.Namespace) -> str:
    from .spec import dump_spec
    net = resolve(args, args.arch)
    if getattr(args, "input", None) and tuple(net.input) != tuple(args.input):
        net = net.with_input(args.input)
    return dump_spec(net).rstrip("\n")


def run_completion(args: argparse.Namespace) -> str:
    from .completion import script
    return script(args.shell, build_parser())


def run_check(args: argparse.Namespace) -> tuple[str, int]:
    try:
        from .torch_backend.cli import run_check as run
    except ImportError as error:
        if getattr(error, "name", "") != "torch":
            raise
        raise CnnCostError("cnncost check needs PyTorch: pip install 'cnncost[torch]'") from None
    args.net = resolve(args, args.arch)
    return run(args)


# --- the boundary ---

def describe_unexpected(error: BaseException) -> str:
    """One line for an exception that is not a CnnCostError."""
    kind = type(error).__name__
    text = str(error)
    if isinstance(error, RecursionError):
        return "the spec nests too deeply to process (Python's recursion limit)"
    if isinstance(error, MemoryError):
        return "out of memory while processing the spec"
    if isinstance(error, OverflowError):
        return f"a number is too large to compute with ({text})"
    if isinstance(error, ValueError) and ("int_max_str_digits" in text or "Exceeds the limit" in text):
        return "an integer has more digits than Python converts (4,300)"
    if isinstance(error, UnicodeError):
        return f"text that cannot be encoded or decoded ({kind}: {text})"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror or text}{where}".strip()
    module = type(error).__module__ or ""
    origin = "PyTorch" if module.startswith("torch") else "cnncost"
    return (f"unexpected {kind} in {origin}: {text or 'no message'} (a bug: please report it; "
            f"{DEBUG_ENV}=1 shows the traceback)")


def _message(error: BaseException, source: str | None, is_file: bool = False) -> str:
    try:
        if isinstance(error, CnnCostError):
            if source and not error.source and (is_file or getattr(error, "path", None)):
                error.at(source=source)  # an error about a spec file, or about a layer: name the file
            return str(error)
        text = describe_unexpected(error)
        return f"{source}: {text}" if source else text
    except Exception:  # describing must not fail in turn
        return f"{source + ': ' if source else ''}{type(error).__name__}"


def _write(stream: Any, text: str) -> None:
    """Write text whatever the stream's encoding (a name may hold characters it lacks)."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], str | tuple[str, int]] = args.run
    args._source, args._is_file, args._builtin = None, False, False
    try:
        result = run(args)
        output, code = result if isinstance(result, tuple) else (result, 0)
    except CnnCostError as error:
        _write(sys.stderr, f"cnncost: error: {one_line(_message(error, args._source, args._is_file))}\n")
        return 2
    except KeyboardInterrupt:
        _write(sys.stderr, "cnncost: interrupted\n")
        return 130
    except Exception as error:  # noqa: BLE001  the boundary: nothing escapes as a traceback
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        _write(sys.stderr, f"cnncost: error: {one_line(_message(error, args._source, args._is_file))}\n")
        return 2
    try:
        _write(sys.stdout, output + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `cnncost table vgg16 | head`
        sys.stderr.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
