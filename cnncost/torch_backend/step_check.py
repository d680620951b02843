"""The modelled training step (cnncost.memory.step) against a real CPU step measured by the
live-tensor tracker (`live.live_step`): the peak and the bytes held after forward, after backward
and after the optimizer step. Imports torch: only tests and benchmarks import this module.

The modelled points: after forward = the last forward moment plus the loss, less autocast's cast
cache (freed as the autocast region ends; the saved weight copies stay); after backward = the
optimizer step's moment less its temporaries; after the step = parameters, buffers, optimizer state
(Adam's step counters included) and the input batch (`zero_grad(set_to_none=True)` dropped the
gradients).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..api import load
from ..graph import compile
from ..memory.setup import Setup
from ..memory.step import step_memory
from ..memory.tensors import Precision, torch_release
from ..memory.trace import trace
from ..shapes import Shape
from .build import build
from .check import TORCH_DTYPES
from .example_inputs import example_inputs
from .live import live_step

LOSS_BYTES = 4  # the loss, an fp32 scalar, alive from the forward's end until backward (not modelled)
# the loss's gradient scalars (backward of `sum(o.float().mean())`), alive in backward: not modelled
DOCUMENTED_BOUND = 8
# (net, batch, input): the zoo at small inputs (googlenet's 7x7 pool needs 224)
ZOO_CASES = [("alexnet", 2, None), ("vgg11", 2, (3, 32, 32)), ("resnet18", 4, (3, 64, 64)),
             ("resnet50", 2, (3, 64, 64)), ("mobilenet-v2", 2, (3, 64, 64)), ("efficientnet-b0", 2, (3, 64, 64)),
             ("densenet121", 2, (3, 64, 64)), ("googlenet", 1, None), ("convnext-tiny", 2, (3, 64, 64)),
             ("squeezenet1-0", 2, (3, 64, 64)), ("unet", 1, (1, 188, 188))]
POINTS = ("peak", "after forward", "after backward", "after the step")


@dataclass(frozen=True)
class StepComparison:
    architecture: str
    batch: int
    dtype: str
    optimizer: str
    modelled: dict[str, int]   # POINTS -> bytes
    measured: dict[str, int]
    peak_phase: str            # where the modelled peak is

    def residuals(self) -> dict[str, int]:
        """point -> modelled - measured."""
        return {p: self.modelled[p] - self.measured[p] for p in POINTS}

    def differences(self) -> dict[str, int]:
        """point -> modelled - measured, where they differ."""
        return {p: self.modelled[p] - self.measured[p] for p in POINTS if self.modelled[p] != self.measured[p]}


def modelled_points(step, batch: int) -> dict[str, int]:
    """The model's bytes at the points the tracker marks (see the module docstring)."""
    n = len(step.trace.steps)  # forward moments 0..n-1; backward from n
    last = step.moment(step.count - 1)
    after_backward = last.at(batch) - (last.parts["optimizer temporaries"].at(batch)
                                         if "optimizer temporaries" in last.parts else 0)
    held = sum(last.parts[p].at(batch) for p in ("parameters", "buffers", "optimizer state", "input batch", "live activations")
               if p in last.parts)
    # autocast's cast cache is freed when the autocast region ends, after forward: the weight
    # copies left are those saved for backward (the first backward moment's)
    casts = step.moment(n - 1).parts, step.moment(n).parts
    cache = sum(p["weight casts"].at(batch) if "weight casts" in p else 0 for p in casts[:1]) - \
        sum(p["weight casts"].at(batch) if "weight casts" in p else 0 for p in casts[1:])
    return {"peak": step.peak(batch).at(batch),
            "after forward": step.moment(n - 1).at(batch) - cache - last_inputs(step.trace, batch) + LOSS_BYTES,
            "after backward": after_backward, "after the step": held}


def last_inputs(trace, batch: int) -> int:
    """Bytes the last forward moment holds for the last op only: what it reads or makes that no
    one saves and the net does not return (ConvNeXt's head under autocast: the fp32 layer norm
    output the classifier reads through a low cast), freed as the forward returns."""
    n, savers, last = len(trace.steps), trace.first_savers(), trace.last_reads()
    kept = {t.id for t in trace.outputs}
    return sum(t.nbytes_per_sample * batch + t.nbytes_fixed for i, s in enumerate(trace.steps) for t in s.created
               if t.id not in savers and t.id not in kept and max(i, last.get(t.id, i)) == n - 1)


def compare_step(arch: str, *, batch: int = 2, input: Shape | None = None, dtype: str = "fp32",
                 optimizer: str = "adam") -> StepComparison:
    """Model and measure one steady-state training step of a built-in on CPU."""
    net = load(arch)
    if input is not None:
        net = net.with_input(input)
    precision = Precision(dtype, device="cpu", torch=torch_release(torch.__version__))
    step = step_memory(trace(net, precision=precision), Setup(optimizer=optimizer))
    modelled = modelled_points(step, batch)
    torch.manual_seed(0)
    model = build(net, init=False)
    store = torch.float32 if precision.autocast else TORCH_DTYPES[dtype]
    model.to(dtype=store)
    xs = example_inputs(compile(net), batch, store)
    live = live_step(model, xs if len(xs) > 1 else xs[0], optimizer,
                     autocast_dtype=TORCH_DTYPES[dtype] if precision.autocast else None, setup_hook=hold_outputs)
    measured = {"peak": live.peak_bytes, **{p: live.marks[p] for p in POINTS[1:]}}
    return StepComparison(net.name, batch, dtype, optimizer, modelled, measured, step.peak(batch).phase)


def hold_outputs(model: torch.nn.Module) -> None:
    """Keep the forward's outputs until the next forward starts, as a loop `out = model(x);
    loss = criterion(out, y); loss.backward(); opt.step()` does (what the model assumes)."""
    kept: list = []
    forward_all = getattr(model, "forward_all", None)
    if forward_all is not None:  # the built nets' forward (every output)

        def holding(*args):
            kept.clear()
            kept.append(forward_all(*args))
            return kept[0]
        model.forward_all = holding  # type: ignore[assignment]  # this instance's, as a training loop holds outputs
        return
    model.register_forward_pre_hook(lambda module, args: kept.clear())
    model.register_forward_hook(lambda module, args, out: kept.append(out))

