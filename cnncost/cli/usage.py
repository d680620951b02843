"""What every `--help` shares: the exit statuses in its epilog (the statuses `cli.main` and
`guard` give, docs/cli.md), a formatter that keeps that table's lines, and the advanced group
(the hardening limits) listed last."""
from __future__ import annotations

import argparse

from .options import ADVANCED_TITLE

# status 1 of the commands that give it: what it means there
STATUS_1 = {
    "check": "an exact figure differs from PyTorch's (--against: the spec differs from the model)",
    "fit": "not even batch 1 fits the budget",
}


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, except that a text with line breaks (the exit-status table) keeps them."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def exit_statuses(command: str | None) -> str:
    """The epilog of `cnncost COMMAND --help` (the root's where `command` is None)."""
    if command is None:
        ones = [f"  1    {name}: {meaning}" for name, meaning in STATUS_1.items()]
    else:
        ones = [f"  1    {STATUS_1[command]}"] if command in STATUS_1 else []
    return "\n".join([
        "exit status:",
        "  0    the result was written (also when the reader of a pipe went away: `| head`)",
        *ones,
        "  2    an error: one line on stderr, 'cnncost: error: ...' (bad input or option, the time",
        "       limit, output that cannot be written)",
        "  130  interrupted (Ctrl-C)",
        "  143  terminated (SIGTERM)",
        "(docs/cli.md)",
    ])


def finish_help(parser: argparse.ArgumentParser, command: str | None) -> None:
    """The exit statuses in `parser`'s epilog (after the command's own), its advanced group last."""
    parser.formatter_class = HelpFormatter
    parser.epilog = "\n\n".join(text for text in (parser.epilog, exit_statuses(command)) if text)
    groups = parser._action_groups
    for group in [g for g in groups if g.title == ADVANCED_TITLE]:
        groups.remove(group)
        groups.append(group)
