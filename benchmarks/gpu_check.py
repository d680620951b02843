"""Predicted vs measured memory for five classic CNNs, fp32 and bf16 autocast.

    python benchmarks/gpu_check.py                     # CUDA, batch 128 (needs about 25 GB)
    python benchmarks/gpu_check.py --device cpu        # CPU, batch 1: saved bytes only, no peak
                                                       # (bf16 convs are slow on CPU: ~2 minutes)

Writes <out>/gpu_check.csv and <out>/gpu_check.md: for each architecture and precision, the
autograd memory model's saved bytes and training-step peak (`--memory autograd`), and the lecture's
2 x activations + k x params, against the bytes autograd saves for backward and, on CUDA, the peak
of one training step (torch.cuda.max_memory_allocated). Exact quantities (shapes, params, MACs, FLOPs) are checked too;
the script exits 1 if any disagree. Finishes in well under 5 minutes on one H100.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import torch

from cnncost.torch_backend import check
from cnncost.zoo.arch import ARCHS
from cnncost.zoo.registry import list_archs

ARCHITECTURES = ("alexnet", "vgg16", "googlenet", "resnet50", "efficientnet-b0")
DTYPES = ("fp32", "bf16")
COLUMNS = ("architecture", "dtype", "batch", "device", "exact_ok", "ours_saved_MB", "torch_saved_MB",
           "saved_rel_error", "torch_saved_param_MB", "ours_train_MB", "lecture_train_MB", "torch_peak_MB", "peak_rel_error",
           "torch_forward_retained_MB", "seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--batch", type=int, help="default 128 on CUDA, 1 on CPU")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--arch", nargs="*", default=list(ARCHITECTURES))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device; use --device cpu")
    batch = args.batch or (128 if args.device.startswith("cuda") else 1)
    list_archs()  # load the registry
    rows, ok = [], True
    for arch in args.arch:
        if arch not in ARCHS:
            print(f"skip {arch}: not a registered architecture", file=sys.stderr)
            continue
        for dtype in DTYPES:
            start = time.perf_counter()
            result = check(arch, batch=batch, device=args.device, dtype=dtype, optimizer=args.optimizer)
            ok &= result.ok
            rows.append(_row(result, time.perf_counter() - start))
            print(", ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
            if args.device.startswith("cuda"):
                torch.cuda.empty_cache()
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "gpu_check.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "gpu_check.md").write_text(_markdown(rows, torch.__version__, _device_name(args.device)))
    print(f"wrote {args.out / 'gpu_check.csv'} and {args.out / 'gpu_check.md'}")
    return 0 if ok else 1


def _row(result, seconds: float) -> dict[str, object]:
    def mb(value: int | None) -> str:
        return "" if value is None else f"{value / 2**20:.1f}"

    def rel(row) -> str:
        return "" if row is None or row.rel_error is None else f"{row.rel_error:+.3f}"

    totals = {row.quantity: row for row in result.totals}
    saved, peak, lecture = totals.get("saved_bytes"), totals.get("train_peak_bytes"), totals.get("lecture_train_peak_bytes")
    saved_params = totals.get("saved_param_bytes")
    retained = totals.get("forward_retained_bytes")
    return {"architecture": result.architecture, "dtype": result.dtype, "batch": result.batch,
            "device": result.device, "exact_ok": result.ok,
            "ours_saved_MB": mb(saved.ours), "torch_saved_MB": mb(saved.torch), "saved_rel_error": rel(saved),
            "torch_saved_param_MB": mb(saved_params.torch if saved_params else None),
            "ours_train_MB": mb(peak.ours if peak else None), "lecture_train_MB": mb(lecture.ours if lecture else None),
            "torch_peak_MB": mb(peak.torch if peak else None),
            "peak_rel_error": rel(peak), "torch_forward_retained_MB": mb(retained.torch if retained else None),
            "seconds": f"{seconds:.1f}"}


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"


def _markdown(rows: list[dict[str, object]], version: str, device: str) -> str:
    lines = [f"torch {version} on {device}. rel. error = (torch - ours) / torch.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
