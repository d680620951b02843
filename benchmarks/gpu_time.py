"""Predicted vs measured step time on a CUDA GPU, per network, batch and dtype.

    python benchmarks/gpu_time.py --hardware h100-sxm5-80gb            # the built-in profile
    python benchmarks/gpu_time.py --calibrated my-h100.yaml            # and a `cnncost calibrate` profile
    python benchmarks/gpu_time.py --fake                               # no GPU: fake timings, checks the script

For each network, batch and dtype: CUDA-event timing (medians of `--repeat` runs after warm-up) of
the forward pass, the backward pass and a whole training step (forward, backward, Adam step), against
cnncost's expected time and its roofline bound under the named profile (and under a calibrated one
when given). Prints one line per case, then per-dtype error medians and Spearman's rank correlation
across networks; writes <out>/gpu_time.csv and <out>/gpu_time.md. `--fake` replaces the GPU with
made-up timings so the whole script (prediction, statistics, files) runs anywhere.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

from time_check import spearman  # a sibling script: run as python benchmarks/gpu_time.py

NETS = ("alexnet", "vgg11", "resnet18", "resnet50", "mobilenet-v2", "efficientnet-b0", "densenet121",
        "convnext-tiny", "googlenet", "squeezenet1_1")
BATCHES = (32, 128)
DTYPES = ("fp32", "bf16")
COLUMNS = ("architecture", "batch", "dtype", "profile", "measured_forward_s", "measured_backward_s",
           "measured_step_s", "expected_step_s", "bound_step_s", "step_error", "bound_ok")


def predict(arch: str, batch: int, dtype: str, hardware: str) -> dict[str, float]:
    """cnncost's timing object (expected and bound) for one case."""
    import cnncost
    report = cnncost.table(arch, batch=batch, dtype=dtype, optimizer="adam", memory="autograd", hardware=hardware)
    timing = report.to_dict()["timing"]
    return {"expected_step_s": timing["step_seconds"], "bound_step_s": timing["bound"]["step_seconds"]}


def measure_cuda(arch: str, batch: int, dtype: str, repeat: int) -> dict[str, float]:
    """Median seconds of forward, backward and a whole Adam step, timed with CUDA events."""
    import torch

    import cnncost
    from cnncost.torch_backend import build
    from cnncost.torch_backend.measure import autocast
    model = build(arch).cuda().train()
    x = torch.randn(batch, *cnncost.load(arch).input, device="cuda")
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def forward() -> Any:
        with autocast("cuda", low):
            return model(x).float().mean()

    def timed(fn: Callable[[], Any]) -> float:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) / 1000

    def step() -> None:
        forward().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(3):
        step()  # warm-up: cuDNN autotuning, the optimizer's state, the allocator's pools
    forwards, backwards, steps = [], [], []
    for _ in range(repeat):
        loss = None

        def run_forward() -> None:
            nonlocal loss
            loss = forward()
        forwards.append(timed(run_forward))
        backwards.append(timed(lambda: loss.backward()))
        opt.zero_grad(set_to_none=True)
        steps.append(timed(step))
    torch.cuda.empty_cache()
    return {"measured_forward_s": statistics.median(forwards), "measured_backward_s": statistics.median(backwards),
            "measured_step_s": statistics.median(steps)}


def measure_fake(arch: str, batch: int, dtype: str, repeat: int) -> dict[str, float]:
    """Made-up timings, stable per case: only for checking the script without a GPU."""
    seed = sum(map(ord, f"{arch}{batch}{dtype}")) % 97
    step = (1 + seed / 97) * batch * (0.5 if dtype == "bf16" else 1) / 1000
    return {"measured_forward_s": step / 3, "measured_backward_s": 2 * step / 3, "measured_step_s": step}


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Per profile and dtype: how many within +-25%, the median |error|, Spearman across cases,
    and whether the bound held (never slower than measured)."""
    lines = []
    for profile in sorted({r["profile"] for r in rows}):
        for dtype in sorted({r["dtype"] for r in rows}):
            case = [r for r in rows if r["profile"] == profile and r["dtype"] == dtype]
            if not case:
                continue
            errors = [abs(r["step_error"]) for r in case]
            within = sum(e <= 0.25 for e in errors)
            rho = spearman([r["expected_step_s"] for r in case], [r["measured_step_s"] for r in case])
            bound_ok = sum(r["bound_ok"] for r in case)
            lines.append(f"{profile} {dtype}: {within}/{len(case)} within +-25%, median |error| "
                         f"{statistics.median(errors):.1%}, Spearman {rho:.3f}, bound <= measured in {bound_ok}/{len(case)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hardware", default="h100-sxm5-80gb", help="a built-in profile (cnncost hardware)")
    parser.add_argument("--calibrated", help="a profile file written by cnncost calibrate on this GPU")
    parser.add_argument("--arch", nargs="*", default=list(NETS))
    parser.add_argument("--batch", nargs="*", type=int, default=list(BATCHES))
    parser.add_argument("--dtype", nargs="*", default=list(DTYPES))
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--fake", action="store_true", help="no GPU: made-up timings (checks the script)")
    args = parser.parse_args(argv)
    measure = measure_fake if args.fake else measure_cuda
    if not args.fake:
        import torch
        if not torch.cuda.is_available():
            parser.error("no CUDA device (use --fake to check the script)")
    profiles = [args.hardware] + ([args.calibrated] if args.calibrated else [])
    rows = []
    for arch in args.arch:
        for batch in args.batch:
            for dtype in args.dtype:
                try:
                    measured = measure(arch, batch, dtype, args.repeat)
                except Exception as error:  # out of memory at a large batch: skip the case, say so
                    print(f"skip {arch} batch {batch} {dtype}: {type(error).__name__}: {error}", file=sys.stderr)
                    continue
                for profile in profiles:
                    row = {"architecture": arch, "batch": batch, "dtype": dtype, "profile": profile,
                           **measured, **predict(arch, batch, dtype, profile)}
                    row["step_error"] = row["expected_step_s"] / row["measured_step_s"] - 1
                    row["bound_ok"] = row["bound_step_s"] <= row["measured_step_s"]
                    rows.append(row)
                    print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                          flush=True)
    lines = summary(rows)
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "gpu_time.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "gpu_time.md").write_text("\n".join(["# Step time on CUDA: predicted vs measured", "", *lines, ""]))
    print(f"wrote {args.out / 'gpu_time.csv'} and {args.out / 'gpu_time.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
