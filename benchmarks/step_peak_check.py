"""The modelled training step against a real CPU step, net by net (torch 2.13 CPU).

    python benchmarks/step_peak_check.py                          # every net, fp32 and bf16, sgd and adam
    python benchmarks/step_peak_check.py --arch resnet18 --optimizer adamw --dtype bf16 --markdown

Modelled: `cnncost.memory.step` (Precision(dtype, "cpu")). Measured: `cnncost.torch_backend.live`
(every storage alive after every op of a steady-state step). Per net: the peak, the bytes after
forward, after backward and after the step, each modelled and measured, the modelled peak's phase;
"diff" is modelled - measured (buffers and Adam's step counters included in both), 0 where exact.
Exit 1 unless every point is exact but for the loss's gradient scalars at the peak (0 to
-`step_check.DOCUMENTED_BOUND` B there, 0 elsewhere).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, POINTS, ZOO_CASES, compare_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", nargs="+", default=[c[0] for c in ZOO_CASES])
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--optimizer", nargs="+", default=["sgd", "adam"])
    parser.add_argument("--markdown", action="store_true", help="a markdown table at the end")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sizes = {name: (batch, input) for name, batch, input in ZOO_CASES}
    rows, worst, off = [], 0, []
    for arch in args.arch:
        batch, input = sizes.get(arch, (2, None))
        for dtype in args.dtype:
            for optimizer in args.optimizer:
                start = time.perf_counter()
                r = compare_step(arch, batch=batch, input=input, dtype=dtype, optimizer=optimizer)
                diffs = r.residuals()
                worst = max(worst, *map(abs, diffs.values()))
                if not -DOCUMENTED_BOUND <= diffs["peak"] <= 0 or any(diffs[p] for p in POINTS[1:]):
                    off.append(f"{arch} {dtype} {optimizer}")
                rows.append(r)
                print(f"{arch:16s} {dtype:5s} {optimizer:8s} b{batch} " + "  ".join(
                    f"{p}: {r.modelled[p]:,} vs {r.measured[p]:,} ({diffs[p]:+,})" for p in POINTS)
                    + f"  peak at: {r.peak_phase} ({time.perf_counter() - start:.1f}s)", flush=True)
    if args.markdown:
        print(f"\ntorch {torch.__version__} CPU; diff = modelled - measured\n")
        print("| net | dtype | optimizer | batch | modelled peak (B) | measured peak (B) | peak diff | after fw / bw / step diff | modelled peak at |")
        print("|---|---|---|---:|---:|---:|---:|---|---|")
        for r in rows:
            d = r.residuals()
            print(f"| {r.architecture} | {r.dtype} | {r.optimizer} | {r.batch} | {r.modelled['peak']:,} | "
                  f"{r.measured['peak']:,} | {d['peak']:+,} | {d['after forward']:+,} / {d['after backward']:+,} / "
                  f"{d['after the step']:+,} | {r.peak_phase} |")
    print(f"worst |diff| {worst:,} B over {len(rows)} runs; not exact (but for the loss's {DOCUMENTED_BOUND} B at the "
          "peak): " + (", ".join(off) or "none"))
    return 1 if off else 0


if __name__ == "__main__":
    sys.exit(main())
