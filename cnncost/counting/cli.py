"""The `table` command's counting flags: `--count-as TOOL` and `--freeze PATTERN`.

The lead wires them into cnncost/cli.py:

    from .counting.cli import add_arguments, table_kwargs
    add_arguments(table)                            # in build_parser, on the table subcommand
    report = table(net, ..., **table_kwargs(args))  # in run_table

Importing this module imports no tool and no torch (the command line's cold path)."""
from __future__ import annotations

import argparse
from typing import Any

# Kept here (not imported from cnncost.counting) so that building the parser stays cheap.
TOOL_CHOICES = ("flopcounter", "flopcounter-train", "torchvision", "fvcore", "ptflops", "ptflops-aten", "thop",
                "torchinfo", "torchscan", "torchscan-macs", "allops")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count-as", dest="count_as", choices=TOOL_CHOICES, metavar="TOOL",
                        help="add a column 'ops': what TOOL reports for each layer and the net, an exact int in its "
                             "own unit (" + ", ".join(TOOL_CHOICES) + "; see docs/counting.md)")
    parser.add_argument("--freeze", dest="freeze", action="append", default=[], metavar="PATTERN",
                        help="layers whose row path matches PATTERN (fnmatch, e.g. 'layer1.*'; repeatable) are "
                             "frozen: no weight gradient in backward_flops / training_flops")


def table_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords `cnncost.table` takes from the parsed flags."""
    return {"count_as": getattr(args, "count_as", None), "freeze": tuple(getattr(args, "freeze", None) or ())}
