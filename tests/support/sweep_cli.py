"""`run_cli`: the `sweep` command's parser and run, in-process, returning its text (no boundary)."""
from __future__ import annotations

from typing import Any


def run_cli(argv: list[str]) -> Any:
    from cnncost.cli.options import Parser
    from cnncost.cli.sweep import add_parser
    parser = Parser(prog="cnncost")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    args._source = None
    return args.run(args)
