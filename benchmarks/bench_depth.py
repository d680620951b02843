"""Scaling with depth: nets of 10 to 10,000 residual blocks (conv-BN-ReLU-conv-BN, add, ReLU: 7
nodes a block), the lecture table against the autograd memory model and `fit`, measured in one run.

    python benchmarks/bench_depth.py [--blocks 10 100 1000 10000] [--repeat 3]

Every figure is the best of --repeat calls on a net whose graph is compiled (compiling once per net
and input is what every table reuses):
- lecture: `table(net)`;
- autograd: `table(net, memory="autograd")` with the memory model computed (its trace cache cleared
  before each call), and again as later calls find it (the trace and the step timeline are kept
  with the compiled graph, as the graph is kept with the net);
- fit: `fit(net, "80GiB")`, the model computed likewise.
Nothing is asserted; the target: autograd on 10,000 blocks <= 3x the lecture table.
"""
from __future__ import annotations

import argparse
import time

from timing import best_of  # benchmarks/timing.py (scripts run with benchmarks/ on sys.path)


def deep(blocks: int, channels: int = 16, size: int = 32):
    from cnncost import BatchNorm, Conv, Net, ReLU, Repeat, Residual
    block = Residual(name="r", layers=(Conv(name="c1", out=channels, kernel=3, padding=1, bias=False),
                                       BatchNorm(name="bn1"), ReLU(name="relu1"),
                                       Conv(name="c2", out=channels, kernel=3, padding=1, bias=False),
                                       BatchNorm(name="bn2")))
    return Net(f"deep{blocks}", (channels, size, size),
               [Repeat(name="blocks", times=blocks, layers=(block, ReLU(name="relu")))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", nargs="+", type=int, default=[10, 100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import cnncost
    from cnncost.graph import compile
    print(f"{'blocks':>7} {'rows':>7} {'compile':>9} {'lecture':>9} {'autograd':>9} {'ratio':>6} "
          f"{'cached':>9} {'ratio':>6} {'fit':>9} {'ratio':>6} {'us/row lecture':>15} {'us/row autograd':>16}")
    last = None
    for blocks in args.blocks:
        net = deep(blocks)
        start = time.perf_counter()
        graph = compile(net)
        compiled = time.perf_counter() - start

        def forget() -> None:
            graph.memo.pop("memory traces", None)
        lecture = best_of(args.repeat, lambda: cnncost.table(net))
        autograd = best_of(args.repeat, lambda: cnncost.table(net, memory="autograd"), forget)
        cached = best_of(args.repeat, lambda: cnncost.table(net, memory="autograd"))
        fit = best_of(args.repeat, lambda: cnncost.fit(net, "80GiB"), forget)
        rows = len(graph.nodes)
        print(f"{blocks:>7,} {rows:>7,} {compiled:8.3f}s {lecture:8.3f}s {autograd:8.3f}s {autograd / lecture:5.2f}x "
              f"{cached:8.3f}s {cached / lecture:5.2f}x {fit:8.3f}s {fit / lecture:5.2f}x "
              f"{lecture / rows * 1e6:15.2f} {autograd / rows * 1e6:16.2f}")
        last = (blocks, autograd / lecture, cached / lecture, fit / lecture)
    if last:
        blocks, ratio, cached, fit = last
        print(f"\n{blocks:,} blocks: autograd / lecture = {ratio:.2f}x computed, {cached:.2f}x cached; fit {fit:.2f}x "
              f"(target <= 3x: {'met' if ratio <= 3 else 'NOT met'} computed, "
              f"{'met' if cached <= 3 else 'NOT met'} cached)")


if __name__ == "__main__":
    main()
