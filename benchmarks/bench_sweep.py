"""Sweep throughput on resnet50, all measured in this one run:

- 100 resolutions x 100 batches (10,000 configurations) and 10^6 configurations (1,000 x 1,000),
  the DataFrame included;
- a loop of `cnncost.table` over the same kind of grid (resolution outer, batch inner, as a
  notebook would write it), on a sample of the grid, as configurations per second;
- scaling with the number of configurations (10^2 .. 10^6);
- under memory="autograd" (the memory model traced once per resolution);
- with the time model's columns (`--hardware`, default a100-sxm4-80gb): the same grids with and
  without timing, configurations/s and the ratio; with timing warm (resolutions swept before),
  new (resolutions never swept, the net's closed forms of the counts kept) and first (the net's
  first sweep with those dtypes: its closed forms recorded).

    python benchmarks/bench_sweep.py [--repeat 5] [--arch resnet50] [--hardware NAME] [--only-time]

Nothing is asserted; it prints the figures, the ratios and the targets (>= 1,000,000
configurations/s at 10,000, and >= 1,000x the table loop).
"""
from __future__ import annotations

import argparse

from timing import best_of  # benchmarks/timing.py (scripts run with benchmarks/ on sys.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--loop-sample", type=int, default=2000, help="tables timed for the loop's rate")
    parser.add_argument("--hardware", default="a100-sxm4-80gb", help="the profile of the time columns' figures")
    parser.add_argument("--only-time", action="store_true", help="only the figures with and without timing")
    args = parser.parse_args()
    import cnncost
    sweep = cnncost.sweep  # the package exports the function

    arch = args.arch
    if args.only_time:
        time_figures(arch, args.hardware, args.repeat)
        return
    res100, batch100 = list(range(128, 128 + 4 * 100, 4)), list(range(1, 101))
    sweep(arch, batch=batch100, input=res100)  # warm: the spec built, its plan made (as for the loop below)

    t10k = best_of(args.repeat, lambda: sweep(arch, batch=batch100, input=res100))
    rate10k = 10_000 / t10k
    res1000, batch1000 = list(range(64, 64 + 1000)), list(range(1, 1001))
    t1m = best_of(max(1, args.repeat // 2), lambda: sweep(arch, batch=batch1000, input=res1000))

    # The loop: resolution outer, batch inner, every table's totals read; the first table at each
    # resolution compiles that input's graph, as it would in a notebook.
    sample_res = max(1, args.loop_sample // 100)
    loop_res = [r + 2 for r in res100[:sample_res]]  # resolutions not compiled yet

    def loop() -> None:
        for r in loop_res:
            for b in batch100:
                cnncost.table(arch, batch=b, input=(3, r, r)).totals.memory_bytes
    loop_s = best_of(1, loop)
    loop_rate = len(loop_res) * len(batch100) / loop_s
    warm_table = best_of(200, lambda: cnncost.table(arch, batch=7, input=(3, 224, 224)))

    print(f"{arch}: sweep of 100 resolutions x 100 batches = 10,000 configurations: {t10k * 1e3:.2f} ms "
          f"-> {rate10k:,.0f} configurations/s   (target >= 1,000,000: {'met' if rate10k >= 1e6 else 'NOT met'})")
    print(f"{arch}: sweep of 1,000 x 1,000 = 10^6 configurations: {t1m * 1e3:.1f} ms -> {1e6 / t1m:,.0f} configurations/s")
    print(f"loop of cnncost.table over {len(loop_res)} new resolutions x 100 batches: {loop_s:.2f} s -> "
          f"{loop_rate:,.0f} configurations/s (a warm table alone: {warm_table * 1e3:.3f} ms = {1 / warm_table:,.0f}/s)")
    ratio, ratio_warm = rate10k / loop_rate, rate10k * warm_table
    print(f"sweep vs the loop: {ratio:,.0f}x (vs warm tables only: {ratio_warm:,.0f}x)   "
          f"(target >= 1,000x: {'met' if ratio >= 1000 else 'NOT met'})")

    print("\nscaling with the number of configurations (resolutions x batches):")
    print(f"  {'configs':>9} {'grid':>11} {'time':>10} {'per config':>11} {'configs/s':>14}")
    for n_res, n_batch in ((10, 10), (10, 100), (100, 100), (100, 1000), (1000, 1000)):
        res, batches = list(range(128, 128 + n_res)), list(range(1, n_batch + 1))
        seconds = best_of(max(1, args.repeat // (1 if n_res * n_batch <= 10**5 else 2)),
                          lambda: sweep(arch, batch=batches, input=res))
        n = n_res * n_batch
        print(f"  {n:>9,} {f'{n_res}x{n_batch}':>11} {seconds * 1e3:8.2f}ms {seconds / n * 1e9:9.1f}ns {n / seconds:>14,.0f}")

    print("\nmemory='autograd' (the memory model traced per resolution, batch and optimizer linear):")
    res10 = res100[::10]
    sweep(arch, batch=batch100, input=res10, memory="autograd")
    for label, res in (("10 resolutions x 100 batches", res10), ("100 resolutions x 100 batches", res100)):
        seconds = best_of(1, lambda: sweep(arch, batch=batch100, input=[r + 1 for r in res], memory="autograd"))
        n = len(res) * 100
        print(f"  {label}: {seconds:.3f} s cold (new resolutions) -> {n / seconds:,.0f} configurations/s")
    seconds = best_of(args.repeat, lambda: sweep(arch, batch=batch100, input=res10, memory="autograd"))
    print(f"  10 resolutions x 100 batches, traces cached: {seconds * 1e3:.1f} ms -> {1000 / seconds:,.0f} configurations/s")

    time_figures(arch, args.hardware, args.repeat)


def time_figures(arch: str, hardware: str, repeat: int) -> None:
    """Sweeps with and without the time columns: configurations/s and the ratio, in process CPU
    time (the machine may be shared: the wall clock would measure the other jobs too). Per grid,
    with timing: "warm", resolutions swept before (their step lines kept on the net); "new",
    resolutions never swept, the net's closed forms of the per-pass counts kept from an earlier
    sweep of the same dtypes (`cnncost.timing.resolution_counts`); "first", the first sweep of the
    net with these dtypes (nothing kept: the closed forms recorded in the timed call)."""
    import time

    import cnncost
    sweep = cnncost.sweep
    cpu = time.process_time
    net = cnncost.load(arch)
    print(f"\nwith the time model (hardware={hardware}) vs without, {arch} (CPU time):")
    print(f"  {'grid (res x batch x dtype)':>28} {'without':>12} {'with, warm':>12} {'ratio':>6} {'with, new':>12} "
          f"{'with, first':>12}")
    for n_res, n_batch, dtypes in ((10, 100, ["fp32"]), (100, 100, ["fp32"]), (10, 1000, ["fp32", "bf16"]),
                                   (10, 10_000, ["fp32"]), (100, 10_000, ["fp32"]), (1, 1_000_000, ["bf16"])):
        res, batches = list(range(160, 160 + 4 * n_res, 4)), list(range(1, n_batch + 1))
        n = n_res * n_batch * len(dtypes)
        for kept in ("time lines", "time programs"):  # nothing from the grids before
            net.memo.pop(kept, None)
        first = best_of(1, lambda: sweep(arch, batch=batches, input=[r + 1 for r in res], dtype=dtypes,
                                         hardware=hardware), clock=cpu)
        offsets = iter(range(2, 4))  # each call new resolutions (between the grid's: none kept)
        new = best_of(2, lambda: sweep(arch, batch=batches, input=[r + shift for shift in [next(offsets)] for r in res],
                                       dtype=dtypes, hardware=hardware), clock=cpu)
        sweep(arch, batch=batches, input=res, dtype=dtypes, hardware=hardware)  # warm: lines kept
        without = best_of(repeat, lambda: sweep(arch, batch=batches, input=res, dtype=dtypes), clock=cpu)
        warm = best_of(repeat, lambda: sweep(arch, batch=batches, input=res, dtype=dtypes, hardware=hardware), clock=cpu)
        print(f"  {f'{n_res} x {n_batch:,} x {len(dtypes)} = {n:,}':>28} {n / without:>12,.0f} {n / warm:>12,.0f} "
              f"{warm / without:>5.2f}x {n / new:>12,.0f} {n / first:>12,.0f}")
    print("  (configurations/s; target with timing >= 1,000,000)")
    # the time columns alone (cnncost.sweep_time), traces and per-node costs kept: what timing adds
    import numpy as np

    from cnncost.memory.tensors import MODELLED_TORCH
    from cnncost.sweep_time import time_columns
    net = cnncost.load(arch)
    for n_res, n_batch in ((10, 1000), (10, 100_000)):
        inputs, batches = [(3, r, r) for r in range(160, 160 + 4 * n_res, 4)], np.arange(1, n_batch + 1)
        columns = lambda: time_columns([(net, inputs)], ["fp32"], ["adam"], batches, hardware, "cuda", MODELLED_TORCH, ())
        columns()
        seconds = best_of(repeat, columns, clock=cpu)
        print(f"  time columns alone, {n_res} x {n_batch:,}: {n_res * n_batch / seconds:,.0f} configurations/s")


if __name__ == "__main__":
    main()
