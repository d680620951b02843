"""Bringing your own model: `cnncost.table(cnncost.from_torch(m, input=(3, 224, 224)), batch=1)`
against torchinfo and a FlopCounterMode forward, on every classification model of the torchvision
zoo, on one thread, all measured in this one run.

    PYTHONPATH=$PWD /work/sidevenv/bin/python benchmarks/bench_import.py [--only 'resnet*' vgg11]
                                                                         [--repeat 3] [--tools cnncost]

Runs in a venv with torch, torchvision and torchinfo (the side venv). Each model is built with
`weights=None` (building is not timed); each figure is the best of --repeat calls after one untimed
warm-up call, with `torch.set_num_threads(1)`, in this process's CPU time by default (`--clock cpu`:
on one thread, the time the call takes on one idle core, which a machine shared with other work
does not inflate; `--clock wall` for elapsed time):

- cnncost: the import (torch.fx trace in training mode, shapes on meta tensors, the walk) and the
  table at batch 1;
- torchinfo: `torchinfo.summary(m, input_size=(1, 3, 224, 224), verbose=0)` (a real forward in eval
  mode under no_grad, with its hooks);
- FlopCounterMode: a real forward of a 1x3x224x224 input under `FlopCounterMode(display=False)` and
  no_grad, in eval mode.

The target (the issue): cnncost at most as slow as torchinfo on every model (ratio <= 1) and under
2 s. Nothing is asserted: the script prints the times, the ratios and a summary line. A model
cnncost refuses is timed to its error and marked; it is left out of the ratios.
"""
from __future__ import annotations

import argparse
import fnmatch
import time
import warnings

INPUT = (3, 224, 224)
LIMIT_S = 2.0


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def best_of(repeat: int, func, clock=time.process_time) -> float:
    """Seconds of the fastest of `repeat` calls, after one untimed warm-up call."""
    func()
    times = []
    for _ in range(repeat):
        start = clock()
        func()
        times.append(clock() - start)
    return min(times)


def timed_calls(model):
    """name -> a call of that tool on `model` (each leaves the model in the mode it found)."""
    import torch

    def cnncost_call():
        import cnncost
        return cnncost.table(cnncost.from_torch(model, input=INPUT), batch=1)

    def torchinfo_call():
        from torchinfo import summary
        return summary(model, input_size=(1, *INPUT), verbose=0)

    x = torch.randn(1, *INPUT)

    def flopcounter_call():
        from torch.utils.flop_counter import FlopCounterMode
        was = model.training
        model.eval()
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as mode:
                model(x)
        finally:
            model.train(was)
        return mode.get_total_flops()

    return {"cnncost": cnncost_call, "torchinfo": torchinfo_call, "FlopCounterMode": flopcounter_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="GLOB", help="models whose name matches a glob")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="cpu: this process's CPU time (one thread: the time on one idle core, robust on a "
                             "shared machine); wall: elapsed time")
    parser.add_argument("--tools", nargs="+", choices=("cnncost", "torchinfo", "FlopCounterMode"),
                        default=["cnncost", "torchinfo", "FlopCounterMode"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    import torchvision

    torch.set_num_threads(1)
    clock = CLOCKS[args.clock]
    names = torchvision.models.list_models(module=torchvision.models)
    if args.only:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in args.only)]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, 1 thread, batch 1, "
          f"{'x'.join(map(str, INPUT))}; {args.clock} time, best of {args.repeat} after a warm-up (ms)")
    header = f"{'model':22s} {'cnncost':>9s} {'torchinfo':>10s} {'FlopCounter':>12s} {'/torchinfo':>11s} {'/FlopCounter':>13s}"
    print(header)
    print("-" * len(header))
    ratios: list[tuple[float, str]] = []
    slow: list[str] = []
    refused: list[str] = []
    for name in names:
        torch.manual_seed(0)
        model = torchvision.models.get_model(name, weights=None)
        times: dict[str, float] = {}
        note = ""
        for tool, call in timed_calls(model).items():
            if tool not in args.tools:
                continue
            try:
                times[tool] = best_of(args.repeat, call, clock)
            except Exception as error:  # noqa: BLE001 - a refusal is reported, not fatal
                start = clock()
                try:
                    call()
                except Exception:  # noqa: BLE001
                    pass
                times[tool] = clock() - start
                note = f"{tool} fails: {type(error).__name__}: {(str(error).splitlines() or [''])[0][:100]}"
                if tool == "cnncost":
                    refused.append(name)
        ours = times.get("cnncost")
        cells = [f"{times[t] * 1e3:{w}.1f}" if t in times else f"{'':{w}s}"
                 for t, w in (("cnncost", 9), ("torchinfo", 10), ("FlopCounterMode", 12))]
        ratio_cells = []
        for tool, width in (("torchinfo", 11), ("FlopCounterMode", 13)):
            if ours is not None and tool in times and name not in refused:
                ratio_cells.append(f"{ours / times[tool]:{width}.2f}")
                if tool == "torchinfo":
                    ratios.append((ours / times[tool], name))
            else:
                ratio_cells.append(f"{'':{width}s}")
        if ours is not None and ours > LIMIT_S and name not in refused:
            slow.append(f"{name} ({ours:.2f} s)")
        print(f"{name:22s} {' '.join(cells)} {' '.join(ratio_cells)}  {note}".rstrip(), flush=True)
        del model
    print()
    if ratios:
        worst, worst_name = max(ratios)
        met = sum(r <= 1 for r, _ in ratios)
        print(f"cnncost / torchinfo: worst {worst:.2f} ({worst_name}), median {sorted(ratios)[len(ratios) // 2][0]:.2f}; "
              f"{met}/{len(ratios)} models at most as slow as torchinfo")
    print(f"over {LIMIT_S:g} s: {', '.join(slow) if slow else 'none'}; "
          f"refused by cnncost: {len(refused)}{' (' + ', '.join(refused) + ')' if refused else ''}")


if __name__ == "__main__":
    main()
