"""Run a net's compiled graph once, as PyTorch would, and record per step (a leaf layer or a merge)
which tensors it reads, creates and saves for backward. What each layer saves is the layer's own
rule (`Layer.autograd`).

Storage identity is tracked, so a tensor saved by two consumers (a conv output saved by an in-place
ReLU and by the next conv) is counted once, charged to its first saver, as
`cnncost.torch_backend.measure.saved_tensors` charges it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .._gcpause import paused_gc
from ..errors import CnnCostError
from ..graph import Graph, compile
from ..net import Net
from ..shapes import Shape, numel
from .tensors import ELEMENT_BYTES, LAYOUTS, ZERO, Bytes, Precision, Tensor, total


class Step:
    """One leaf layer or merge. `weight_casts` / `cached_casts`: elements of parameters that autocast
    copies to the low dtype, saved for backward / living only in the cast cache (biases, and the
    weight of a linear whose input needs no gradient)."""

    __slots__ = ("path", "type", "reads", "output", "created", "saved", "params", "weight_casts", "cached_casts")

    def __init__(self, path: str, type: str, reads: list[Tensor], output: Tensor | None = None,
                 created: list[Tensor] | None = None, saved: list[Tensor] | None = None, params: int = 0,
                 weight_casts: int = 0, cached_casts: int = 0) -> None:
        self.path, self.type, self.reads, self.output = path, type, reads, output
        self.created = [] if created is None else created
        self.saved = [] if saved is None else saved
        self.params, self.weight_casts, self.cached_casts = params, weight_casts, cached_casts

    def __repr__(self) -> str:
        return f"Step({self.path!r}, {self.type!r}, saved={self.saved!r})"


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

    def _like(self, x: Tensor, dtype: str | None) -> Tensor:  # like(x) without a shape: the common case
        tensor = Tensor(next(self._ids), x.per_sample if x.shown is None else x.shown, 0, dtype or x.dtype, self.grad)
        self.step.created.append(tensor)
        return tensor

    def like(self, x: Tensor, shape: Shape | None = None, dtype: str | None = None) -> Tensor:
        if shape is None:
            return self._like(x, dtype)
        return self.new(numel(shape), dtype or x.dtype)

    def view(self, x: Tensor, shape: Shape | None = None, layout: str | None = None,
             strides: tuple[int, ...] | None = None) -> Tensor:
        """x's storage seen as `shape` (None: all of x): no new tensor. A slice that shows fewer
        elements than x gets `layout` ("channels" for a channel slice, "strided" for a crop; a
        slice of a crop stays strided) and its per-sample `strides` in the storage."""
        if shape is None or numel(shape) == x.elements:  # all of x: x itself, layout unchanged
            return x
        if layout not in LAYOUTS:
            raise ValueError(f"a view needs a layout, one of {', '.join(LAYOUTS)}; got {layout!r}")
        if x.layout == "strided":
            layout = "strided"
        return x.view(numel(shape), layout, strides)

    def contiguous(self, x: Tensor, shape: Shape) -> Tensor:
        """`x.contiguous()` of a `shape` map: x if contiguous, else a new copy of what it shows."""
        if x.channels_last and len(shape) == 3 and shape[0] > 1 and shape[1] * shape[2] > 1:
            return self.like(x)
        return x if x.contiguous else self.like(x)

    def reshape(self, x: Tensor, shape: Shape, from_shape: Shape) -> Tensor:
        """`x.reshape(N, *shape)` (flatten) of x, a `from_shape` map: a view where `view` can
        make one (the dimensions of size > 1 nest: each stride = the next one's x its size: a
        contiguous map, a channel slice, some crops, a channels-last map of one channel or one
        position), else a copy (PyTorch's rule)."""
        if len(from_shape) != 3 or (x.strides is None and not x.channels_last):
            return x
        kept = [(size, stride) for size, stride in zip(from_shape, x.map_strides(from_shape)) if size != 1]
        nested = all(outer == inner * size for (_, outer), (size, inner) in zip(kept, kept[1:]))
        return x if nested else self.like(x, shape)

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
        as the bias's does (`Step.cached_casts`)."""
        if self.precision.autocast:
            if weight_saved:
                self.step.weight_casts, self.step.cached_casts = weight, bias
            else:
                self.step.weight_casts, self.step.cached_casts = 0, weight + bias


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
        first = self.__dict__.get("_first_savers")
        if first is None:
            first = {}
            for i, step in enumerate(self.steps):
                for tensor in step.saved:
                    if tensor.id not in first:
                        first[tensor.id] = (i, tensor)
            self.__dict__["_first_savers"] = first
        return first

    def _saved_columns(self) -> tuple[list[int], list[int]]:
        """(per-sample bytes, fixed bytes) each step saves first."""
        per_sample, fixed = [0] * len(self.steps), [0] * len(self.steps)
        for i, tensor in self.first_savers().values():
            per_sample[i] += tensor.nbytes_per_sample
            fixed[i] += tensor.nbytes_fixed
        return per_sample, fixed

    def saved_by_step(self) -> list[Bytes]:
        """Bytes each step saves first (activations, input, statistics, masks; no parameters)."""
        return [Bytes(a, c) for a, c in zip(*self._saved_columns())]

    def saved_by_path(self) -> dict[str, Bytes]:
        return {step.path: b for step, b in zip(self.steps, self.saved_by_step())}

    def saved_by_module(self, batch: int) -> dict[str, int]:
        """Bytes saved at `batch` per torch module path, autocast weight copies included: the basis of
        the measurement (a merge row `<block>.concat|add|mul` is its block's module)."""
        casts = ELEMENT_BYTES[self.precision.dtype]
        out: dict[str, int] = {}
        for step, a, c in zip(self.steps, *self._saved_columns()):
            out[step.path] = out.get(step.path, 0) + a * batch + c + step.weight_casts * casts
        return out

    def saved(self) -> Bytes:
        per_sample = fixed = 0
        for _, tensor in self.first_savers().values():
            per_sample += tensor.nbytes_per_sample
            fixed += tensor.nbytes_fixed
        return Bytes(per_sample, fixed)

    def weight_casts(self) -> Bytes:
        return Bytes(0, sum(s.weight_casts for s in self.steps) * ELEMENT_BYTES[self.precision.dtype])

    def last_reads(self) -> dict[int, int]:
        """storage id -> index of the last step that reads it (outputs: one past the end)."""
        last = self.__dict__.get("_last_reads")
        if last is None:
            last = {}
            for i, step in enumerate(self.steps):
                for tensor in step.reads:
                    last[tensor.id] = i
            for tensor in self.outputs:
                last[tensor.id] = len(self.steps)
            self.__dict__["_last_reads"] = last
        return last


def trace(net: Net | Graph, input: Shape | None = None, precision: Precision = Precision()) -> Trace:
    """Record the forward pass of `net` under `precision` (computed once per compiled graph and
    precision, then shared: treat a Trace as read-only).

    >>> from cnncost import Net, Conv, ReLU
    >>> t = trace(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU()]))
    >>> [(s.path, s.saved[0].per_sample) for s in t.steps]
    [('conv0', 192), ('relu1', 144)]
    """
    graph = net if isinstance(net, Graph) else compile(net, input)
    cache: dict[Precision, Trace] = graph.__dict__.setdefault("_traces", {})
    traced = cache.get(precision)
    if traced is None:  # a trace is a pure function of the graph and the precision: kept with the graph
        traced = _trace(graph, precision)
        if len(cache) >= 8:
            cache.clear()
        cache[precision] = traced
    return traced


def _trace(graph: Graph, precision: Precision) -> Trace:
    shape = graph.nodes[0].output_shape
    ids = itertools.count()
    x0 = Tensor(next(ids), numel(shape), 0, precision.param_dtype, requires_grad=False)
    tensors = [x0]
    steps: list[Step] = []
    builder = StepBuilder(Step("", "", []), precision, ids)
    with paused_gc():  # tens of thousands of small objects and no cycles: the collector only costs time
        for node in graph.nodes[1:]:
            layer = node.layer
            inputs = node.inputs
            if len(inputs) == 1:
                x = tensors[inputs[0]]
                reads = [x]
                grad = node.params > 0 or x.requires_grad
            else:
                reads = [tensors[i] for i in inputs]
                grad = node.params > 0 or any(t.requires_grad for t in reads)
            step = Step(node.path, node.type, reads, None, [], [], node.params)
            builder.step, builder.grad = step, grad
            try:
                if layer.arity is None:
                    out = layer.autograd(reads, node.input_shapes, node.output_shape, builder)
                else:
                    out = layer.autograd(reads[0], node.input_shape, node.output_shape, builder)
            except NotImplementedError as error:
                raise CnnCostError(f"{error}; add it to the layer's class", path=node.path,
                                   type_name=node.type, source=graph.source or None) from None
            if len(node.output_shape) == 3 and all(out.id != r.id for r in reads):
                c, h, w = node.output_shape
                out.channels_last = layer.keeps_channels_last(reads, node.input_shape)
            step.output = out
            steps.append(step)
            tensors.append(out)
    return Trace(graph.name, precision, x0, steps, [tensors[i] for i in graph.outputs])
