"""`cnncost sweep ARCH --batch 1,8,64 --input 3x224x224,3x256x256 [--width ...] [--depth-multiplier ...]
[--dtype ...] [--optimizer ...] [--memory lecture|autograd] --format csv|json|text|markdown`:
one line per configuration, the totals of the JSON contract (docs/sweeps.md). numpy and pandas
are imported only when the command runs.
"""
from __future__ import annotations

import argparse
from typing import Any

from .arch import resolve_arch
from .options import (add_activations, add_arch, add_device, add_format, add_freeze, add_memory,
                      add_reading_options)
from .options import add_torch_version
from .options import add_time_profile
from .progress import note, stage
from ..errors import CnnCostError
from .options import add_accumulate, add_checkpoint, add_parallel, parallel_kwargs
from .options import add_links, links_kwargs

MAX_VALUES = 1_000_000  # values one list option may expand to (a range like 1:10**9 is refused)


def _split(text: str, what: str) -> list[str]:
    if len(text) > 100_000:
        raise argparse.ArgumentTypeError(f"a list of {len(text):,} characters is too long (at most 100,000)")
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected {what} separated by commas, got an empty item in '{text[:60]}'")
    return items


def _int_range(item: str) -> list[int]:
    """'64' or 'START:STOP[:STEP]' (STOP included)."""
    parts = item.split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or START:STOP[:STEP], got '{item[:60]}'") from None
    if len(numbers) == 1:
        return numbers
    if len(numbers) > 3 or (len(numbers) == 3 and numbers[2] < 1):
        raise argparse.ArgumentTypeError(f"expected START:STOP[:STEP] with STEP >= 1, got '{item[:60]}'")
    start, stop, step = numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 1
    if stop < start:
        raise argparse.ArgumentTypeError(f"range '{item[:60]}' is empty (STOP is below START)")
    if (stop - start) // step + 1 > MAX_VALUES:
        raise argparse.ArgumentTypeError(f"range '{item[:60]}' has more than {MAX_VALUES:,} values")
    return list(range(start, stop + 1, step))


def batch_list(text: str) -> list[int]:
    """'1,8,64' or '1:256:8' (inclusive) or a mix."""
    out: list[int] = []
    for item in _split(text, "batch sizes"):
        out += _int_range(item)
    if any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"expected positive batch sizes (1 or more), got {min(out)}")
    return out


def input_list(text: str) -> list[Any]:
    """'3x224x224,3x256x256', sizes '224,256' (the net's channels, square) or a range of sizes
    '128:512:32' (inclusive)."""
    from ..shapes import parse_shape
    out: list[Any] = []
    for item in _split(text, "shapes or sizes"):
        if "x" in item.lower():
            try:
                out.append(parse_shape(item))
            except ValueError as error:
                raise argparse.ArgumentTypeError(str(error)) from None
        else:
            sizes = _int_range(item)
            if any(v < 1 for v in sizes):
                raise argparse.ArgumentTypeError(f"expected positive input sizes (1 or more), got {min(sizes)}")
            out += sizes
    if len(out) > MAX_VALUES:
        raise argparse.ArgumentTypeError(f"more than {MAX_VALUES:,} input values")
    return out


def float_list(text: str) -> list[float]:
    import math
    out = []
    for item in _split(text, "multipliers"):
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected multipliers like 0.5,1,2, got '{item[:60]}'") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"expected positive multipliers (above 0), got '{item[:60]}'")
        out.append(value)
    return out


def name_list(text: str) -> list[str]:
    return _split(text, "names")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "sweep", help="totals over a grid of batches, inputs, widths, depths, dtypes, optimizers",
        description="Totals of one architecture for every combination of the values given, one line per "
        "configuration, exact (e.g. cnncost sweep resnet50 --batch 1,8,64 --input 224,256,288). Lists are "
        "comma-separated; START:STOP[:STEP] is a range with STOP included.")
    add_arch(parser)
    parser.add_argument("-b", "--batch", type=batch_list, default=[128], metavar="LIST",
                        help="batch sizes, e.g. 1,8,64 or 1:256:8 (default 128)")
    parser.add_argument("-i", "--input", type=input_list, metavar="LIST",
                        help="input shapes 3x224x224,3x256x256, or sizes 224,256 or 128:512:32 (default: the net's)")
    parser.add_argument("--width", type=float_list, metavar="LIST",
                        help="width multipliers, e.g. 0.5,1,2 (families with a scaling hook: resnet, mobilenet, "
                             "efficientnet, regnet)")
    parser.add_argument("--depth-multiplier", dest="depth", type=float_list, metavar="LIST",
                        help="depth multipliers, e.g. 1,1.5,2 (blocks per stage scaled; the families of --width)")
    parser.add_argument("--depth", dest="depth_deprecated", type=float_list, help=argparse.SUPPRESS)
    parser.add_argument("--dtype", type=name_list, default=["fp32"], metavar="LIST", help="e.g. fp32,bf16 (default fp32)")
    parser.add_argument("--optimizer", type=name_list, default=["adam"], metavar="LIST",
                        help="e.g. sgd,adam (default adam)")
    add_activations(parser)
    add_memory(parser, help="'autograd' adds saved_bytes and peak_bytes (the training step's peak)")
    add_device(parser, help="for --memory autograd: what autograd saves differs by device for a few ops")
    add_torch_version(parser)
    parser.add_argument("--invalid", default="raise", choices=("raise", "drop"),
                        help="configurations the net cannot run (an input too small): an error (default) or left out")
    add_freeze(parser, help="layers whose row path matches PATTERN (fnmatch; repeatable) get no weight gradient in "
                            "backward_flops / training_flops, as in table; under --memory autograd no gradients, no "
                            "optimizer state and nothing saved before the first trainable layer")
    add_accumulate(parser)
    add_checkpoint(parser)
    add_parallel(parser)
    add_time_profile(parser, help="add time columns on this hardware profile (built-in name or file; docs/sweeps.md): "
                                  "step seconds and images/s, expected and roofline bound, and what limits the step")
    add_links(parser)  # --nodes, --network-bandwidth, --reduce-dtype: several GPUs' communication in the step
    add_format(parser, "text", "markdown", "csv", "json")
    add_reading_options(parser)
    parser.set_defaults(run=run)


DEPTH_DEPRECATED = ("cnncost: note: --depth in sweep is deprecated: use --depth-multiplier, the same depth "
                    "multipliers (--depth is table's collapse level)\n")


def _depth(args: argparse.Namespace) -> list[float] | None:
    """--depth-multiplier, or the deprecated --depth (one note on stderr)."""
    if args.depth_deprecated is None:
        return args.depth
    if args.depth is not None:
        raise CnnCostError("give --depth-multiplier only (--depth is its deprecated spelling in sweep)")
    note(DEPTH_DEPRECATED)
    return args.depth_deprecated


def _configurations(args: argparse.Namespace) -> int:
    """How many configurations the lists give (the progress line's count)."""
    count = 1
    for values in (args.batch, args.input, args.width, args.depth, args.dtype, args.optimizer):
        count *= len(values) if values else 1
    return count


def run(args: argparse.Namespace) -> str:
    from ..sweeps import sweep
    args.depth = _depth(args)
    net = resolve_arch(args, args.arch)
    stage(f"{_configurations(args):,} configurations")
    # --width/--depth rebuild a built-in family by name; any other net is swept as it is
    arch: Any = args.arch if (args.width or args.depth) and getattr(args, "_builtin", False) else net
    frame = sweep(arch, batch=args.batch, input=args.input, width=args.width, depth=args.depth, dtype=args.dtype,
                  optimizer=args.optimizer, memory=args.memory, device=args.device,
                  torch_version=args.torch_version, activations=args.activations,
                  invalid=args.invalid, freeze=tuple(args.freeze), hardware=args.hardware,
                  **_step_kwargs(args))
    if args.format == "csv":
        return to_csv(frame).rstrip("\n")
    if args.format == "json":
        return to_json(frame)
    return to_text(frame, args.format)


def _step_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """--accumulate, --checkpoint, --checkpoint-save and the several-GPU options, as `sweep` takes them."""
    return {"accumulate": args.accumulate, "checkpoint": tuple(args.checkpoint),
            "checkpoint_save": tuple(args.checkpoint_save), "parallel": parallel_kwargs(args) or None,
            **links_kwargs(args)}


def _records(frame: Any) -> tuple[list[str], list[list[Any]]]:
    from ..sweeps import INPUT_DIMS
    dims = {key for keys in INPUT_DIMS.values() for key in keys}  # the frame's numeric input: `input` says it
    columns = [c for c in frame.columns if c not in dims]
    values = [frame[c].astype(str).tolist() if c in ("input", "dtype", "optimizer", "limited_by") else frame[c].tolist()
              for c in columns]
    return columns, [list(row) for row in zip(*values)]


def to_csv(frame: Any) -> str:
    """A header line and one line per configuration; exact integers."""
    from ..formatting import csv_line
    columns, rows = _records(frame)
    return csv_line(columns) + "".join(csv_line(row) for row in rows)


def to_json(frame: Any) -> str:
    """{"schema_version", "architecture", "memory", ..., "configurations": [{column: value}, ...]};
    exact integers."""
    from ..conventions import SCHEMA_VERSION
    from ..formatting import dumps
    columns, rows = _records(frame)
    meta = {k: v for k, v in frame.attrs.items() if v is not None}
    return dumps({"schema_version": SCHEMA_VERSION} | meta | {"columns": columns, "configurations": [dict(zip(columns, row)) for row in rows]})


def to_text(frame: Any, fmt: str = "text") -> str:
    from tabulate import tabulate
    from ..formatting import TABLEFMT, duration, grouped, in_unit, si_spaced, table_byte_unit, text_cell
    columns, rows = _records(frame)
    shown: dict[str, Any] = {"activations": si_spaced, "params": grouped, "macs": si_spaced, "flops": si_spaced,
             "backward_flops": si_spaced, "training_flops": si_spaced}
    headers = {"activation_memory_bytes": "act. mem", "param_memory_bytes": "param mem", "memory_bytes": "memory",
               "saved_bytes": "saved", "peak_bytes": "step peak",
               "macs": "MACs", "flops": "FLOPs", "backward_flops": "bwd FLOPs", "training_flops": "train FLOPs"}
    shown["recompute_flops"], headers["recompute_flops"] = si_spaced, "recompute FLOPs"  # --checkpoint
    for column in columns:  # the time model's columns (--hardware)
        if column.endswith("_seconds"):
            shown[column] = lambda value: duration(value) if value else "0"
        elif column.endswith("images_per_second"):
            shown[column] = lambda value: f"{value:,.1f}"
    headers |= {"forward_seconds": "forward", "backward_seconds": "backward", "optimizer_seconds": "optimizer",
                "step_seconds": "step", "images_per_second": "images/s", "limited_by": "limited by",
                "bound_step_seconds": "bound step", "bound_images_per_second": "bound images/s"}
    # the job's step (checkpoint, accumulate, several GPUs: cnncost.timing.sweep_job)
    headers |= {"recompute_seconds": "recompute", "micro_steps": "micro-steps", "communication_seconds": "communication",
                "bound_communication_seconds": "bound comm."}
    shown["micro_steps"] = grouped
    factor, unit = table_byte_unit([row[i] for i, column in enumerate(columns) if column.endswith("_bytes") for row in rows])
    for i, column in enumerate(columns):  # bytes: one IEC unit per table, scaled to its largest value
        if column.endswith("_bytes"):
            shown[column] = lambda value: in_unit(value, factor)
            headers[column] = f"{headers.get(column, column)} ({unit})"
    body = []
    for row in rows:
        cells = []
        for column, value in zip(columns, row):
            if column in shown:
                cells.append(shown[column](value))
            elif column in ("width", "depth"):
                cells.append(f"{value:g}")
            else:
                cells.append(text_cell(value, fmt))
        body.append(cells)
    table = tabulate(body, headers=[headers.get(c, c) for c in columns], tablefmt=TABLEFMT[fmt],
                     disable_numparse=True, colalign=tuple("right" if c in shown or c in ("batch", "width", "depth")
                                                           else "left" for c in columns))
    name = text_cell(frame.attrs.get("architecture", ""), fmt)
    memory = frame.attrs.get("memory", "lecture")
    notes = (f"{name}: {len(frame):,} configurations. Memory: "
             + ("autograd (saved = what PyTorch saves for backward; step peak = the training step's largest moment)"
                if memory == "autograd" else "the lecture's rule, 2 x activations (input 1 x) + k x params")
             + f"; {frame.attrs.get('flop_convention', '')}; KiB, MiB, GiB = 2^10, 2^20, 2^30 B (the lecture's KB, MB, GB). Exact figures: --format csv or json.")
    if frame.attrs.get("hardware"):
        notes += (f" Time on {frame.attrs['hardware']}: the expected estimate (forward, backward, optimizer, step, "
                  "images/s, the bound holding most of the step) and the pure roofline's (bound step, bound images/s); "
                  + frame.attrs.get("time_convention", "") + ".")
        if "micro_steps" in columns:
            notes += (" Gradient accumulation: a step is micro-steps x the batch (the micro-batch) of samples, then one "
                      "optimizer pass; images/s count them all.")
        if "recompute_seconds" in columns:
            notes += " Checkpointing: recompute = the regions' forward run again, part of backward."
    return f"{table}\n\n{notes}"

