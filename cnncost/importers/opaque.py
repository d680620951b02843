"""The opaque node: an operation the importer does not know, kept in the graph with the output
shape that tracing gave it and its counts marked unknown (`--allow-unknown`).

An opaque node is never a silent zero: its `describe()` says UNKNOWN, `counts_unknown` names the
figures it cannot give (MACs and what autograd saves), and the importer lists every opaque node in
the net's notes. Its parameters are the exception: they are real tensors the importer counted
(those of the module it stands for), so `weights` is exact and is reported as params.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import CnnCostError
from ..layers.base import Layer, register
from ..shapes import Shape, numel

if TYPE_CHECKING:
    from ..memory.tensors import Tensor
    from ..memory.trace import StepBuilder


@register("opaque")
@dataclass(frozen=True, kw_only=True)
class Opaque(Layer):
    """An operation cnncost does not know (`op`: what it was, e.g. `torch.nn.LSTM` or `aten.erfinv`).

    `shape` is its output per sample as tracing measured it; `weights` the parameters of the
    module it stands for (exact; counted as params). MACs are unknown (0 in sums, flagged), and
    so is what autograd saves: the memory model gives it a new output tensor and saves nothing.
    It reads every tensor in `from` (one or more)."""

    arity = None
    min_inputs = 1
    # The figures this node cannot give; a report should show them as unknown, not as 0.
    counts_unknown: ClassVar[tuple[str, ...]] = ("macs", "flops", "saved_bytes")

    op: str
    shape: tuple[int, ...]
    weights: int = 0

    def validate(self) -> None:
        self.require(bool(self.op), "op must name the unknown operation")
        self.require(len(self.shape) >= 1 and all(d >= 1 for d in self.shape),
                     f"shape must be positive sizes, got {list(self.shape)}")
        self.require(self.weights >= 0, f"weights must be >= 0, got {self.weights}")

    def merge_shape(self, xs: tuple[Shape, ...]) -> Shape:
        return tuple(self.shape)

    def out_shape(self, x: Shape) -> Shape:
        return tuple(self.shape)

    def params(self, x: Shape) -> int:
        return self.weights

    def describe(self) -> str:
        return f"UNKNOWN {self.op}: MACs and saved bytes unknown"

    def autograd(self, xs: list[Tensor], shapes: tuple[Shape, ...], y: Shape, b: StepBuilder) -> Tensor:
        """Unknown: a new output tensor of the traced shape; nothing saved (flagged unknown)."""
        from ..memory.tensors import promote
        return b.new(numel(y), promote(*(t.dtype for t in xs)))

    def torch_module(self, shapes: tuple[Shape, ...]) -> Any:
        raise CnnCostError(f"opaque node ({self.op}) cannot be rebuilt in PyTorch; compare with the real "
                           "network instead: cnncost check SPEC --against SOURCE", path=self.name,
                           type_name=self.type_name)


def is_opaque(layer: object) -> bool:
    return isinstance(layer, Opaque)
