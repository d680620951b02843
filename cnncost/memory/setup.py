"""What one training or serving job is, beyond the net, the batch and the precision: the optimizer,
train or inference, and how the job is run (one field per concern). `step_memory(trace, setup)`
models the step of that job; a Setup is hashable, so each is modelled once per trace.

freeze (`--freeze`): fnmatch patterns of the layers whose parameters are frozen; the trace must be
made with that frozen set (`trace.frozen_paths(graph, setup.freeze)`; api's `_step` does both).
accumulate (`--accumulate K`): the step is K micro-steps of `batch` samples each (the batch is the
micro-batch), gradients kept from the first micro-step's backward to the optimizer step
(`accumulate.py`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..conventions import OPTIMIZER_COPIES
from ..errors import CnnCostError
from ..layers.base import suggest
from .sharding import check_parallel

MODES = ("train", "inference")
SAVABLE = ("conv", "linear")  # selective checkpointing: layer types whose outputs a region may keep


@dataclass(frozen=True)
class Setup:
    """One training or serving job beyond the net, batch and dtype: public as `cnncost.Setup`, and
    what `table`, `fit` and `sweep` take as `setup=` in place of their job keywords.

    optimizer: sgd, momentum, adam, adamw. mode: train (forward, backward, optimizer step) or
    inference (eval, no autograd). freeze: layer path patterns whose parameters are frozen.
    accumulate: micro-steps per optimizer step (the batch is the micro-batch). checkpoint: regions
    run under torch.utils.checkpoint (block paths, patterns, 'A..B' runs or policies: all,
    every:K, sqrt[:STAGE]; `table`/`fit` resolve them on the net); checkpoint_save: layer types
    whose outputs the regions keep. world_size, sharding (ddp, zero1-3, fsdp, fsdp-grad-op,
    hybrid), ranks_per_node, gradient_as_bucket_view, bucket_cap_mb, fsdp_units: several GPUs
    (the step per rank). int8: an inference deployment estimate (with dtype 'int8').
    Lists are kept as tuples (a Setup is hashable: each step is modelled once per trace and setup).

    >>> import cnncost
    >>> job = cnncost.Setup("adamw", checkpoint=["sqrt"], world_size=8, sharding="fsdp")
    >>> cnncost.fit("resnet50", "24GiB", dtype="bf16", setup=job).batch
    912
    """

    optimizer: str = "adam"
    mode: str = "train"  # train: forward, backward, optimizer step; inference: eval, no autograd
    # several GPUs (memory/sharding.py): ranks, strategy, and the knobs of DDP, hybrid and FSDP
    world_size: int = 1
    sharding: str | None = None  # None: one device; ddp, zero1-3, fsdp, fsdp-grad-op, hybrid (SHARDINGS)
    ranks_per_node: int = 8  # hybrid: parameters sharded within a node, replicated across nodes
    gradient_as_bucket_view: bool = False  # ddp: .grad are views of the reducer's buckets
    bucket_cap_mb: int | None = None  # ddp: bucket cap in MiB (None: PyTorch's 25, the first bucket 1 MiB)
    fsdp_units: tuple[str, ...] = ()  # block path patterns wrapped as FSDP units (default: top-level children)
    # --- freeze and accumulate (issue 19 items 2, 3) ---
    freeze: tuple[str, ...] = ()  # fnmatch patterns of frozen layers: no gradients, no optimizer state
    accumulate: int = 1  # micro-steps per optimizer step
    # --- end freeze and accumulate ---
    # --- activation checkpointing (issue 19 item 1) ---
    checkpoint: tuple[str, ...] = ()  # regions run under torch.utils.checkpoint: block paths or 'A..B' runs
    checkpoint_save: tuple[str, ...] = ()  # selective checkpointing: layer types whose outputs the regions keep
    # --- inference (issue 19 item 4) ---
    int8: bool = False  # inference only: weights, buffers and activations stored in 1 byte (memory/inference.py)

    def __post_init__(self) -> None:
        for name in ("checkpoint", "checkpoint_save", "fsdp_units"):  # lists welcome: kept as tuples (hashable)
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.optimizer not in OPTIMIZER_COPIES:
            raise CnnCostError(f"unknown optimizer '{self.optimizer}'" + suggest(str(self.optimizer), OPTIMIZER_COPIES))
        if self.mode not in MODES:
            raise CnnCostError(f"unknown mode '{self.mode}'; allowed: {', '.join(MODES)}")
        check_parallel(self)
        self._check_freeze_accumulate()
        self._check_checkpoint()
        if self.int8 and self.mode != "inference":
            raise CnnCostError("int8 is a deployment (inference) estimate: training runs in fp32, fp16 or bf16; "
                               "use --mode inference")

    def _check_freeze_accumulate(self) -> None:
        if isinstance(self.freeze, str) or not all(isinstance(p, str) and p for p in self.freeze):
            raise CnnCostError(f"freeze takes a tuple of layer path patterns, got {self.freeze!r}")
        object.__setattr__(self, "freeze", tuple(self.freeze))
        if isinstance(self.accumulate, bool) or not isinstance(self.accumulate, int) or self.accumulate < 1:
            raise CnnCostError(f"accumulate must be a positive integer (micro-steps per step), got {self.accumulate!r}")
        if self.accumulate > 1 and self.mode != "train":
            raise CnnCostError("accumulate (gradient accumulation) needs mode 'train'")

    def _check_checkpoint(self) -> None:
        if not isinstance(self.checkpoint, tuple) or not all(isinstance(r, str) and r for r in self.checkpoint):
            raise CnnCostError(f"checkpoint must be a tuple of block paths, got {self.checkpoint!r}")
        for kind in self.checkpoint_save:
            if kind not in SAVABLE:
                raise CnnCostError(f"--checkpoint-save: cannot keep '{kind}' outputs; allowed: {', '.join(SAVABLE)}")
        if self.checkpoint_save and not self.checkpoint:
            raise CnnCostError("--checkpoint-save chooses what checkpointed regions keep: give --checkpoint too")


# The keywords of table, fit and sweep a Setup stands for, with their defaults there
JOB_KEYWORDS = {"optimizer": "adam", "mode": "train", "freeze": (), "accumulate": 1, "checkpoint": (),
                "checkpoint_save": (), "parallel": None}
PARALLEL_FIELDS = ("world_size", "sharding", "ranks_per_node", "gradient_as_bucket_view", "bucket_cap_mb", "fsdp_units")


def job_keywords(setup: Any, dtype: str, **given: Any) -> dict[str, Any]:
    """The job keywords (JOB_KEYWORDS) of `setup`, a `cnncost.Setup`; refused beside any of them
    given with another value than its default, and where its int8 and `dtype` disagree."""
    if not isinstance(setup, Setup):
        raise CnnCostError(f"setup must be a cnncost.Setup, got {type(setup).__name__}")
    clash = [name for name, value in given.items()
             if not (value == JOB_KEYWORDS[name] or (not value and not JOB_KEYWORDS[name]))]
    if clash:
        raise CnnCostError(f"give the job once: setup= or the keyword{'s' if len(clash) > 1 else ''} "
                           f"{', '.join(clash)}, not both")
    if setup.int8 != (str(dtype).lower() == "int8"):
        raise CnnCostError("Setup(int8=True) goes with dtype='int8' (and the other way round)")
    parallel = ({name: getattr(setup, name) for name in PARALLEL_FIELDS}
                if setup.sharding is not None or setup.world_size != 1 else None)
    return {"optimizer": setup.optimizer, "mode": setup.mode, "freeze": setup.freeze, "accumulate": setup.accumulate,
            "checkpoint": setup.checkpoint, "checkpoint_save": setup.checkpoint_save, "parallel": parallel}
