"""`cnncost compare ARCH ARCH...`: totals side by side, with ratios to the first."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError
from .arch import resolve_arch
from .options import add_arch, add_format, add_reading_options, add_training_options, graph_kwargs
from .options import add_columns, columns_kwargs


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("compare", help="totals of several architectures or blocks side by side",
                                 description="Totals side by side, with ratios to the first "
                                 "(e.g. cnncost compare block-conv3x3 block-depthwise-separable).")
    add_arch(parser, many=True)
    add_training_options(parser)
    add_format(parser, "text", "markdown", "csv", "json", "html")
    add_reading_options(parser)
    add_columns(parser, "the comparison")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..api import table
    from ..compare import Comparison
    if not args.archs:
        raise CnnCostError("compare needs at least one architecture")
    reports = []
    options = graph_kwargs(args, table)
    options |= columns_kwargs(args)
    for arch in args.archs:
        net = resolve_arch(args, arch)
        reports.append(table(net, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                             input=args.input, activations=args.activations, **options))
    comparison = Comparison(tuple(reports))
    if args.format == "json":
        return comparison.to_json()
    return comparison.to_text(args.format).rstrip("\n")
