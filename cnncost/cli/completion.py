"""`cnncost completion bash|zsh|fish`: print a shell completion script (`completion_script`
writes it from the command line's own parser)."""
from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any, root: argparse.ArgumentParser) -> None:
    """The `completion` subcommand of `root`, which its script describes."""
    parser = commands.add_parser("completion", help="print a shell completion script (bash, zsh, fish)",
                                 description="Print a completion script for subcommands, options and built-in "
                                 "architecture names. bash: eval \"$(cnncost completion bash)\" (in "
                                 "~/.bashrc); zsh: eval \"$(cnncost completion zsh)\" (in ~/.zshrc); fish: "
                                 "cnncost completion fish > ~/.config/fish/completions/cnncost.fish")
    parser.add_argument("shell", choices=("bash", "zsh", "fish"))
    parser.set_defaults(run=run, root_parser=root)


def run(args: argparse.Namespace) -> str:
    from .completion_script import script
    return script(args.shell, args.root_parser)
