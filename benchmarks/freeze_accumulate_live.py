"""--freeze and --accumulate against a real CPU step (torch 2.13): per net, precision, frozen set
and micro-step count, the model's step peak against the live-tensor tracker's
(`cnncost.torch_backend.live.live_step`, SGD), and the model's offset from the tracker at the end of
the plain forward pass (its own: batch norm buffers, the loss), beside the gap at the peak. Where
the gap at the peak equals that offset (+ 4: the loss's gradient), the timeline is exact there.

    python benchmarks/freeze_accumulate_live.py            # prints a markdown table
"""
from __future__ import annotations

import torch

from cnncost.memory import Setup, step_memory
from cnncost.torch_backend.build import build
from cnncost.torch_backend.check import TORCH_DTYPES
from cnncost.torch_backend.example_inputs import example_inputs
from cnncost.torch_backend.freeze_check import _prepared, freeze_modules
from cnncost.torch_backend.live import live_step

CASES = [  # (arch, input, dtype, freeze patterns, micro-steps)
    ("alexnet", (3, 64, 64), "fp32", ("conv*",), 2),
    ("alexnet", (3, 64, 64), "bf16", ("conv*",), 3),
    ("vgg11", (3, 32, 32), "fp32", ("stage1.*", "stage2.*"), 3),
    ("resnet18", (3, 32, 32), "fp32", ("conv1", "bn1", "layer1.*"), 1),
    ("resnet18", (3, 32, 32), "bf16", ("conv1", "bn1", "layer1.*"), 2),
    ("resnet50", (3, 32, 32), "fp32", ("conv1", "bn1", "layer1.*", "layer2.*"), 2),
    ("mobilenet-v2", (3, 32, 32), "fp32", ("stem.*", "stage1.*", "stage2.*"), 3),
    ("efficientnet-b0", (3, 32, 32), "fp32", ("stage4.*",), 2),
    ("densenet121", (3, 32, 32), "fp32", ("features.conv0", "features.norm0", "features.denseblock1.*"), 2),
    ("convnext-tiny", (3, 32, 32), "fp32", ("features.5.*",), 2),
    ("convnext-tiny", (3, 32, 32), "bf16", ("features.5.*",), 1),
]


def measure(arch, input, dtype, freeze, k, batch=2):
    net, graph, _, frozen, traced = _prepared(arch, input, dtype, freeze)
    step = step_memory(traced, Setup("sgd", freeze=freeze, accumulate=k))
    model = build(net, init=False)
    freeze_modules(model, frozen)
    x = example_inputs(graph, batch, torch.float32)[0]
    live = live_step(model, x, "sgd", TORCH_DTYPES[dtype] if dtype != "fp32" else None, accumulate=k)
    n = len(traced.steps)
    offset = live.marks["after forward 1" if k > 1 else "after forward"] - step.moments[n - 1].at(batch)
    peak = step.peak(batch)
    return peak.at(batch), live.peak_bytes, offset, peak.phase


def main() -> None:
    print("| net | dtype | frozen | K | model peak | live peak | gap | forward-end offset | model peak at |")
    print("|---|---|---|---|---:|---:|---:|---:|---|")
    for arch, input, dtype, freeze, k in CASES:
        model, live, offset, phase = measure(arch, input, dtype, freeze, k)
        print(f"| {arch} {'x'.join(map(str, input))} | {dtype} | {', '.join(freeze)} | {k} | {model:,} | {live:,} | "
              f"{live - model:,} | {offset:,} | {phase} |", flush=True)


if __name__ == "__main__":
    main()
