"""`cnncost list [PATTERN]`: the built-in architectures; csv and json add every field of
`cnncost.zoo_frame` at one training configuration, exact integers, from the per-sample totals
shipped with the package (`cnncost.zoo.totals`): no built-in is compiled."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError
from .options import DTYPE_CHOICES, add_activations, add_batch, add_dtype, add_format, add_optimizer


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("list", help="built-in architectures",
                                 description="Built-in architectures: name, source and description as text; "
                                 "--format csv or json adds family, input and output shapes and the exact totals "
                                 "of each (cnncost.zoo_frame) at one training configuration.")
    parser.add_argument("pattern", nargs="?", default="*", help="shell pattern, e.g. 'vgg*'")
    add_format(parser, "text", "csv", "json", help="text (default): name, source, description; csv, json: every "
                                                    "field of cnncost.zoo_frame(), exact integers")
    add_batch(parser, help="for csv/json totals (default 128)")
    add_dtype(parser, DTYPE_CHOICES, help="for csv/json totals (default fp32)")
    add_optimizer(parser, help="for csv/json totals (default adam)")
    add_activations(parser, help="for csv/json totals (default all)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..zoo.registry import list_archs
    archs = list_archs(args.pattern)
    if not archs:
        raise CnnCostError(f"no architecture matches '{args.pattern}'")
    if getattr(args, "format", "text") == "text":
        from tabulate import tabulate
        return tabulate([(a.name, a.source, a.description) for a in archs],
                        headers=("name", "source", "description"), tablefmt="simple")
    from ..frames import zoo_records
    columns, rows = zoo_records(args.pattern, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                                activations=args.activations)
    if args.format == "csv":
        from ..formatting import csv_line
        return (csv_line(columns) + "".join(csv_line(row) for row in rows)).rstrip("\n")
    from ..conventions import FLOP_CONVENTION, SCHEMA_VERSION
    from ..formatting import dumps
    return dumps({"schema_version": SCHEMA_VERSION, "pattern": args.pattern, "batch": args.batch,
                  "dtype": args.dtype, "optimizer": args.optimizer, "activations": args.activations,
                  "flop_convention": FLOP_CONVENTION, "columns": columns,
                  "architectures": [dict(zip(columns, row)) for row in rows]})

