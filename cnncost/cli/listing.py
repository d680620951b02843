"""`cnncost list [PATTERN]`: the built-in architectures; csv and json add every field of
`cnncost.zoo_frame` at one training configuration, exact integers. That table compiles every
built-in (seconds): it is cached per options in $CNNCOST_CACHE_DIR (default ~/.cache/cnncost),
keyed by cnncost's version and its source files, so that a later run takes milliseconds."""
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
    columns, rows = _table(args)
    if args.format == "csv":
        from ..formatting import csv_line
        return (csv_line(columns) + "".join(csv_line(row) for row in rows)).rstrip("\n")
    from ..conventions import FLOP_CONVENTION, SCHEMA_VERSION
    from ..formatting import dumps
    return dumps({"schema_version": SCHEMA_VERSION, "pattern": args.pattern, "batch": args.batch,
                  "dtype": args.dtype, "optimizer": args.optimizer, "activations": args.activations,
                  "flop_convention": FLOP_CONVENTION, "columns": columns,
                  "architectures": [dict(zip(columns, row)) for row in rows]})


def _plain(value: Any) -> Any:
    """A Python int or str from a DataFrame cell (numpy ints become exact ints)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, int)) else value


# --- the csv/json table, cached (issue 21: `cnncost list --format csv|json` under 0.5 s) ---

CACHE_ENV = "CNNCOST_CACHE_DIR"


def _table(args: argparse.Namespace) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of cnncost.zoo_frame at the options; read from the cache where a previous
    run with the same options and the same cnncost source files (every file's path, size and
    modification time) left it, else computed (every built-in compiled) and cached."""
    options = [args.pattern, args.batch, args.dtype, args.optimizer, args.activations]
    path = _cache_path(options)
    cached = _read_cache(path) if path else None
    if cached is not None:
        return cached
    from ..frames import zoo_frame
    frame = zoo_frame(args.pattern, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                      activations=args.activations)
    frame.insert(1, "name", frame["architecture"])  # the JSON and CSV of `list` keep both keys (schema 1)
    columns = [str(c) for c in frame.columns]
    rows = [[_plain(value) for value in row] for row in zip(*(frame[c].tolist() for c in frame.columns))]
    if path:
        _write_cache(path, columns, rows)
    return columns, rows


def _cache_path(options: list[Any]) -> str | None:
    import hashlib
    import json
    import os
    from .. import __version__
    folder = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "cnncost")
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256(json.dumps([__version__, options]).encode("utf-8", "surrogateescape"))
    try:
        for root, folders, files in os.walk(package):
            folders[:] = sorted(f for f in folders if f != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".yaml", ".yml", ".json")):
                    info = os.stat(os.path.join(root, name))
                    digest.update(f"{os.path.relpath(os.path.join(root, name), package)}:{info.st_size}:"
                                  f"{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    except OSError:
        return None
    return os.path.join(folder, f"list-{digest.hexdigest()[:32]}.json")


def _read_cache(path: str) -> tuple[list[str], list[list[Any]]] | None:
    import json
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        columns, rows = data["columns"], data["rows"]
        if isinstance(columns, list) and isinstance(rows, list) and all(isinstance(r, list) and len(r) == len(columns)
                                                                      for r in rows):
            return columns, rows
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_cache(path: str, columns: list[str], rows: list[list[Any]]) -> None:
    import json
    import os
    from .boundary import write_file_atomically
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file_atomically(path, json.dumps({"columns": columns, "rows": rows}))
    except (OSError, TypeError, ValueError):  # a read-only home, a value JSON cannot hold: no cache
        pass
