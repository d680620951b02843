"""Symbolic tensors for the memory model: a storage, its size per sample and its dtype.

Every figure is linear in the batch, so sizes are kept as `Bytes(per_sample, fixed)` and only
turned into one integer with `.at(batch)`. That is what lets `fit` solve for the batch directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CnnCostError
from ..layers.strides import contiguous

ELEMENT_BYTES = {"fp64": 8, "fp32": 4, "bf16": 2, "fp16": 2, "int64": 8, "bool": 1}
FLOAT_RANK = {"fp16": 1, "bf16": 1, "fp32": 2, "fp64": 3}
DEVICES = ("cuda", "cpu")
# The PyTorch release the rules were measured on; where a later one saves otherwise, a rule asks
# `Precision.torch` (`check` passes the running release's).
MODELLED_TORCH = (2, 13)
# The releases whose CPU saved tensors the rules are checked against (2.13: every rule, tests/memory
# and tests/layers; 2.14.1: the timm sample of tests/fixtures/import_coverage.json)
MEASURED_RELEASES = ((2, 13), (2, 14))


class Bytes:
    """per_sample x batch + fixed bytes. Immutable by convention; a slotted class, not a frozen
    dataclass: the memory model makes one per storage and per moment, and a frozen dataclass's
    __init__ costs several times more."""

    __slots__ = ("per_sample", "fixed")

    def __init__(self, per_sample: int = 0, fixed: int = 0) -> None:
        self.per_sample, self.fixed = per_sample, fixed

    def at(self, batch: int) -> int:
        return self.per_sample * batch + self.fixed

    def __add__(self, other: Bytes) -> Bytes:
        return Bytes(self.per_sample + other.per_sample, self.fixed + other.fixed)

    def scaled(self, factor: int) -> Bytes:
        return Bytes(self.per_sample * factor, self.fixed * factor)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bytes):
            return NotImplemented
        return self.per_sample == other.per_sample and self.fixed == other.fixed

    def __hash__(self) -> int:
        return hash((self.per_sample, self.fixed))

    def __repr__(self) -> str:
        return f"Bytes(per_sample={self.per_sample!r}, fixed={self.fixed!r})"


ZERO = Bytes()


def total(items) -> Bytes:
    out = ZERO
    for item in items:
        out = out + item
    return out


LAYOUTS = ("contiguous", "channels", "strided")


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

    `channels_last`: the storage is laid out N, H, W, C (what LayerNorm2d's permutes leave, and
    what most ops then keep): dense, but a flatten or `.contiguous()` copies it, unless it has one
    channel or one position (then both layouts are the same: PyTorch copies nothing).

    `requires_grad` is false for the input batch and what is computed from it alone: ops on such
    tensors record nothing for backward."""

    __slots__ = ("id", "per_sample", "fixed", "dtype", "requires_grad", "shown", "layout", "nbytes_per_sample",
                 "nbytes_fixed", "channels_last", "strides", "batch_stride")

    def __init__(self, id: int, per_sample: int, fixed: int, dtype: str, requires_grad: bool = True,
                 shown: int | None = None, layout: str = "contiguous") -> None:
        self.id, self.per_sample, self.fixed, self.dtype = id, per_sample, fixed, dtype
        self.requires_grad, self.shown, self.layout = requires_grad, shown, layout
        self.channels_last = False
        self.strides: tuple[int, ...] | None = None  # a view's per-sample (C, H, W) strides in its storage
        # where the samples do not follow one another in the storage (a copy laid out with the batch
        # inside, `Contiguous.batch_dim`, and its views): the stride from one sample to the next
        self.batch_stride: int | None = None
        size = ELEMENT_BYTES[dtype]
        self.nbytes_per_sample, self.nbytes_fixed = per_sample * size, fixed * size

    @property
    def nbytes(self) -> Bytes:
        """The storage's bytes (a view's whole base)."""
        return Bytes(self.nbytes_per_sample, self.nbytes_fixed)

    @property
    def elements(self) -> int:
        """Elements per sample this tensor shows (a view: its own size, not its storage's)."""
        return self.per_sample if self.shown is None else self.shown

    @property
    def contiguous(self) -> bool:
        return self.layout == "contiguous"  # in its own layout: channels last is dense too

    def view(self, shown: int | None, layout: str, strides: tuple[int, ...] | None = None) -> Tensor:
        """The same storage seen through a view showing `shown` elements per sample."""
        seen = Tensor(self.id, self.per_sample, self.fixed, self.dtype, self.requires_grad, shown, layout)
        seen.channels_last, seen.strides, seen.batch_stride = self.channels_last, strides, self.batch_stride
        return seen

    def map_strides(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample strides of this tensor seen as `shape`: a view's own, else those of its
        layout (row-major, or N, H, W, C for a channels-last CxHxW map)."""
        if self.strides is not None:
            return self.strides
        if self.channels_last and len(shape) == 3:
            c, h, w = shape
            return (1, w * c, c)
        return contiguous(shape)[1:]

    def batch_layout(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """(batch stride, *strides) as `shape` (`layers/strides.py`): the batch stride is the
        storage's elements per sample, or `batch_stride` where the samples interleave."""
        return (self.per_sample if self.batch_stride is None else self.batch_stride, *self.map_strides(shape))

    def _fields(self) -> tuple:
        return (self.id, self.per_sample, self.fixed, self.dtype, self.requires_grad, self.shown, self.layout,
                self.channels_last, self.strides, self.batch_stride)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return ("Tensor(" + ", ".join(f"{k}={v!r}" for k, v in zip(
            ("id", "per_sample", "fixed", "dtype", "requires_grad", "shown", "layout"), self._fields())) + ")")


def promote(*dtypes: str) -> str:
    """The result dtype of an element-wise op or concat on mixed float inputs (PyTorch promotion):
    the first of the highest rank."""
    best = dtypes[0]
    for d in dtypes[1:]:
        if d != best and FLOAT_RANK[d] > FLOAT_RANK[best]:
            best = d
    return best


@dataclass(frozen=True)
class Precision:
    """How a step runs. fp32 / fp64: everything in that dtype. fp16 / bf16: mixed precision as
    `torch.autocast` does it: fp32 parameters (the master weights), conv and linear in the low
    dtype, everything else in whatever dtype its input has (a few composite ops excepted, see
    the layers' `autograd` rules). `device` matters where CUDA and CPU differ: dropout's mask, and
    the ops autocast runs in fp32 on one device only (LRN's pooling, reflect padding, layer and
    group norm, softmax); docs/memory.md lists them. `torch`: the PyTorch release (major, minor)
    whose rules apply where releases differ (`torch_release` reads one from a version string)."""

    dtype: str = "fp32"
    device: str = "cuda"
    torch: tuple[int, int] = MODELLED_TORCH  # (major, minor): where PyTorch releases differ, whose rules apply

    def __post_init__(self) -> None:
        if self.dtype not in FLOAT_RANK:
            raise CnnCostError(f"the autograd memory model needs a training dtype, got '{self.dtype}'; "
                               f"allowed: {', '.join(sorted(FLOAT_RANK))}")
        if self.device not in DEVICES:
            raise CnnCostError(f"unknown device '{self.device}'; allowed: {', '.join(DEVICES)}")
        if not (isinstance(self.torch, tuple) and len(self.torch) == 2 and all(isinstance(n, int) for n in self.torch)):
            raise CnnCostError(f"a PyTorch release is (major, minor), got {self.torch!r}")
        autocast = self.dtype in ("fp16", "bf16")
        object.__setattr__(self, "autocast", autocast)
        object.__setattr__(self, "param_dtype", "fp32" if autocast else self.dtype)
        object.__setattr__(self, "matmul_dtype", self.dtype)

    # autocast, param_dtype and matmul_dtype are set once in __post_init__ (read per layer of a trace):
    # autocast: fp16/bf16 mixed precision; param_dtype: parameters, their gradients, optimizer state
    # and the input batch; matmul_dtype: what conv and linear compute (and save) in.
    autocast: bool = field(init=False, repr=False, compare=False)
    param_dtype: str = field(init=False, repr=False, compare=False)
    matmul_dtype: str = field(init=False, repr=False, compare=False)


def torch_release(version: str) -> tuple[int, int]:
    """(major, minor) of a PyTorch version string such as '2.14.1+cu130'."""
    numbers = version.split("+")[0].split(".")
    try:
        return int(numbers[0]), int(numbers[1])
    except (IndexError, ValueError):
        raise CnnCostError(f"not a PyTorch version: '{version}'") from None
