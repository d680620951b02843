"""Predicted vs measured saved-for-backward bytes for every built-in architecture, on CPU.

    python benchmarks/memory_check.py                        # all archs, batch 2, fp32 and bf16
    python benchmarks/memory_check.py --arch 'resnet*' --dtype fp32 --batch 4

Predicted: `cnncost.memory` (autograd convention, device cpu). Measured: every storage autograd
saves in a train-mode forward pass (`cnncost.torch_backend.measure.saved_tensors`), activations,
input and autocast weight copies, each storage once. Prints one line per architecture and dtype
and, with --markdown, a table for docs/memory.md. Exit 1 if any relative error exceeds 2%.
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from cnncost import list_archs
from cnncost.torch_backend.saved_check import compare_saved

TOLERANCE = 0.02


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="*", help="shell pattern over built-in names (default all)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--markdown", action="store_true", help="print a markdown table at the end")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows, worst = [], 0.0
    for arch in list_archs(args.arch):
        for dtype in args.dtype:
            start = time.perf_counter()
            result = compare_saved(arch.name, batch=args.batch, dtype=dtype)
            worst = max(worst, abs(result.rel_error))
            rows.append((arch.name, dtype, result))
            print(f"{arch.name:24s} {dtype:5s} predicted {result.predicted:>13,} measured {result.measured:>13,} "
                  f"rel.err {result.rel_error:+.2e} layers differing {len(result.mismatches())} "
                  f"({time.perf_counter() - start:.1f}s)", flush=True)
    if args.markdown:
        print(f"\ntorch {torch.__version__} CPU, batch {args.batch}; rel. error = (measured - predicted) / measured\n")
        print("| architecture | dtype | predicted (B) | measured (B) | rel. error | layers differing |")
        print("|---|---|---:|---:|---:|---:|")
        for name, dtype, r in rows:
            print(f"| {name} | {dtype} | {r.predicted:,} | {r.measured:,} | {r.rel_error:+.1e} | {len(r.mismatches())} |")
    print(f"worst |rel. error| {worst:.2e} over {len(rows)} runs (tolerance {TOLERANCE:.0%})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
