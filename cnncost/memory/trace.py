"""Run a net's compiled graph once, as PyTorch would, and record per step (a leaf layer or a merge)
which tensors it reads, creates and saves for backward. What each layer saves is the layer's own
rule (`Layer.autograd`).

Storage identity is tracked, so a tensor saved by two consumers (a conv output saved by an in-place
ReLU and by the next conv) is counted once, charged to its first saver, as
`cnncost.torch_backend.measure.saved_tensors` charges it.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from ..errors import CnnCostError
from ..graph import Graph, compile
from ..net import Net
from ..shapes import Shape, numel
from .tensors import ELEMENT_BYTES, LAYOUTS, ZERO, Bytes, Precision, Tensor, total


@dataclass
class Step:
    """One leaf layer or merge. `weight_casts` / `bias_casts`: elements of parameters that autocast
    copies to the low dtype (weights are saved for backward; biases only live in the cast cache)."""

    path: str
    type: str
    reads: list[Tensor]
    output: Tensor | None = None
    created: list[Tensor] = field(default_factory=list)
    saved: list[Tensor] = field(default_factory=list)
    params: int = 0
    weight_casts: int = 0
    bias_casts: int = 0


class StepBuilder:
    """What a layer's `autograd` rule works with: make tensors, views and casts, save them.

    `like(x)` is a new storage of x's visible size (a view: the view's, not its base's); `view(x,
    shape, layout)` the same storage seen through a view; `contiguous(x)` x, or a new contiguous
    copy of a view (ops that call `.contiguous()` save the copy); `reshape(x, shape)` a view where
    PyTorch can make one, else a copy."""

    def __init__(self, step: Step, precision: Precision, ids: itertools.count, grad: bool = True) -> None:
        self.step, self.precision, self._ids, self.grad = step, precision, ids, grad

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> Tensor:
        tensor = Tensor(next(self._ids), per_sample, fixed, dtype, self.grad)
        self.step.created.append(tensor)
        return tensor

    def like(self, x: Tensor, shape: Shape | None = None, dtype: str | None = None) -> Tensor:
        return self.new(x.elements if shape is None else numel(shape), dtype or x.dtype)

    def view(self, x: Tensor, shape: Shape | None = None, layout: str | None = None) -> Tensor:
        """x's storage seen as `shape` (None: all of x): no new tensor. A slice that shows fewer
        elements than x gets `layout` ("channels" for a channel slice, "strided" for a crop); a
        slice of a crop stays strided."""
        if shape is None or numel(shape) == x.elements:  # all of x: x itself, layout unchanged
            return x
        if layout not in LAYOUTS:
            raise ValueError(f"a view needs a layout, one of {', '.join(LAYOUTS)}; got {layout!r}")
        if x.layout == "strided":
            layout = "strided"
        return dataclasses.replace(x, shown=numel(shape), layout=layout)

    def contiguous(self, x: Tensor) -> Tensor:
        """x if contiguous, else a new contiguous copy of what it shows."""
        return x if x.contiguous else self.like(x)

    def reshape(self, x: Tensor, shape: Shape) -> Tensor:
        """`x.reshape(N, *shape)` (flatten): a view of a contiguous tensor or a channel slice (its
        per-sample elements are in order), a copy of a crop."""
        return self.like(x, shape) if x.layout == "strided" else x

    def cast(self, x: Tensor, dtype: str) -> Tensor:
        """x in `dtype`: x itself, or a new copy (autocast does not cache casts of activations)."""
        return x if x.dtype == dtype else self.like(x, dtype=dtype)

    def save(self, *tensors: Tensor) -> None:
        """Kept for backward, unless nothing here needs a gradient (autograd records no node)."""
        if self.grad:
            self.step.saved.extend(tensors)

    def cast_params(self, weight: int, bias: int, weight_saved: bool = True) -> None:
        """Under autocast, a low-precision copy of `weight` and `bias` elements (autocast caches
        casts of parameters for the whole forward pass). The weight's copy is saved for backward
        unless `weight_saved` is false (a linear whose input needs no gradient: addmm saves the
        weight only to compute the input's gradient); an unsaved copy lives in the cache only,
        as the bias's does (`Step.bias_casts`)."""
        if self.precision.autocast:
            if weight_saved:
                self.step.weight_casts, self.step.bias_casts = weight, bias
            else:
                self.step.weight_casts, self.step.bias_casts = 0, weight + bias


@dataclass
class Trace:
    """The steps of one forward pass, in execution order, and who saved each storage first."""

    name: str
    precision: Precision
    input: Tensor
    steps: list[Step]
    outputs: list[Tensor]

    def first_savers(self) -> dict[int, tuple[int, Tensor]]:
        """storage id -> (index of the step that saved it first, the tensor)."""
        first: dict[int, tuple[int, Tensor]] = {}
        for i, step in enumerate(self.steps):
            for tensor in step.saved:
                first.setdefault(tensor.id, (i, tensor))
        return first

    def saved_by_step(self) -> list[Bytes]:
        """Bytes each step saves first (activations, input, statistics, masks; no parameters)."""
        out = [ZERO] * len(self.steps)
        for i, tensor in self.first_savers().values():
            out[i] = out[i] + tensor.nbytes
        return out

    def saved_by_path(self) -> dict[str, Bytes]:
        return {step.path: b for step, b in zip(self.steps, self.saved_by_step())}

    def saved_by_module(self, batch: int) -> dict[str, int]:
        """Bytes saved at `batch` per torch module path, autocast weight copies included: the basis of
        the measurement (a merge row `<block>.concat|add|mul` is its block's module)."""
        casts = ELEMENT_BYTES[self.precision.dtype]
        out: dict[str, int] = {}
        for step, saved in zip(self.steps, self.saved_by_step()):
            out[step.path] = out.get(step.path, 0) + saved.at(batch) + step.weight_casts * casts
        return out

    def saved(self) -> Bytes:
        return total(tensor.nbytes for _, tensor in self.first_savers().values())

    def weight_casts(self) -> Bytes:
        return Bytes(0, sum(s.weight_casts for s in self.steps) * ELEMENT_BYTES[self.precision.dtype])

    def last_reads(self) -> dict[int, int]:
        """storage id -> index of the last step that reads it (outputs: one past the end)."""
        last: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for tensor in step.reads:
                last[tensor.id] = i
        for tensor in self.outputs:
            last[tensor.id] = len(self.steps)
        return last


def trace(net: Net | Graph, input: Shape | None = None, precision: Precision = Precision()) -> Trace:
    """Record the forward pass of `net` under `precision`.

    >>> from cnncost import Net, Conv, ReLU
    >>> t = trace(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU()]))
    >>> [(s.path, s.saved[0].per_sample) for s in t.steps]
    [('conv0', 192), ('relu1', 144)]
    """
    graph = net if isinstance(net, Graph) else compile(net, input)
    shape = graph.nodes[0].output_shape
    ids = itertools.count()
    x0 = Tensor(next(ids), numel(shape), 0, precision.param_dtype, requires_grad=False)
    tensors = [x0]
    steps: list[Step] = []
    for node in graph.nodes[1:]:
        layer = node.layer
        reads = [tensors[i] for i in node.inputs]
        step = Step(node.path, node.type, reads, params=node.params)
        builder = StepBuilder(step, precision, ids, grad=node.params > 0 or any(t.requires_grad for t in reads))
        try:
            if layer.arity is None:
                out = layer.autograd(reads, node.input_shapes, node.output_shape, builder)
            else:
                out = layer.autograd(reads[0], node.input_shape, node.output_shape, builder)
        except NotImplementedError as error:
            raise CnnCostError(f"{error}; add it to the layer's class", path=node.path,
                               type_name=node.type, source=graph.source or None) from None
        step.output = out
        steps.append(step)
        tensors.append(out)
    return Trace(graph.name, precision, x0, steps, [tensors[i] for i in graph.outputs])
