"""What one training or serving job is, beyond the net, the batch and the precision: the optimizer,
train or inference, and how the job is run (one field per concern). `step_memory(trace, setup)`
models the step of that job; a Setup is hashable, so each is modelled once per trace."""
from __future__ import annotations

from dataclasses import dataclass

from ..conventions import OPTIMIZER_COPIES
from ..errors import CnnCostError
from ..layers.base import suggest

MODES = ("train", "inference")
SAVABLE = ("conv", "linear")  # selective checkpointing: layer types whose outputs a region may keep


@dataclass(frozen=True)
class Setup:
    optimizer: str = "adam"
    mode: str = "train"  # train: forward, backward, optimizer step; inference: eval, no autograd
    checkpoint: tuple[str, ...] = ()  # regions run under torch.utils.checkpoint: block paths or 'A..B' runs
    checkpoint_save: tuple[str, ...] = ()  # selective checkpointing: layer types whose outputs the regions keep

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZER_COPIES:
            raise CnnCostError(f"unknown optimizer '{self.optimizer}'" + suggest(str(self.optimizer), OPTIMIZER_COPIES))
        if self.mode not in MODES:
            raise CnnCostError(f"unknown mode '{self.mode}'; allowed: {', '.join(MODES)}")
        if not isinstance(self.checkpoint, tuple) or not all(isinstance(r, str) and r for r in self.checkpoint):
            raise CnnCostError(f"checkpoint must be a tuple of block paths, got {self.checkpoint!r}")
        for kind in self.checkpoint_save:
            if kind not in SAVABLE:
                raise CnnCostError(f"--checkpoint-save: cannot keep '{kind}' outputs; allowed: {', '.join(SAVABLE)}")
        if self.checkpoint_save and not self.checkpoint:
            raise CnnCostError("--checkpoint-save chooses what checkpointed regions keep: give --checkpoint too")
