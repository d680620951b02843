"""`cnncost spec ARCH`: an architecture as YAML, which loads back to the same numbers."""
from __future__ import annotations

import argparse
from typing import Any

from .arch import resolve_arch
from .options import add_arch, add_input, add_reading_options


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("spec", help="print an architecture as YAML (loads back to the same numbers)")
    add_arch(parser)
    add_input(parser, help="input size: fills in a spec without an input: key, or replaces the net's")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..spec import dump_spec
    net = resolve_arch(args, args.arch)
    if getattr(args, "input", None):
        given = net.with_input(args.input)
        if given.named_inputs != net.named_inputs:
            net = given
    return dump_spec(net).rstrip("\n")
