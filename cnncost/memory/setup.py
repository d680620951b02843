"""What one training or serving job is, beyond the net, the batch and the precision: the optimizer,
train or inference, and how the job is run (one field per concern). `step_memory(trace, setup)`
models the step of that job; a Setup is hashable, so each is modelled once per trace."""
from __future__ import annotations

from dataclasses import dataclass

from ..conventions import OPTIMIZER_COPIES
from ..errors import CnnCostError
from ..layers.base import suggest

MODES = ("train", "inference")


@dataclass(frozen=True)
class Setup:
    optimizer: str = "adam"
    mode: str = "train"  # train: forward, backward, optimizer step; inference: eval, no autograd
    int8: bool = False  # inference only: weights, buffers and activations stored in 1 byte (memory/inference.py)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZER_COPIES:
            raise CnnCostError(f"unknown optimizer '{self.optimizer}'" + suggest(str(self.optimizer), OPTIMIZER_COPIES))
        if self.mode not in MODES:
            raise CnnCostError(f"unknown mode '{self.mode}'; allowed: {', '.join(MODES)}")
        if self.int8 and self.mode != "inference":
            raise CnnCostError("int8 is a deployment (inference) estimate: training runs in fp32, fp16 or bf16; "
                               "use --mode inference")
