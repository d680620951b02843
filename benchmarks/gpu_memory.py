"""Predicted vs measured memory of a whole PyTorch training step (autograd memory model).

    python benchmarks/gpu_memory.py                      # CUDA, batch 64, fp32 and bf16 autocast
    python benchmarks/gpu_memory.py --device cpu         # CPU: saved-for-backward bytes only

On CUDA, per architecture and precision: the model's step peak (`cnncost table --memory autograd`,
device cuda) against `torch.cuda.max_memory_allocated` over the second of two training steps
(`cnncost.torch_backend.measure.train_step_peak`), and the bytes the forward pass leaves allocated
(saved tensors, weight casts, outputs) against the model's held bytes at the end of the forward
pass. Target: within 10%; reported either way, never pass/fail. Writes <out>/gpu_memory.md.

`--reserved` (CUDA) adds the caching allocator model (`cnncost.memory.reserved.reserved_bytes`,
modelled; measured on CUDA: not yet): per architecture, in a clean allocator (cache emptied, cuBLAS
workspaces cleared, peaks reset), two training steps without `empty_cache` between them, then
`torch.cuda.max_memory_allocated` and `max_memory_reserved` against the model's peak_allocated and
peak_reserved, and the device's used memory (NVML, as nvidia-smi shows it; this process alone on
the GPU) against the model's nvidia_smi figure (reserved + the modelled CUDA context). Writes
<out>/gpu_reserved.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

import cnncost
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.torch_backend.check import TORCH_DTYPES
from cnncost.torch_backend.saved_check import compare_saved

ARCHITECTURES = ("alexnet", "vgg16", "googlenet", "resnet50", "mobilenet-v2", "efficientnet-b0", "inception-v3")


def measure_cuda(arch: str, batch: int, dtype: str, optimizer: str) -> dict[str, int]:
    from cnncost.torch_backend.build import build
    from cnncost.torch_backend.measure import train_step_peak
    net = cnncost.load(arch)
    model = build(net, init=False).cuda()
    x = torch.randn(batch, *net.input, device="cuda")
    half = TORCH_DTYPES[dtype] if dtype in ("bf16", "fp16") else None
    peak = train_step_peak(model, x, optimizer, half)
    del model, x
    torch.cuda.empty_cache()
    return {"peak": peak.peak, "forward": peak.after_forward}


def measure_reserved(arch: str, batch: int, dtype: str, optimizer: str) -> dict[str, int]:
    """Two training steps from a clean allocator: peaks of allocated and reserved bytes, and the
    device's used memory after them (segments are not returned, so it holds the reserved peak)."""
    from cnncost.torch_backend.build import build
    from cnncost.torch_backend.measure import inputs_of, make_optimizer
    torch.cuda.empty_cache()
    if hasattr(torch._C, "_cuda_clearCublasWorkspaces"):  # CUDA builds: the workspaces of earlier nets
        torch._C._cuda_clearCublasWorkspaces()
    torch.cuda.reset_peak_memory_stats()
    net = cnncost.load(arch)
    model = build(net, init=False).cuda()
    x = torch.randn(batch, *net.input, device="cuda")
    half = TORCH_DTYPES[dtype] if dtype in ("bf16", "fp16") else None
    opt = make_optimizer(optimizer, model.parameters())
    model.train()
    for _ in range(2):
        with torch.autocast("cuda", half, enabled=half is not None):
            outputs = model.forward_all(*inputs_of(x)) if hasattr(model, "forward_all") else [model(*inputs_of(x))]
            loss = sum(o.float().mean() for o in outputs)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        del outputs, loss
    torch.cuda.synchronize()
    used = torch.cuda.device_memory_used() if hasattr(torch.cuda, "device_memory_used") else \
        (lambda free_total: free_total[1] - free_total[0])(torch.cuda.mem_get_info())
    out = {"allocated": torch.cuda.max_memory_allocated(), "reserved": torch.cuda.max_memory_reserved(), "smi": used}
    del model, x, opt
    torch.cuda.empty_cache()
    return out


def predict_reserved(arch: str, batch: int, dtype: str, optimizer: str, device: str) -> object:
    from cnncost.memory.reserved import reserved_bytes
    step = step_memory(trace(cnncost.load(arch), precision=Precision(dtype, "cuda")), Setup(optimizer))
    return reserved_bytes(step, batch, device)


def reserved_table(args: argparse.Namespace, batch: int) -> list[str]:
    name = torch.cuda.get_device_name()
    device = "h200" if "H200" in name else "h100" if "H100" in name else "a100-80gb" if "A100" in name else "h100"
    lines = [f"torch {torch.__version__}, {name} (modelled as {device}), batch {batch}, optimizer {args.optimizer}; "
             "rel. error = (measured - predicted) / measured", "",
             "| architecture | dtype | allocated pred. (MiB) | meas. | err | reserved pred. (MiB) | meas. | err "
             "| nvidia-smi pred. (MiB) | meas. | err |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arch in args.arch:
        for dtype in args.dtype:
            ours, real = predict_reserved(arch, batch, dtype, args.optimizer, device), measure_reserved(arch, batch, dtype, args.optimizer)
            cells = []
            for mine, theirs in ((ours.peak_allocated, real["allocated"]), (ours.peak_reserved, real["reserved"]),
                                 (ours.nvidia_smi, real["smi"])):
                cells.append(f"{mine / 2**20:,.1f} | {theirs / 2**20:,.1f} | {(theirs - mine) / theirs:+.1%}")
            lines.append(f"| {arch} | {dtype} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def predict(arch: str, batch: int, dtype: str, optimizer: str) -> dict[str, object]:
    step = step_memory(trace(cnncost.load(arch), precision=Precision(dtype, "cuda")), Setup(optimizer))
    end_of_forward = [m for m in step.moments if m.phase.startswith("forward")][-1]
    peak = step.peak(batch)
    return {"peak": peak.at(batch), "phase": peak.phase, "forward": end_of_forward.at(batch)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--batch", type=int, help="default 64 on CUDA, 2 on CPU")
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--dtype", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--arch", nargs="+", default=list(ARCHITECTURES))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--reserved", action="store_true", help="CUDA: also reserved bytes and the nvidia-smi figure")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device; use --device cpu")
    batch = args.batch or (64 if args.device == "cuda" else 2)
    lines = [f"torch {torch.__version__}, {torch.cuda.get_device_name() if args.device == 'cuda' else 'CPU'}, "
             f"batch {batch}, optimizer {args.optimizer}; rel. error = (measured - predicted) / measured", ""]
    if args.device == "cuda":
        lines += ["| architecture | dtype | predicted peak (MiB) | measured peak (MiB) | rel. error | peak moment "
                  "| predicted end of forward (MiB) | measured (MiB) | rel. error |", "|---|---|---:|---:|---:|---|---:|---:|---:|"]
    else:
        lines += ["| architecture | dtype | predicted saved (B) | measured saved (B) | rel. error |", "|---|---|---:|---:|---:|"]
    for arch in args.arch:
        for dtype in args.dtype:
            start = time.perf_counter()
            if args.device == "cpu":
                r = compare_saved(arch, batch=batch, dtype=dtype)
                lines.append(f"| {arch} | {dtype} | {r.predicted:,} | {r.measured:,} | {r.rel_error:+.2%} |")
            else:
                ours, real = predict(arch, batch, dtype, args.optimizer), measure_cuda(arch, batch, dtype, args.optimizer)
                rel = [(real[k] - ours[k]) / real[k] for k in ("peak", "forward")]
                lines.append(f"| {arch} | {dtype} | {ours['peak'] / 2**20:,.1f} | {real['peak'] / 2**20:,.1f} | "
                             f"{rel[0]:+.1%} | {ours['phase']} | {ours['forward'] / 2**20:,.1f} | "
                             f"{real['forward'] / 2**20:,.1f} | {rel[1]:+.1%} |")
            print(lines[-1], f"({time.perf_counter() - start:.1f}s)", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_memory.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'gpu_memory.md'}")
    if args.reserved and args.device == "cuda":
        (args.out / "gpu_reserved.md").write_text("\n".join(reserved_table(args, batch)) + "\n")
        print(f"wrote {args.out / 'gpu_reserved.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
