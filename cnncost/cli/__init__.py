"""`cnncost` on the command line: parse, call the public API, print.

One module per command (`table`, `fit`, `sweep`, `importing`, `listing`, `spec`, `compare`,
`check`, `completion`), each with `add_parser(commands)` and `run(args)`, which returns the text
to print (and the exit status, where it is not 0); `options` defines the options they share,
`arch` turns an architecture argument into a Net, `boundary` writes the result or the error.

Whatever goes wrong ends as ONE line on stderr and exit status 2 (see `boundary`); set
CNNCOST_DEBUG=1 to get the traceback of an unexpected exception instead.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from ..errors import CnnCostError, one_line
from . import check, compare, completion, fit, importing, listing, spec, sweep, table
from . import calibrate, hardware
from .boundary import DEBUG_ENV, error_message, write
from .options import Parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; the subcommands in the order `cnncost --help` lists them."""
    from .. import __version__
    parser = Parser(prog="cnncost", description="Exact cost accounting for CNNs: "
                    "shapes, params, MACs/FLOPs and training memory, per layer.")
    parser.add_argument("--version", action="version", version=f"cnncost {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (table, fit, sweep, importing, listing, spec, compare, check, hardware, calibrate):
        command.add_parser(commands)
    completion.add_parser(commands, parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], str | tuple[str, int]] = args.run
    args._source, args._is_file, args._builtin = None, False, False
    try:
        result = run(args)
        output, code = result if isinstance(result, tuple) else (result, 0)
    except CnnCostError as error:
        write(sys.stderr, f"cnncost: error: {one_line(error_message(error, args._source, args._is_file))}\n")
        return 2
    except KeyboardInterrupt:
        write(sys.stderr, "cnncost: interrupted\n")
        return 130
    except Exception as error:  # noqa: BLE001  the boundary: nothing escapes as a traceback
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        write(sys.stderr, f"cnncost: error: {one_line(error_message(error, args._source, args._is_file))}\n")
        return 2
    try:
        write(sys.stdout, output + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `cnncost table vgg16 | head`
        sys.stderr.close()
    return code
