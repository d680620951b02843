"""Symbolic tensors for the memory model: a storage, its size per sample and its dtype.

Every figure is linear in the batch, so sizes are kept as `Bytes(per_sample, fixed)` and only
turned into one integer with `.at(batch)`. That is what lets `fit` solve for the batch directly.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CnnCostError

ELEMENT_BYTES = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2, "int64": 8, "bool": 1}
FLOAT_RANK = {"fp16": 1, "bf16": 1, "fp32": 2, "fp64": 3}
DEVICES = ("cuda", "cpu")


@dataclass(frozen=True)
class Bytes:
    """per_sample x batch + fixed bytes."""

    per_sample: int = 0
    fixed: int = 0

    def at(self, batch: int) -> int:
        return self.per_sample * batch + self.fixed

    def __add__(self, other: Bytes) -> Bytes:
        return Bytes(self.per_sample + other.per_sample, self.fixed + other.fixed)

    def scaled(self, factor: int) -> Bytes:
        return Bytes(self.per_sample * factor, self.fixed * factor)


ZERO = Bytes()


def total(items) -> Bytes:
    out = ZERO
    for item in items:
        out = out + item
    return out


@dataclass(frozen=True)
class Tensor:
    """One storage. `per_sample` elements scale with the batch, `fixed` ones (BN statistics,
    weight casts) do not. Views (flatten) and in-place results keep the storage's `id`.
    `requires_grad` is false for the input batch and what is computed from it alone: ops on such
    tensors record nothing for backward."""

    id: int
    per_sample: int
    fixed: int
    dtype: str
    requires_grad: bool = True

    @property
    def nbytes(self) -> Bytes:
        size = ELEMENT_BYTES[self.dtype]
        return Bytes(self.per_sample * size, self.fixed * size)


def promote(*dtypes: str) -> str:
    """The result dtype of an element-wise op or concat on mixed float inputs (PyTorch promotion)."""
    return max(dtypes, key=lambda d: FLOAT_RANK[d])


@dataclass(frozen=True)
class Precision:
    """How a step runs. fp32 / fp64: everything in that dtype. fp16 / bf16: mixed precision as
    `torch.autocast` does it: fp32 parameters (the master weights), conv and linear in the low
    dtype, everything else in whatever dtype its input has (a few composite ops excepted, see
    `saved.py`). `device` matters for two rules only: dropout's mask and LRN under autocast."""

    dtype: str = "fp32"
    device: str = "cuda"

    def __post_init__(self) -> None:
        if self.dtype not in FLOAT_RANK:
            raise CnnCostError(f"the autograd memory model needs a training dtype, got '{self.dtype}'; "
                               f"allowed: {', '.join(sorted(FLOAT_RANK))}")
        if self.device not in DEVICES:
            raise CnnCostError(f"unknown device '{self.device}'; allowed: {', '.join(DEVICES)}")

    @property
    def autocast(self) -> bool:
        return self.dtype in ("fp16", "bf16")

    @property
    def param_dtype(self) -> str:
        """Parameters, their gradients, optimizer state and the input batch."""
        return "fp32" if self.autocast else self.dtype

    @property
    def matmul_dtype(self) -> str:
        """What conv and linear compute (and save) in."""
        return self.dtype
