"""Predicted vs measured memory of a whole PyTorch training step (autograd memory model).

    python benchmarks/gpu_memory.py                      # CUDA, batch 64, fp32 and bf16 autocast
    python benchmarks/gpu_memory.py --device cpu         # CPU: saved-for-backward bytes only

On CUDA, per architecture and precision: the model's step peak (`cnncost table --memory autograd`,
device cuda) against `torch.cuda.max_memory_allocated` over the second of two training steps
(`cnncost.torch_backend.measure.train_step_peak`), and the bytes the forward pass leaves allocated
(saved tensors, weight casts, outputs) against the model's held bytes at the end of the forward
pass. Target: within 10%; reported either way, never pass/fail. Writes <out>/gpu_memory.md.

`--reserved` (CUDA) compares the caching allocator model (`cnncost.memory.reserved.reserved_bytes`,
modelled; measured on CUDA: not yet) for every architecture x dtype x batch (default: 12 nets, fp32
and bf16 autocast, batches 16 and 64): in a clean allocator (cache emptied, cuBLAS workspaces
cleared, peaks reset), two training steps without `empty_cache` between them, then
`torch.cuda.max_memory_allocated` and `max_memory_reserved` against the model's peak_allocated and
peak_reserved, and the process's device memory as nvidia-smi shows it (NVML's per-process figure
where pynvml is installed, else the device's used memory from `torch.cuda.mem_get_info`: this
process alone on the GPU) against the model's nvidia_smi figure (reserved + the modelled CUDA
context). Also measured: the CUDA context alone (used memory after CUDA's initialisation with
nothing allocated), which the model takes as 512 MiB. Writes <out>/gpu_reserved.md; stops starting
new runs after `--deadline` seconds (what ran is written). One command on a lent GPU:

    python benchmarks/gpu_memory.py --reserved --skip-allocated --deadline 420

`--fake` runs the same code without a GPU, the measurements replaced by the model's own figures
times a fixed factor (a dry run of the script: tests/memory/test_allocator_gpu_memory.py).
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
RESERVED_ARCHITECTURES = ("alexnet", "vgg16", "googlenet", "resnet18", "resnet50", "resnet152", "densenet121",
                          "mobilenet-v2", "mobilenet-v3-large", "efficientnet-b0", "inception-v3", "convnext-tiny")
RESERVED_BATCHES = (16, 64)
FAKE_FACTOR = 1.05  # --fake: "measured" = modelled x this, so every error reads +4.8%


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


def smi_used() -> int:
    """The bytes nvidia-smi shows for this process: NVML's per-process figure where pynvml is
    installed, else the device's used memory (total - free: this process alone on the GPU)."""
    try:
        import os

        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == os.getpid() and proc.usedGpuMemory:
                return int(proc.usedGpuMemory)
    except Exception:  # no pynvml, no permission, a container hiding pids: the device's figure
        pass
    free, total = torch.cuda.mem_get_info()
    return total - free


def measure_reserved(arch: str, batch: int, dtype: str, optimizer: str) -> dict[str, int]:
    """Two training steps from a clean allocator: peaks of allocated and reserved bytes, and the
    device memory nvidia-smi shows after them (segments are not returned, so it holds the reserved
    peak)."""
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
    out = {"allocated": torch.cuda.max_memory_allocated(), "reserved": torch.cuda.max_memory_reserved(),
           "smi": smi_used()}
    del model, x, opt
    torch.cuda.empty_cache()
    return out


def cuda_context() -> int:
    """nvidia-smi's bytes for this process once CUDA is initialised, nothing allocated."""
    torch.cuda.init()
    torch.cuda.empty_cache()
    return smi_used()


def gpu_profile_of(name: str) -> str:
    """The cnncost GPU profile modelling the device called `name`."""
    for key, marker in (("h200", "H200"), ("h100", "H100"), ("a100-40gb", "A100-SXM4-40GB"), ("a100-80gb", "A100"),
                        ("l4", " L4"), ("rtx4090", "4090"), ("v100", "V100")):
        if marker in name:
            return key
    return "h100"


def predict_reserved(arch: str, batch: int, dtype: str, optimizer: str, device: str) -> object:
    from cnncost.memory.reserved import reserved_bytes
    step = step_memory(trace(cnncost.load(arch), precision=Precision(dtype, "cuda")), Setup(optimizer))
    return reserved_bytes(step, batch, device)


def fake_measure(predicted: object) -> dict[str, int]:
    """--fake: the model's figures x FAKE_FACTOR, as if measured."""
    return {"allocated": int(predicted.peak_allocated * FAKE_FACTOR),
            "reserved": int(predicted.peak_reserved * FAKE_FACTOR), "smi": int(predicted.nvidia_smi * FAKE_FACTOR)}


def rel_error(measured: int, predicted: int) -> float:
    """(measured - predicted) / measured; 0 where both are 0."""
    return (measured - predicted) / measured if measured else 0.0


def reserved_row(arch: str, dtype: str, batch: int, predicted: object, measured: dict[str, int]) -> str:
    """One markdown row: allocated, reserved and nvidia-smi, modelled vs measured (MiB) and error."""
    cells = []
    for mine, theirs in ((predicted.peak_allocated, measured["allocated"]),
                         (predicted.peak_reserved, measured["reserved"]), (predicted.nvidia_smi, measured["smi"])):
        cells.append(f"{mine / 2**20:,.1f} | {theirs / 2**20:,.1f} | {rel_error(theirs, mine):+.1%}")
    return f"| {arch} | {dtype} | {batch} | " + " | ".join(cells) + " |"


def error_summary(errors: dict[str, list[float]]) -> list[str]:
    """Per figure: runs, mean and largest absolute relative error."""
    lines = ["", "| figure | runs | mean abs. error | max abs. error |", "|---|---:|---:|---:|"]
    for name, values in errors.items():
        if values:
            lines.append(f"| {name} | {len(values)} | {sum(abs(v) for v in values) / len(values):.1%} | "
                         f"{max(abs(v) for v in values):.1%} |")
    return lines


def reserved_table(args: argparse.Namespace, measure=measure_reserved) -> list[str]:
    """Every architecture x dtype x batch: modelled vs measured, then the error summary; `measure`
    (arch, batch, dtype, optimizer) -> {allocated, reserved, smi}, or `fake_measure` under --fake."""
    name = "fake GPU (--fake)" if args.fake else torch.cuda.get_device_name()
    device = args.gpu or gpu_profile_of(name)
    context = "not measured (--fake)" if args.fake else f"{cuda_context() / 2**20:,.1f} MiB measured"
    lines = [f"torch {torch.__version__}, {name} (modelled as {device}), optimizer {args.optimizer}; CUDA context: "
             f"{context} (modelled: 512 MiB); rel. error = (measured - modelled) / measured", "",
             "| architecture | dtype | batch | allocated model (MiB) | meas. | err | reserved model (MiB) | meas. "
             "| err | nvidia-smi model (MiB) | meas. | err |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    errors: dict[str, list[float]] = {"allocated": [], "reserved": [], "nvidia-smi": []}
    start, skipped = time.perf_counter(), 0
    for arch in args.arch:
        for dtype in args.dtype:
            for batch in args.batches:
                if args.deadline and time.perf_counter() - start > args.deadline:
                    skipped += 1
                    continue
                ours = predict_reserved(arch, batch, dtype, args.optimizer, device)
                try:
                    real = fake_measure(ours) if args.fake else measure(arch, batch, dtype, args.optimizer)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    lines.append(f"| {arch} | {dtype} | {batch} | out of memory on the device |||||||||")
                    print(lines[-1], flush=True)
                    continue
                lines.append(reserved_row(arch, dtype, batch, ours, real))
                for key, mine, theirs in (("allocated", ours.peak_allocated, real["allocated"]),
                                          ("reserved", ours.peak_reserved, real["reserved"]),
                                          ("nvidia-smi", ours.nvidia_smi, real["smi"])):
                    errors[key].append(rel_error(theirs, mine))
                print(lines[-1], flush=True)
    lines += error_summary(errors)
    if skipped:
        lines.append(f"\n{skipped} runs not started: past the {args.deadline:g} s deadline")
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
    parser.add_argument("--arch", nargs="+", help="default: 7 nets; with --reserved 12")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--reserved", action="store_true", help="CUDA: reserved bytes and the nvidia-smi figure")
    parser.add_argument("--batches", type=int, nargs="+", default=list(RESERVED_BATCHES),
                        help="--reserved: the batches of each net (default 16 64)")
    parser.add_argument("--gpu", help="--reserved: the cnncost GPU profile (default: from the device's name)")
    parser.add_argument("--skip-allocated", action="store_true", help="--reserved only: not the allocated-peak table")
    parser.add_argument("--deadline", type=float, default=0, help="--reserved: start no run after SECONDS (0: none)")
    parser.add_argument("--fake", action="store_true", help="no GPU: the --reserved table from made-up measurements")
    args = parser.parse_args(argv)
    if args.fake and not args.reserved:
        parser.error("--fake dry-runs --reserved only")
    if args.device == "cuda" and not args.fake and not torch.cuda.is_available():
        parser.error("no CUDA device; use --device cpu (or --reserved --fake for a dry run)")
    if args.arch is None:
        args.arch = list(RESERVED_ARCHITECTURES if args.reserved else ARCHITECTURES)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.reserved and (args.skip_allocated or args.fake):
        return write_reserved(args)
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
    (args.out / "gpu_memory.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'gpu_memory.md'}")
    if args.reserved and args.device == "cuda":
        return write_reserved(args)
    return 0


def write_reserved(args: argparse.Namespace) -> int:
    path = args.out / "gpu_reserved.md"
    path.write_text("\n".join(reserved_table(args)) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
