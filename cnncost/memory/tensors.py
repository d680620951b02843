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


LAYOUTS = ("contiguous", "channels", "strided")


@dataclass(frozen=True)
class Tensor:
    """One storage, or a view of one. `per_sample` elements scale with the batch, `fixed` ones (BN
    statistics, weight casts) do not. Views (flatten, chunk, crop) and in-place results keep the
    storage's `id`, its `per_sample` and `fixed`: whoever saves a view keeps the whole storage
    alive, and autograd's bookkeeping counts a storage once at its full size.

    A view that shows only part of its storage says how much in `shown` (elements per sample; None:
    all of it), and how it lies in `layout`: "contiguous" (all of it, in order), "channels" (a
    channel slice of NCHW: each sample contiguous, but the batch stride is the base's: a chunk) or
    "strided" (a spatial crop). New tensors made from a view (`StepBuilder.like`) have the view's
    size. At batch 1 a channel slice is contiguous too; the model assumes a batch above 1.

    `requires_grad` is false for the input batch and what is computed from it alone: ops on such
    tensors record nothing for backward."""

    id: int
    per_sample: int
    fixed: int
    dtype: str
    requires_grad: bool = True
    shown: int | None = None
    layout: str = "contiguous"

    @property
    def nbytes(self) -> Bytes:
        """The storage's bytes (a view's whole base)."""
        size = ELEMENT_BYTES[self.dtype]
        return Bytes(self.per_sample * size, self.fixed * size)

    @property
    def elements(self) -> int:
        """Elements per sample this tensor shows (a view: its own size, not its storage's)."""
        return self.per_sample if self.shown is None else self.shown

    @property
    def contiguous(self) -> bool:
        return self.layout == "contiguous"


def promote(*dtypes: str) -> str:
    """The result dtype of an element-wise op or concat on mixed float inputs (PyTorch promotion)."""
    return max(dtypes, key=lambda d: FLOAT_RANK[d])


@dataclass(frozen=True)
class Precision:
    """How a step runs. fp32 / fp64: everything in that dtype. fp16 / bf16: mixed precision as
    `torch.autocast` does it: fp32 parameters (the master weights), conv and linear in the low
    dtype, everything else in whatever dtype its input has (a few composite ops excepted, see
    the layers' `autograd` rules). `device` matters where CUDA and CPU differ: dropout's mask, and
    the ops autocast runs in fp32 on one device only (LRN's pooling, reflect padding, layer and
    group norm, softmax); docs/memory.md lists them."""

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
