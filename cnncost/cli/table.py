"""`cnncost table ARCH`: the per-layer table of one architecture, in any output format."""
from __future__ import annotations

import argparse
from typing import Any

from .arch import resolve_arch
from .options import (add_arch, add_counting_options, add_device, add_format, add_memory, add_reading_options,
                      add_training_options, counting_kwargs, graph_kwargs, non_negative_int)
from .options import add_torch_version
from .options import add_accumulate, add_checkpoint, add_gpu_memory, add_parallel, gpu_kwargs, parallel_kwargs
from .options import add_hardware, hardware_kwargs
from .options import add_links, links_kwargs
from ..errors import CnnCostError
from .options import add_mode
from .options import add_columns, columns_kwargs


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("table", help="per-layer table of one architecture",
                                 description="Per-layer table of a built-in architecture or a YAML spec "
                                 "('-' reads the spec from stdin).")
    add_arch(parser)
    add_training_options(parser)
    parser.add_argument("--depth", type=non_negative_int, metavar="N", help="collapse blocks below depth N into one row")
    add_memory(parser, help="'lecture': 2 x activations + k x params (default); 'autograd': what PyTorch saves "
                            "for backward per layer, and the training step's peak with its breakdown")
    add_device(parser, help="under --memory autograd: whose rules (dropout's mask differs; default cuda)")
    add_torch_version(parser)
    add_gpu_memory(parser)
    add_mode(parser, help="'inference': an eval pass without autograd: a live-bytes column, the peak and where, a "
                          "static arena; no training figures; --dtype int8 for deployment estimates (default train)")
    add_format(parser)
    add_reading_options(parser)
    add_counting_options(parser)
    add_parallel(parser)
    add_accumulate(parser)
    add_checkpoint(parser)
    add_hardware(parser)
    add_links(parser)
    add_columns(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..api import table
    net = resolve_arch(args, args.arch)
    checkpoint_kw: dict[str, Any] = {"checkpoint": tuple(args.checkpoint)} if getattr(args, "checkpoint", None) else {}
    report = table(net, batch=args.batch, dtype=args.dtype, optimizer=args.optimizer,
                   input=args.input, depth=args.depth, activations=args.activations, memory=args.memory,
                   device=args.device, torch_version=args.torch_version, mode=args.mode, **counting_kwargs(args),
                   **graph_kwargs(args, table), **_parallel(args), **gpu_kwargs(args), **hardware_kwargs(args),
                   **({"accumulate": args.accumulate} if args.accumulate > 1 else {}),
                   **checkpoint_kw,
                   **({"checkpoint_save": args.checkpoint_save} if getattr(args, "checkpoint_save", None) else {}),
                   **columns_kwargs(args),
                   **links_kwargs(args))
    if args.format == "json":
        return report.to_json()
    if args.format == "csv":
        return report.to_csv().rstrip("\n")
    from ..outputs.tables import render
    return render(report, args.format)


def _parallel(args: argparse.Namespace) -> dict:
    """`parallel=` for several GPUs (under --memory autograd only)."""
    kwargs = parallel_kwargs(args)
    if kwargs and args.memory != "autograd":
        raise CnnCostError("--world-size and --sharding model the training step per rank: add --memory autograd")
    return {"parallel": kwargs} if kwargs else {}
