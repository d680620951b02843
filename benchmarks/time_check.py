"""Predicted vs measured training-step time of zoo nets on this machine's CPU (issue 20, item 6).

    # one command: calibrate, then measure and compare (one thread, process CPU time: robust to load)
    OMP_NUM_THREADS=1 cnncost calibrate --out /tmp/cpu.yaml --clock cpu && OMP_NUM_THREADS=1 python \
        benchmarks/time_check.py --hardware /tmp/cpu.yaml --clock cpu --rounds 2 --repeats 3 --no-layers --markdown
    python benchmarks/time_check.py --hardware /tmp/cpu.yaml --arch resnet18 vgg11 --batch 2 8 --input 3x128x128

Measured: each net built with the torch backend (`cnncost.torch_backend.build`), train mode, fp32
(or --dtype bf16: CPU autocast), SGD with momentum 0.9; per repeat one whole step timed with
time.perf_counter (no CUDA): forward, `loss.backward()` (loss = the sum of the outputs) and
`optimizer.step()`, zero_grad(set_to_none) outside the timing; the median of all repeats after
warm-up steps. The nets are measured in `--rounds` passes over the whole list (each net a few
repeats per round), so a burst of load from other processes on a shared machine lands in one
round of a few nets, not in every repeat of one. Per layer: forward hooks around each layer's
module, in separate passes (first round).
Predicted: `cnncost.timing.time_step` (the `expected` estimate) on the given profile, autograd
trace on CPU rules, optimizer `momentum`.

Prints per net and batch predicted vs measured (forward, backward, step), the error distribution,
the share of steps within +-25%, Spearman's rank correlation of step times across nets (per batch
and over all), and the median per-layer rank correlation of forward times. --markdown adds a table.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from cnncost.api import _compile, load
from cnncost.hardware import load_profile
from cnncost.memory import Precision, trace
from cnncost.shapes import parse_shape
from cnncost.timing import time_step
from cnncost.torch_backend import build

NETS = ("alexnet-tv", "vgg11", "resnet18", "resnet34", "resnet50", "resnext50-32x4d", "wide-resnet50-2",
        "densenet121", "googlenet-tv", "inception-v3", "mobilenet-v2", "mobilenet-v3-large", "efficientnet-b0",
        "mnasnet1-0", "shufflenet-v2-x1-0", "squeezenet1-1", "regnet-x-400mf", "regnet-y-800mf", "convnext-tiny")
WITHIN = 0.25


def ranks(values: list[float]) -> list[float]:
    """Ranks 1..n, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks."""
    if len(a) < 2:
        return float("nan")
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return cov / var if var else float("nan")


def _loss(out: object) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.float().sum()
    return sum(_loss(o) for o in (out.values() if isinstance(out, dict) else out))  # type: ignore[union-attr]


NOW = time.perf_counter  # --clock cpu: time.process_time (one thread on a shared machine)


def measure(model: torch.nn.Module, x: torch.Tensor, dtype: str, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of forward, backward, optimizer and the whole step, per repeat."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
    times: dict[str, list[float]] = {"forward": [], "backward": [], "optimizer": [], "step": []}
    for index in range(warmup + repeats):
        t0 = NOW()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            out = model(x)
        t1 = NOW()
        loss = _loss(out)
        t2 = NOW()
        loss.backward()
        t3 = NOW()
        opt.step()
        t4 = NOW()
        opt.zero_grad(set_to_none=True)
        del out, loss
        if index >= warmup:
            for key, seconds in (("forward", t1 - t0), ("backward", t3 - t2), ("optimizer", t4 - t3),
                                 ("step", t4 - t0)):
                times[key].append(seconds)
    return times


def layer_forward(model: torch.nn.Module, x: torch.Tensor, dtype: str, repeats: int,
                  paths: set[str]) -> dict[str, float]:
    """Median forward seconds per layer module (train mode, grad on), from hooks."""
    start: dict[str, float] = {}
    seen: dict[str, list[float]] = {}
    handles = []
    for path, module in model.named_modules():
        if path in paths:
            handles.append(module.register_forward_pre_hook(lambda m, a, p=path: start.__setitem__(p, NOW())))
            handles.append(module.register_forward_hook(
                lambda m, a, o, p=path: seen.setdefault(p, []).append(NOW() - start[p])))
    try:
        for _ in range(repeats):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {p: statistics.median(v) for p, v in seen.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hardware", required=True, help="the profile (cnncost calibrate --out FILE) or a name")
    parser.add_argument("--arch", nargs="+", default=list(NETS))
    parser.add_argument("--batch", nargs="+", type=int, default=[2, 8])
    parser.add_argument("--input", default="3x128x128", help="every net's input (default 3x128x128)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per net, batch and round")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the list of nets")
    parser.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                        help="wall: time.perf_counter (default); cpu: time.process_time, the process's CPU time "
                             "(with OMP_NUM_THREADS=1 on a machine shared with other jobs; calibrate --clock cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1: calibrate with "
                        "OMP_NUM_THREADS=1 to match)")
    parser.add_argument("--no-layers", action="store_true", help="skip the per-layer forward timing")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--save", metavar="FILE", help="write the measured seconds (JSON) for --replay")
    parser.add_argument("--replay", metavar="FILE", help="predict against measurements saved with --save "
                                                           "(measures nothing; no per-layer figures)")
    args = parser.parse_args(argv)
    global NOW
    NOW = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    profile = load_profile(args.hardware)
    shape = parse_shape(args.input)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; profile {profile.name} ({profile.origin}); "
          f"input {args.input}, {args.dtype}, SGD momentum, {args.clock} clock; medians of {args.rounds} rounds x {args.repeats} "
          f"steps (each after {args.warmup} warm-up)",
          flush=True)
    nets = {}
    for arch in args.arch:
        graph = _compile(load(arch), shape, None)
        traced = trace(graph, precision=Precision(args.dtype, "cpu"))
        nets[arch] = (graph, traced, None if args.replay else build(arch, input=shape).train())
    samples: dict[tuple[str, int], dict[str, list[float]]] = {}
    layer_rhos: dict[tuple[str, int], float] = {}
    if args.replay:
        with open(args.replay, encoding="utf-8") as handle:
            samples = {(k.rsplit(" ", 1)[0], int(k.rsplit(" ", 1)[1])): v for k, v in json.load(handle).items()}
    for round_index in range(0 if args.replay else args.rounds):
        started = time.perf_counter()
        for arch, (graph, traced, model) in nets.items():
            for batch in args.batch:
                x = torch.randn(batch, *shape)
                times = measure(model, x, args.dtype, args.repeats, args.warmup)
                kept = samples.setdefault((arch, batch), {k: [] for k in times})
                for key, values in times.items():
                    kept[key] += values
                if round_index == 0 and not args.no_layers:
                    predicted = time_step(graph, traced, profile, dtype=args.dtype, optimizer="momentum", batch=batch)
                    pred = {n.path: t[0].seconds for n, t in zip(predicted.nodes, predicted.expected_nodes)}
                    layers = layer_forward(model, x, args.dtype, max(3, args.repeats), {p for p in pred if pred[p] > 0})
                    common = [p for p in layers if p in pred]
                    layer_rhos[arch, batch] = spearman([pred[p] for p in common], [layers[p] for p in common])
        print(f"round {round_index + 1}/{args.rounds}: {time.perf_counter() - started:.0f}s", flush=True)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as handle:
            json.dump({f"{a} {b}": v for (a, b), v in samples.items()}, handle)
    rows = []
    for arch, (graph, traced, _) in nets.items():
        for batch in args.batch:
            predicted = time_step(graph, traced, profile, dtype=args.dtype, optimizer="momentum", batch=batch)
            measured = {k: statistics.median(v) for k, v in samples[arch, batch].items()}
            rho = layer_rhos.get((arch, batch), float("nan"))
            e = predicted.expected
            row = (arch, batch, e.forward_seconds, measured["forward"], e.backward_seconds, measured["backward"],
                   e.optimizer_seconds, measured["optimizer"], e.step_seconds, measured["step"], rho,
                   predicted.bound.step_seconds)
            rows.append(row)
            print(f"{arch:20s} b{batch:<3d} fwd {e.forward_seconds * 1e3:8.1f} / {measured['forward'] * 1e3:8.1f} ms  "
                  f"bwd {e.backward_seconds * 1e3:8.1f} / {measured['backward'] * 1e3:8.1f}  "
                  f"opt {e.optimizer_seconds * 1e3:6.1f} / {measured['optimizer'] * 1e3:6.1f}  "
                  f"step {e.step_seconds * 1e3:8.1f} / {measured['step'] * 1e3:8.1f} ms  "
                  f"err {e.step_seconds / measured['step'] - 1:+6.1%}  layer rho {rho:+.2f}  "
                  f"bound {predicted.bound.step_seconds * 1e3:.1f} ms", flush=True)
    errors = [r[8] / r[9] - 1 for r in rows]
    within = sum(abs(e) <= WITHIN for e in errors) / len(errors)
    print(f"\nstep error (predicted / measured - 1): median {statistics.median(errors):+.1%}, "
          f"quartiles {statistics.quantiles(errors, n=4)[0]:+.1%} .. {statistics.quantiles(errors, n=4)[2]:+.1%}, "
          f"min {min(errors):+.1%}, max {max(errors):+.1%}")
    print(f"within +-{WITHIN:.0%}: {within:.0%} of {len(errors)} (net, batch) steps")
    for batch in args.batch:
        chosen = [r for r in rows if r[1] == batch]
        print(f"Spearman rho of step times across nets at batch {batch}: {spearman([r[8] for r in chosen], [r[9] for r in chosen]):.3f}")
    print(f"Spearman rho over all (net, batch): {spearman([r[8] for r in rows], [r[9] for r in rows]):.3f}")
    rhos = [r for r in layer_rhos.values() if r == r]
    if rhos:
        print(f"per-layer forward rank correlation: median {statistics.median(rhos):.2f}, min {min(rhos):.2f}")
    bounds_ok = sum(r[11] <= r[9] for r in rows)
    print(f"roofline bound <= measured step: {bounds_ok} of {len(rows)}")
    if args.markdown:
        print("\n| net | batch | forward (ms) pred / meas | backward (ms) pred / meas | step (ms) pred / meas | error | layer rho |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2] * 1e3:.1f} / {r[3] * 1e3:.1f} | {r[4] * 1e3:.1f} / {r[5] * 1e3:.1f} | "
                  f"{r[8] * 1e3:.1f} / {r[9] * 1e3:.1f} | {r[8] / r[9] - 1:+.0%} | {r[10]:+.2f} |")
    return 0 if within >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
