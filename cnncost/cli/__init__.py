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
from . import schema
from ..guard import TIMEOUT_ENV, Stopped, own_streams, terminate_as_exception, time_limit, timeout_from_env
from .boundary import DEBUG_ENV, UserExit, describe_write_error, error_message, silence, write, write_error, write_out
from .options import Parser, add_csv_safe, add_timeout
from .options import HelpNotWritten, add_out
from .progress import progress_line
from .usage import HelpFormatter, exit_statuses, finish_help


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; the subcommands in the order `cnncost --help` lists them."""
    from .. import __version__
    parser = Parser(prog="cnncost", description="Exact cost accounting for CNNs: "
                    "shapes, params, MACs/FLOPs and training memory, per layer.",
                    formatter_class=HelpFormatter, epilog=exit_statuses(None))
    parser.add_argument("--version", action="version", version=f"cnncost {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in (table, fit, sweep, importing, listing, spec, compare, check, hardware, calibrate):
        command.add_parser(commands)
    completion.add_parser(commands, parser)
    schema.add_parser(commands)
    for command_parser in commands.choices.values():  # every command may run user code or a trace
        add_timeout(command_parser)
        if _offers_csv(command_parser):
            add_csv_safe(command_parser)
    for name, command_parser in commands.choices.items():  # -o FILE where the command has none of its own
        if "--out" not in command_parser._option_string_actions:
            add_out(command_parser)
        finish_help(command_parser, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status. The boundary: whatever happens (a bad spec, user code
    raising anything, a signal, the time limit, output that cannot be written) ends as the output or
    as ONE line on stderr (exit statuses in docs/cli.md)."""
    real_out, real_err = sys.stdout, sys.stderr
    with terminate_as_exception():
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help, --version, a usage error: argparse printed it
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
            done.code = _finish(real_out, real_err, None, code)
            raise
        except HelpNotWritten as failed:  # --help or --version to a full disk, a closed stream
            raise SystemExit(_write_failed(real_out, real_err, failed.error, 0)) from None
        except Stopped as stop:
            write_error(real_err, one_line(str(stop)))
            return stop.status
        except KeyboardInterrupt:
            write_error(real_err, "interrupted")
            return 130
        output, code = _run(args)
        return _finish(sys.stdout, sys.stderr, output, code)  # the real streams, as own_streams gave back


def _run(args: argparse.Namespace) -> tuple[str | None, int]:
    """The command's output and status, or (None, status) once its error is on stderr."""
    run: Callable[[argparse.Namespace], str | tuple[str, int]] = args.run
    args._source, args._is_file, args._builtin = None, False, False

    def fail(message: str) -> None:
        write_error(sys.stderr, one_line(message))

    try:
        limit = _time_limit(args)
        out_file = _out_file(args)
        with own_streams(), time_limit(limit), progress_line(_progress_label(args)):
            result = run(args)
        output, code = result if isinstance(result, tuple) else (result, 0)
        if getattr(args, "csv_safe", False) and getattr(args, "format", None) == "csv":
            from ..formatting import csv_formula_safe
            output = csv_formula_safe(output + "\n").rstrip("\n")
        if out_file is not None:
            write_out(out_file, output + "\n")
            return None, code
        return output, code
    except CnnCostError as error:
        fail(error_message(error, args._source, args._is_file))
        return None, 2
    except KeyboardInterrupt:  # Ctrl-C, or user code raising it: the same to the shell
        fail("interrupted")
        return None, 130
    except Stopped as stop:
        fail(f"{args._source}: {stop}" if args._source else str(stop))
        return None, stop.status
    except SystemExit as exit_:  # user code calling sys.exit(): an error in that code, not our exit
        fail(error_message(UserExit(exit_), args._source, args._is_file))
        return None, 2
    except Exception as error:  # noqa: BLE001  the boundary: nothing escapes as a traceback
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        fail(error_message(error, args._source, args._is_file))
        return None, 2
    except BaseException as error:  # noqa: BLE001  GeneratorExit, user BaseException subclasses
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):  # and a harness's own (a fuzzer's alarm)
            raise
        fail(error_message(error, args._source, args._is_file))
        return None, 2


def _out_file(args: argparse.Namespace) -> str | None:
    """-o FILE where the result goes to FILE (None: stdout, or a command that writes its own file);
    a folder that is missing or read-only is refused before the command's work."""
    path = getattr(args, "out", None)
    if not path or path == "-" or getattr(args, "writes_own_out", False):
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CnnCostError(f"cannot write {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) and not os.access(path, os.W_OK):
        raise CnnCostError(f"cannot write {path}: no write access to {folder}")
    return path


def _progress_label(args: argparse.Namespace) -> str:
    """'cnncost check densenet201': the command and what it works on (compare's stage names each)."""
    target = next((getattr(args, name) for name in ("arch", "source") if getattr(args, name, None)), None)
    shown = f" {os.path.basename(target)}" if target else ""  # a spec's file name, not its folders
    return one_line(f"cnncost {args.command}{shown}")[:60]


def _write_failed(out: object, err: object, error: BaseException, code: int) -> int:
    """Output that could not be written: one line and status 2; a closed pipe ends quietly."""
    silence(out)
    if isinstance(error, BrokenPipeError):
        silence(err)
        return code
    write_error(err, f"cannot write the output: {describe_write_error(error)}")
    return 2


def _offers_csv(parser: argparse.ArgumentParser) -> bool:
    return any("--format" in action.option_strings and "csv" in (action.choices or ()) for action in parser._actions)


def _time_limit(args: argparse.Namespace) -> float:
    """--timeout, else CNNCOST_TIMEOUT, else the default; calibrate gets its own budget on top."""
    seconds = args.timeout
    if seconds is None:
        try:
            seconds = timeout_from_env()
        except ValueError as error:
            raise CnnCostError(f"{TIMEOUT_ENV}: {error}") from None
    return seconds + getattr(args, "budget_seconds", 0) if seconds else 0


def _finish(out: object, err: object, output: str | None, code: int) -> int:
    """Write the output; a stream that cannot take it is one line on stderr and status 2, except a
    closed pipe (`| head -1`), which ends quietly with the command's own status."""
    if out is None and output is None:
        return code
    if out is None:  # started with descriptor 1 closed (`cnncost table x >&-`): Python made no stdout
        write_error(err, "cannot write the output: standard output is not open (bad file descriptor)")
        return 2
    with terminate_as_exception():
        try:
            if output is not None:
                write(out, output + "\n")
            flush = getattr(out, "flush", None)
            if flush is not None:
                flush()
        except (OSError, ValueError) as error:  # ENOSPC, EBADF, EIO, a closed stream; a closed pipe: quietly
            return _write_failed(out, err, error, code)
        except Stopped as stop:
            silence(out)
            write_error(err, one_line(str(stop)))
            return stop.status
        except KeyboardInterrupt:
            silence(out)
            write_error(err, "interrupted")
            return 130
    return code
