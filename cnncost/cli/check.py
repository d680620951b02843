"""`cnncost check ARCH`: build the network in PyTorch and compare every figure with measurements
(exit status 1 when an exact quantity differs); `--against SOURCE` compares the spec layer by layer
with the real network instead. PyTorch is imported only when the command runs."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError
from .arch import resolve_arch
from .progress import stage
from .options import add_arch, add_batch, add_dtype, add_format, add_input, add_optimizer, add_reading_options, device_name
from .options import advanced_group


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("check", help="build in PyTorch and check every number on real tensors",
                                 description="Build the network in PyTorch and compare, per layer and in "
                                 "total, the engine's figures with measurements (needs cnncost[torch]).")
    add_arch(parser)
    parser.add_argument("--device", default="cpu", type=device_name, help="cpu (default), cuda or cuda:N")
    parser.add_argument("--against", metavar="SOURCE",
                        help="compare the spec with the real network SOURCE (torchvision:NAME, timm:NAME, "
                             "package.module:callable, FILE.py:callable or FILE.onnx), layer by layer: "
                             "see docs/import.md")
    parser.add_argument("--eval", action="store_true",
                        help="with --against: compare with the eval-mode network (no dropout, no auxiliary heads; "
                             "saved bytes are then not measured)")
    add_batch(parser, default=2)
    add_input(parser)
    add_dtype(parser, choices=("fp32", "fp64", "fp16", "bf16"), help="fp16/bf16 run as autocast with fp32 parameters")
    add_optimizer(parser)
    add_format(parser, "text", "markdown", "csv", "json")
    advanced_group(parser).add_argument("--allow-large", action="store_true",
                        help="run even when the check needs more memory than its limit (default 8 GiB; "
                             "env CNNCOST_CHECK_MAX_BYTES)")
    add_reading_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> tuple[str, int]:
    """Output text and exit code: 1 when an exact quantity (or, --against, a layer) differs, else 0."""
    stage("importing PyTorch")
    try:
        import torch  # noqa: F401  (the check runs on real tensors)
    except ImportError as error:
        if getattr(error, "name", "") != "torch":
            raise
        raise CnnCostError("cnncost check needs PyTorch: pip install 'cnncost[torch]'") from None
    stage("building the network")
    net = resolve_arch(args, args.arch)
    if args.against:
        stage(f"comparing with {args.against}")
        return _against(net, args)
    from ..torch_backend.check import check
    from .check_output import render
    stage(f"measuring every layer on {args.device} (forward and backward)")
    result = check(net, batch=args.batch, device=args.device, dtype=args.dtype, input=args.input,
                   optimizer=args.optimizer, allow_large=args.allow_large)
    return render(result, args.format), 0 if result.ok else 1


def _against(net: Any, args: argparse.Namespace) -> tuple[str, int]:
    """`check SPEC --against SOURCE`: exit 1 naming the first layer that differs from the real network."""
    from ..torch_backend.against import check_against
    from .check_output import render_against
    result = check_against(net, args.against, batch=args.batch, input=args.input, allow_unknown=args.allow_unknown,
                           train=not args.eval)
    return render_against(result, args.format), 0 if result.ok else 1
