"""`cnncost import SOURCE` and the pieces the main command line uses to take a model anywhere a spec
goes. The lead wires them into cnncost/cli.py:

    from .importers import cli as import_cli
    import_cli.add_parser(commands)                      # the `import` subcommand
    import_cli.add_against(check_parser)                 # `check SPEC --against SOURCE`
    net = import_cli.resolve_source(args, arch)          # a Net for .onnx / torch sources, else None

Nothing here imports torch or onnx until a model is imported.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import CnnCostError

__all__ = ["add_parser", "run", "add_against", "run_against", "resolve_source", "load_source", "is_import_source"]

SOURCE_HELP = ("torchvision:NAME, timm:NAME, package.module:callable (a function or class returning an "
               "nn.Module), or a .onnx file")


def _input(text: str) -> tuple[int, ...]:
    from ..shapes import parse_shape
    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `import` to the main parser's subcommands."""
    parser = subparsers.add_parser(
        "import", help="a PyTorch or ONNX model as a YAML spec (loads back to the same numbers)",
        description="Trace a model (PyTorch, with torch.fx) or read it (ONNX, with the onnx package) and print "
                    "it as a cnncost spec whose row paths are the model's module paths. Weights are never "
                    "downloaded.")
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("--input", type=_input, metavar="CxHxW",
                        help="input size (default: the model's own, e.g. torchvision's crop size; else 3x224x224)")
    parser.add_argument("-o", "--output", metavar="FILE.yaml", help="write the spec to FILE instead of stdout")
    parser.add_argument("--allow-unknown", action="store_true",
                        help="keep operations cnncost does not know as opaque nodes (counts marked unknown) "
                             "instead of stopping with an error")
    parser.add_argument("--eval", action="store_true",
                        help="trace in eval mode (default: train mode, as a training step runs: dropout, "
                             "stochastic depth and auxiliary heads included)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> str | tuple[str, int]:
    """The spec as YAML on stdout, or written to --output (then a one-line summary)."""
    from ..spec import dump_spec
    from .sources import load_source as load
    args._source = args.source
    net = load(args.source, input=args.input, allow_unknown=args.allow_unknown, train=not args.eval)
    opaque = _opaque_nodes(net)
    if opaque:
        sys.stderr.write(f"cnncost: warning: {len(opaque)} opaque node(s) with unknown MACs and saved bytes: "
                         + ", ".join(opaque[:10]) + (", ..." if len(opaque) > 10 else "") + "\n")
    text = dump_spec(net)
    if args.output:
        path = Path(args.output)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CnnCostError(f"cannot write {args.output}: {error.strerror or error}") from None
        from ..api import table
        totals = table(net, batch=1).totals
        return (f"wrote {args.output}: {net.name}, input {'x'.join(map(str, net.input))}, "
                f"{totals.params:,} params, {totals.macs:,} MACs per image")
    return text.rstrip("\n")


def _opaque_nodes(net: Any) -> list[str]:
    from ..graph import compile
    from .opaque import Opaque
    return [n.path for n in compile(net).nodes[1:] if isinstance(n.layer, Opaque)]


def is_import_source(text: Any) -> bool:
    """True for what only the importers read: a .onnx file or a torch source string."""
    from .sources import is_onnx, is_torch_source
    return isinstance(text, str) and (is_onnx(text) or is_torch_source(text))


def load_source(text: str, *, input: Any = None, allow_unknown: bool = False, train: bool = True) -> Any:
    """A Net from anything a command takes: a .onnx file or a torch source (imported), else a built-in
    name or a YAML file (`cnncost.load`)."""
    from .sources import load_source as load
    return load(text, input=input, allow_unknown=allow_unknown, train=train)


def resolve_source(args: argparse.Namespace, arch: str) -> Any:
    """For the main CLI's `resolve`: the imported Net when `arch` is a .onnx file or a torch source,
    None otherwise (the caller reads a spec as before). The import is at the model's own input; the
    command's --input then applies to the Net as to any spec."""
    if not is_import_source(arch):
        return None
    args._source = arch
    return load_source(arch, allow_unknown=getattr(args, "allow_unknown", False))


def add_against(check_parser: argparse.ArgumentParser) -> None:
    """`check SPEC --against SOURCE` (and --eval for an eval-mode reference)."""
    check_parser.add_argument("--against", metavar="SOURCE",
                              help="compare SPEC layer by layer with the real network: " + SOURCE_HELP)
    check_parser.add_argument("--eval", action="store_true",
                              help="with --against: the reference in eval mode (default: train mode)")


def run_against(args: argparse.Namespace) -> tuple[str, int]:
    """Output and exit status (0 equal, 1 a layer differs) of `check SPEC --against SOURCE`."""
    from ..formatting import dumps
    from ..torch_backend.against import check_against
    spec = getattr(args, "net", None) or args.arch
    result = check_against(spec, args.against, batch=args.batch, input=args.input, train=not getattr(args, "eval", False))
    if getattr(args, "format", "text") == "json":
        from ..conventions import SCHEMA_VERSION
        data = {"schema_version": SCHEMA_VERSION, **{k: v for k, v in result.to_dict().items() if k != "schema_version"}}
        return dumps(data, indent=2), 0 if result.ok else 1
    return render_against(result), 0 if result.ok else 1


def render_against(result: Any, limit: int = 20) -> str:
    lines = [result.summary()]
    if not result.ok:
        for d in result.differences[1:limit]:
            lines.append("  " + d.describe())
        if len(result.differences) > limit:
            lines.append(f"  ... {len(result.differences) - limit} more")
    for q, (a, b) in result.totals.items():
        lines.append(f"total {q}: spec {a:,}, reference {b:,}" + ("" if a == b else "  <- differs"))
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
