"""The knobs every figure depends on, with the lecture's values as defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from .errors import CnnCostError
from .literals import ActivationCount, MemoryConvention, Mode
from .layers.base import suggest

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp64": 8, "int8": 1, "tf32": 4}
# tf32: fp32 storage (its memory is fp32's exactly), TF32 tensor-core math for conv and matmul
# (PyTorch's default for convolutions on Ampere and newer): only the time model tells them apart
MEMORY_DTYPE = {"tf32": "fp32"}
DTYPE_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
                 "float64": "fp64", "double": "fp64", "float": "fp32"}
# Copies of each parameter kept while training: value + gradient + optimizer state.
OPTIMIZER_COPIES = {"sgd": 2, "momentum": 3, "adam": 4, "adamw": 4}
ACTIVATION_COUNTS: tuple[str, ...] = get_args(ActivationCount)
MEMORY_CONVENTIONS: tuple[str, ...] = get_args(MemoryConvention)
JOB_MODES: tuple[str, ...] = get_args(Mode)  # inference: eval, no autograd (cnncost.memory.inference); int8 only there

FLOP_CONVENTION = ("FLOPs = 2 x MACs of conv, transposed conv, linear, matmul and attention (attention: "
                   "FlopCounterMode's sdpa formula; bias, pooling, norms, activations, merges: 0)")
MB, GB = 2**20, 2**30


@dataclass(frozen=True)
class Options:
    """batch: images per step. dtype: storage of activations and params. optimizer: how many
    copies of the params training keeps. activations: 'all' counts every tensor a layer allocates;
    'lecture' counts what the lecture's tables count: one tensor per conv, pool or FC row (activations,
    norms and dropout fold into the row before them) and, for a top-level block such as an
    inception module, only its output. memory: 'lecture' (2 x activations + k x params) or
    'autograd' (what PyTorch saves for backward, per layer, and the peak of a whole step; see
    docs/memory.md)."""

    batch: int = 128
    dtype: str = "fp32"
    optimizer: str = "adam"
    activations: ActivationCount = "all"
    memory: MemoryConvention = "lecture"
    mode: Mode = "train"  # inference: an eval pass, its live bytes; no training figures

    def __post_init__(self) -> None:
        if not isinstance(self.batch, int) or isinstance(self.batch, bool) or self.batch < 1:
            raise CnnCostError(f"batch must be a positive integer, got {self.batch!r}")
        dtype = DTYPE_ALIASES.get(str(self.dtype).lower(), str(self.dtype).lower())
        if dtype not in DTYPE_BYTES:
            raise CnnCostError(f"unknown dtype '{self.dtype}'" + suggest(str(self.dtype), DTYPE_BYTES))
        object.__setattr__(self, "dtype", dtype)
        if self.optimizer not in OPTIMIZER_COPIES:
            raise CnnCostError(f"unknown optimizer '{self.optimizer}'" + suggest(str(self.optimizer), OPTIMIZER_COPIES))
        if self.activations not in ACTIVATION_COUNTS:
            raise CnnCostError(f"unknown activation count '{self.activations}'"
                               + suggest(str(self.activations), ACTIVATION_COUNTS))
        if self.memory not in MEMORY_CONVENTIONS:
            raise CnnCostError(f"unknown memory convention '{self.memory}'"
                               + suggest(str(self.memory), MEMORY_CONVENTIONS))
        if self.memory == "autograd" and self.activations != "all":
            raise CnnCostError("--activations chooses what the lecture's rule counts; the autograd model counts "
                               "what PyTorch saves: use one or the other")
        if self.mode not in JOB_MODES:
            raise CnnCostError(f"unknown mode '{self.mode}'; allowed: {', '.join(JOB_MODES)}")
        if self.mode == "inference" and (self.memory == "autograd" or self.activations != "all"):
            raise CnnCostError("--mode inference models an eval pass tensor by tensor; --memory autograd and "
                               "--activations lecture are training conventions: use one or the other")
        if self.mode == "inference" and self.dtype == "fp64":
            raise CnnCostError("--mode inference models fp32, bf16 or fp16 (autocast) or int8; got 'fp64'")
        if self.memory == "autograd" and self.dtype not in ("fp32", "tf32", "fp64", "fp16", "bf16"):
            raise CnnCostError(f"--memory autograd models PyTorch training, which needs fp32, tf32, fp64, fp16 or "
                               f"bf16; got '{self.dtype}'")

    @property
    def memory_dtype(self) -> str:
        """The dtype the memory model traces: tf32 is fp32 in memory."""
        return memory_dtype(self.dtype)

    @property
    def bytes_per_element(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def param_copies(self) -> int:
        return OPTIMIZER_COPIES[self.optimizer]

    def describe(self) -> str:
        if self.mode == "inference":
            return (f"batch {self.batch}, {self.dtype} ({self.bytes_per_element} B), inference: eval mode under "
                    "torch.no_grad (live = bytes held while a row runs: parameters, buffers, the input batch and "
                    "every tensor from its maker to its last reader; fp16/bf16 = autocast with fp32 parameters"
                    + ("; int8 = weights, buffers and activations 1 B, scales not counted" if self.dtype == "int8"
                       else "") + "; no allocator or workspace overhead; no training figures), "
                    f"{FLOP_CONVENTION}, MB = 2^20 B, GB = 2^30 B")
        if self.memory == "autograd":
            memory = ("memory: autograd (saved = bytes PyTorch saves for backward, charged to the first layer "
                      "that saves each storage; peak = the largest moment of a training step; fp16/bf16 = "
                      "autocast with fp32 parameters; CUDA; no allocator or cuDNN workspace overhead)")
        else:
            memory = (f"memory: the lecture's, 2 x activations (input 1 x) + {self.param_copies} x params, "
                      f"activations: {self.activations}")
        return (f"batch {self.batch}, {self.dtype} ({self.bytes_per_element} B), optimizer {self.optimizer}, "
                f"{memory}, {FLOP_CONVENTION}, MB = 2^20 B, GB = 2^30 B")

def memory_dtype(dtype: str) -> str:
    """The storage dtype of a training dtype (tf32 -> fp32; others unchanged)."""
    return MEMORY_DTYPE.get(dtype, dtype)


# The JSON contract's version (docs/output.md): every JSON output carries it as "schema_version";
# bumped when a field changes meaning. 1: the first versioned contract.
SCHEMA_VERSION = 1
