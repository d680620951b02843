"""`cnncost import SOURCE`: a PyTorch model (traced with torch.fx) or an ONNX file as a YAML spec
whose row paths are the model's module paths. Nothing here imports torch or onnx until a model is
imported."""
from __future__ import annotations

import argparse
from typing import Any

from .boundary import write_out
from .options import add_allow_unknown, add_input
from .progress import note, stage

SOURCE_HELP = ("torchvision:NAME, timm:NAME, package.module:callable (a function or class returning an "
               "nn.Module), or a .onnx file")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "import", help="a PyTorch or ONNX model as a YAML spec (loads back to the same numbers)",
        description="Trace a model (PyTorch, with torch.fx) or read it (ONNX, with the onnx package) and print "
                    "it as a cnncost spec whose row paths are the model's module paths. Weights are never "
                    "downloaded.")
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    add_input(parser, help="input size (default: the model's own, e.g. torchvision's crop size; else 3x224x224)")
    parser.add_argument("-o", "--out", dest="out", metavar="FILE.yaml",
                        help="write the spec to FILE instead of stdout (whole or not at all), then a one-line summary")
    parser.add_argument("--output", dest="out", help=argparse.SUPPRESS)  # the first spelling, kept working
    add_allow_unknown(parser)
    parser.add_argument("--eval", action="store_true",
                        help="trace in eval mode (default: train mode, as a training step runs: dropout, "
                             "stochastic depth and auxiliary heads included)")
    parser.set_defaults(run=run, writes_own_out=True)


def run(args: argparse.Namespace) -> str:
    """The spec as YAML on stdout, or written to --out (then a one-line summary). The model is
    imported at --input; a spec given instead keeps its own input."""
    from ..resolve import resolve
    from ..spec import dump_spec
    args._source = args.source
    stage("reading the model" if args.source.lower().endswith(".onnx") else "tracing the model")
    net = resolve(args.source, input=args.input, import_input=args.input, allow_unknown=args.allow_unknown,
                  train=not args.eval)
    for line in net.warnings:  # an ONNX export whose batch norms were folded
        note(f"cnncost: warning: {line}\n")
    opaque = _opaque_nodes(net)
    if opaque:
        note(f"cnncost: warning: {len(opaque)} opaque node(s) with unknown MACs and saved bytes: "
             + ", ".join(opaque[:10]) + (", ..." if len(opaque) > 10 else "") + "\n")
    stage("writing the spec")
    text = dump_spec(net)
    out = args.out if args.out != "-" else None
    if out:
        write_out(out, text)  # whole or not at all
        from ..api import table
        totals = table(net, batch=1).totals
        return (f"wrote {out}: {net.name}, input {'x'.join(map(str, net.input))}, "
                f"{totals.params:,} params, {totals.macs:,} MACs per image")
    return text.rstrip("\n")


def _opaque_nodes(net: Any) -> list[str]:
    from ..graph import compile
    from ..layers.imported import Opaque
    return [n.path for n in compile(net).nodes[1:] if isinstance(n.layer, Opaque)]
