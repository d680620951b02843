"""The checkpointed training step's peak and after-forward bytes against a real CPU step (torch 2.13).

    python benchmarks/checkpoint_peak_check.py            # the zoo cases of docs/memory.md
    python benchmarks/checkpoint_peak_check.py --arch googlenet

Modelled: `cnncost.memory.step_memory` with `Setup("sgd", checkpoint=...)` (fp32, device cpu).
Measured: `cnncost.torch_backend.live.live_step` with the regions under non-reentrant
`torch.utils.checkpoint` (`torch_backend.checkpointing.apply_checkpoints`), the outputs held until
the next forward. Printed: modelled - measured at the peak (-8: the loss's gradient scalars) and
after forward (-4: the loss), and where the modelled peak is. Exit 1 if the peak is below by more
than 8 B.
"""
from __future__ import annotations

import argparse
import sys

import torch

from cnncost.memory import Setup, step_memory
from cnncost.memory.checkpoint_policy import resolve
from cnncost.torch_backend.build import build_graph
from cnncost.torch_backend.checkpointing import apply_checkpoints
from cnncost.torch_backend.example_inputs import example_inputs
from cnncost.torch_backend.freeze_check import _prepared
from cnncost.torch_backend.live import live_step
from cnncost.torch_backend.modules import Network
from cnncost.torch_backend.step_check import DOCUMENTED_BOUND, hold_outputs

# (net, input, policy, batch): googlenet's 7x7 pool needs 224
CASES = [("resnet18", (3, 64, 64), "layer2.1", 8), ("resnet18", (3, 32, 32), "sqrt", 2),
         ("resnet50", (3, 64, 64), "every:3", 2), ("vgg11", (3, 32, 32), "all", 2),
         ("mobilenet-v2", (3, 64, 64), "all", 2), ("densenet121", (3, 64, 64), "every:2", 2),
         ("efficientnet-b0", (3, 64, 64), "sqrt", 2), ("googlenet", None, "all", 1)]


def check(arch: str, input: tuple[int, int, int] | None, policy: str, batch: int) -> tuple[int, int, str]:
    """(peak diff, after-forward diff, the modelled peak's phase) of one checkpointed step."""
    _, graph, _, _, traced = _prepared(arch, input, "fp32", ())
    names = tuple(resolve(graph, (policy,)))
    step = step_memory(traced, Setup("sgd", checkpoint=names))
    torch.manual_seed(0)
    model = build_graph(graph)
    x = example_inputs(graph, batch, torch.float32)[0]
    def prepare(module: torch.nn.Module) -> None:
        assert isinstance(module, Network)  # build_graph's
        apply_checkpoints(module, graph, names)
        hold_outputs(module)
    measured = live_step(model, x, "sgd", setup_hook=prepare)
    peak = step.peak(batch)
    after_forward = step.moments[len(traced.steps) - 1].at(batch) - measured.marks["after forward"]
    return peak.at(batch) - measured.peak_bytes, after_forward, peak.phase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--arch", nargs="+", default=None, help="only these nets' cases")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    below = []
    for arch, input, policy, batch in CASES:
        if args.arch and arch not in args.arch:
            continue
        peak, after_forward, phase = check(arch, input, policy, batch)
        print(f"{arch:16s} {policy:9s} b{batch}  peak {peak:+,}  after forward {after_forward:+,}  peak at: {phase}",
              flush=True)
        if peak < -DOCUMENTED_BOUND:
            below.append(arch)
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
