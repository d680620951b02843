"""The warm `table` of resnet152 and efficientnet-b7 against every peer tool, on CPU tensors and on
meta tensors (shapes only, no arithmetic: the fair race), all measured in this one run.

Runs in a venv that has torch, torchvision and the peers (the side venv /work/toolsvenv:
FlopCounterMode, ptflops with its pytorch and aten backends, fvcore, thop, torchinfo, torchscan).
cnncost is measured in the same process when it imports there (`pip install -e . --no-deps`),
else in a subprocess of the project's own interpreter (--cnncost-python).

    /work/toolsvenv/bin/python benchmarks/bench_peers.py [--repeat 3] [--devices cpu meta] [--models resnet152 efficientnet_b7]

Each figure is the best of --repeat timed calls after one untimed warm-up call; a peer's time is
one call of its counting entry point on a model already built (building the model is not timed),
batch 1, at the model's input size (resnet152 224, efficientnet-b7 600). cnncost's is a warm
`cnncost.table(name)` (the spec built and compiled once, as every later call finds it). Nothing is
asserted: the script prints each time and the ratios, and the target (>= 100x the fastest peer on
meta tensors).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import warnings

import timing  # benchmarks/timing.py (scripts run with benchmarks/ on sys.path)

MODELS = {"resnet152": ("resnet152", 224), "efficientnet_b7": ("efficientnet-b7", 600)}  # torchvision -> cnncost
TARGET = 100


def best_of(repeat: int, func) -> float:
    return timing.best_of(repeat, func, warm_up=True)


def peers():
    """name -> counting call(model, x)."""
    import torch

    def flopcounter(model, x):
        from torch.utils.flop_counter import FlopCounterMode
        with FlopCounterMode(display=False) as mode:
            model(x)
        return mode.get_total_flops()

    def ptflops(backend):
        def run(model, x):
            from ptflops import get_model_complexity_info
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                return get_model_complexity_info(model, tuple(x.shape[1:]), as_strings=False,
                                                 print_per_layer_stat=False, backend=backend,
                                                 input_constructor=lambda res: x)[0]
        return run

    def fvcore(model, x):
        from fvcore.nn import FlopCountAnalysis
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return analysis.total()

    def thop(model, x):
        import thop as t
        with contextlib.redirect_stdout(io.StringIO()):
            return t.profile(model, inputs=(x,), verbose=False)[0]

    def torchinfo(model, x):
        from torchinfo import summary
        return summary(model, input_data=x, verbose=0, mode="eval", device=x.device).total_mult_adds

    def torchscan(model, x):
        from torchscan import crawl_module
        with contextlib.redirect_stdout(io.StringIO()):
            return crawl_module(model, tuple(x.shape[1:]))

    def run(func):
        def call(model, x):
            with torch.no_grad():
                return func(model, x)
        return call
    return {"FlopCounterMode": run(flopcounter), "ptflops (pytorch)": run(ptflops("pytorch")),
            "ptflops (aten)": run(ptflops("aten")), "fvcore": run(fvcore), "thop": run(thop),
            "torchinfo": run(torchinfo), "torchscan": run(torchscan)}


def build(name: str, device: str):
    import torch
    import torchvision
    with torch.device(device):
        model = getattr(torchvision.models, name)(weights=None).eval()
    size = MODELS[name][1]
    return model, torch.empty(1, 3, size, size, device=device) if device == "meta" else torch.randn(1, 3, size, size)


def cnncost_times(names: list[str], repeat: int, python: str | None) -> dict[str, float]:
    code = (
        "import json, sys, time\n"
        "import cnncost\n"
        "out = {}\n"
        f"for name in {names!r}:\n"
        "    cnncost.table(name)\n"
        "    times = []\n"
        f"    for _ in range(max({repeat}, 20)):\n"
        "        s = time.perf_counter(); cnncost.table(name); times.append(time.perf_counter() - s)\n"
        "    out[name] = min(times)\n"
        "print(json.dumps(out))\n")
    if python is None:
        scope: dict = {}
        with contextlib.redirect_stdout(io.StringIO()) as captured:
            exec(code, scope)
        return json.loads(captured.getvalue())
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["meta", "cpu"], choices=("meta", "cpu"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--tools", nargs="*", help="a subset of the peers")
    parser.add_argument("--cnncost-python", default="/work/venv/bin/python",
                        help="interpreter for cnncost when it does not import here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        import cnncost  # noqa: F401
        python, where = None, "in this process"
    except ImportError:
        python, where = args.cnncost_python, f"in a subprocess ({args.cnncost_python})"
    names = [MODELS[m][0] for m in args.models]
    ours = cnncost_times(names, args.repeat, python)
    tools = {k: v for k, v in peers().items() if not args.tools or k in args.tools}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; cnncost measured {where}; "
          f"best of {args.repeat} after a warm-up")
    summary = []
    for model_name in args.models:
        ours_s = ours[MODELS[model_name][0]]
        print(f"\n{model_name} (batch 1, 3x{MODELS[model_name][1]}x{MODELS[model_name][1]}): "
              f"cnncost warm table {ours_s * 1e3:.3f} ms")
        for device in args.devices:
            model, x = build(model_name, device)
            fastest = None
            for tool, call in tools.items():
                try:
                    seconds = best_of(args.repeat, lambda: call(model, x))  # noqa: F821, B023  (called here, before `del`)
                except Exception as error:  # noqa: BLE001  a peer that cannot run here is reported, not fatal
                    print(f"  {device:4s} {tool:18s} fails: {type(error).__name__}: {str(error).splitlines()[0][:90]}")
                    continue
                fastest = min(fastest or seconds, seconds)
                print(f"  {device:4s} {tool:18s} {seconds * 1e3:10.1f} ms   cnncost is {seconds / ours_s:8.0f}x faster")
            # cnncost again, right after the peers: on a shared machine, the better of the two
            again = cnncost_times([MODELS[model_name][0]], args.repeat, python)[MODELS[model_name][0]]
            ours_s = min(ours_s, again)
            if fastest is not None:
                summary.append((model_name, device, fastest, ours_s, fastest / ours_s))
            del model, x
    print("\nfastest peer vs the warm cnncost table:")
    for model_name, device, fastest, ours_s, ratio in summary:
        mark = ("target >= 100x: " + ("met" if ratio >= TARGET else "NOT met")) if device == "meta" else ""
        print(f"  {model_name:16s} {device:4s} fastest peer {fastest * 1e3:9.1f} ms, cnncost {ours_s * 1e3:.3f} ms "
              f"-> {ratio:7.0f}x  {mark}")


if __name__ == "__main__":
    main()
