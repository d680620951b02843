"""Run a net's compiled graph once, as PyTorch would, and record per step (a leaf layer or a merge)
which tensors it reads, creates and saves for backward. What each layer saves is its type's rule
(`rules.py`); whether its output is channels last, `layout.py`.

Frozen layers (`--freeze`, `frozen_paths`): their parameters do not require grad, so a step
records nothing for backward unless an input requires grad, and the rules save only what the
input's gradient needs (`StepBuilder.trainable`). A trace is made per (precision, frozen set).

Storage identity is tracked, so a tensor saved by two consumers (a conv output saved by an in-place
ReLU and by the next conv) is counted once, charged to its first saver, as
`cnncost.torch_backend.measure.saved_tensors` charges it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from .._gcpause import paused_gc
from ..errors import CnnCostError
from ..graph import Graph, compile
from ..layers.base import Layer
from ..layers.conv import maps
from ..layers.embedding import ids_inputs
from ..layers.strides import BATCH, contiguous, is_contiguous, like_channels_last
from ..net import Net
from ..shapes import Shape, numel
from .builder import Step, StepBuilder
from .layout import keeps_channels_last
from .rules import rule_for
from .tensors import ELEMENT_BYTES, Bytes, Precision, Tensor

RUNNING_STATS = ("batchnorm", "instance_norm")  # norms that may hold running statistics (buffers)


@dataclass
class Trace:
    """The steps of one forward pass, in execution order, and who saved each storage first."""

    name: str
    precision: Precision
    input: Tensor
    steps: list[Step]
    outputs: list[Tensor]
    more_inputs: list[Tensor] = field(default_factory=list)  # the tensors of a net's further inputs
    frozen: frozenset[str] = frozenset()  # paths of the nodes whose parameters are frozen
    # Computed on first use (a Trace is read-only once made): see first_savers, last_reads and
    # grad_moments.summed_readers.
    _first_savers: dict[int, tuple[int, Tensor]] | None = field(default=None, init=False, repr=False, compare=False)
    _last_reads: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)
    _summed_readers: dict[int, list[tuple[int, int, bool]]] | None = field(default=None, init=False, repr=False,
                                                                          compare=False)
    # The step timelines `step.step_memory` made from this trace, by setup.
    step_memories: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def inputs(self) -> list[Tensor]:
        """Every input tensor of the net, the first first (each counted as input batch)."""
        return [self.input, *self.more_inputs]

    def buffer_sizes(self) -> list[int]:
        """Bytes of every buffer tensor, in registration order: each norm with running statistics
        holds its running mean and variance (the parameters' dtype) and num_batches_tracked (int64)."""
        size = ELEMENT_BYTES[self.precision.param_dtype]
        return [b for s in self.steps if s.running_stats
                for b in (s.running_stats * size, s.running_stats * size, ELEMENT_BYTES["int64"])]

    def first_savers(self) -> dict[int, tuple[int, Tensor]]:
        """storage id -> (index of the step that saved it first, the tensor)."""
        first = self._first_savers
        if first is None:
            first = {}
            for i, step in enumerate(self.steps):
                for tensor in step.saved:
                    if tensor.id not in first:
                        first[tensor.id] = (i, tensor)
            self._first_savers = first
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
        last = self._last_reads
        if last is None:
            last = {}
            for i, step in enumerate(self.steps):
                for tensor in step.reads:
                    last[tensor.id] = i
            for tensor in self.outputs:
                last[tensor.id] = len(self.steps)
            self._last_reads = last
        return last


def frozen_paths(graph: Graph, patterns: tuple[str, ...]) -> frozenset[str]:
    """The paths of the nodes with parameters that `--freeze` patterns match (a pattern matching
    no layer is an error: `check_patterns`)."""
    if not patterns:
        return frozenset()
    from ..counting.training import check_patterns, frozen_nodes
    check_patterns(graph, patterns)
    return frozenset(n.path for n, f in zip(graph.nodes, frozen_nodes(graph, patterns)) if f)


def trace(net: Net | Graph, input: Shape | None = None, precision: Precision = Precision(),
          frozen: frozenset[str] = frozenset()) -> Trace:
    """Record the forward pass of `net` under `precision` with the layers at `frozen` paths
    frozen (computed once per compiled graph, precision and frozen set, then shared: treat a
    Trace as read-only).

    >>> from cnncost import Net, Conv, ReLU
    >>> t = trace(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU()]))
    >>> [(s.path, s.saved[0].per_sample) for s in t.steps]
    [('conv0', 192), ('relu1', 144)]
    """
    graph = net if isinstance(net, Graph) else compile(net, input)
    traces = graph.memo.setdefault("memory traces", {})
    key = (precision, frozen) if frozen else precision
    traced = traces.get(key)
    if traced is None:  # a trace is a pure function of the graph, the precision and the frozen set: kept with the graph
        if len(traces) >= 8:
            traces.clear()
        traced = traces[key] = _trace(graph, precision, frozen)
    return traced


def _keep_order(layer: Layer, out: Tensor, reads: list[Tensor], shapes: tuple[Shape, ...], y: Shape) -> None:
    """The new tensor of an op reading a strided view (a permute, a slice) is not always
    contiguous (`Layer.new_layout`): an element-wise op writes it in the order of its inputs'
    strides, cat and stack in the memory format the inputs suggest. A later reshape may then
    view it, and `.contiguous()` copies it."""
    if any(out.id == r.id for r in reads):
        return
    layout = layer.new_layout(shapes, [r.batch_layout(s) for s, r in zip(shapes, reads)], y)
    if layout is None:  # the layer's own layout rule (`layout.py`: channels last or not)
        return
    out.channels_last = len(y) == 3 and like_channels_last((BATCH, *y), layout)
    if layout != contiguous(y):  # (the strides of size-1 dims matter too: to the format cat suggests)
        out.strides, out.layout = layout[1:], "contiguous" if is_contiguous(y, layout) else "strided"


def _trace(graph: Graph, precision: Precision, frozen: frozenset[str] = frozenset()) -> Trace:
    shape = graph.nodes[0].output_shape
    ids = itertools.count()
    token_ids = ids_inputs(graph)  # inputs of integer ids (int64): read by embeddings only
    x0 = Tensor(next(ids), numel(shape), 0, "int64" if 0 in token_ids else precision.param_dtype, requires_grad=False)
    tensors = [x0]
    steps: list[Step] = []
    builder = StepBuilder(Step("", "", []), precision, ids)
    with paused_gc():  # tens of thousands of small objects and no cycles: the collector only costs time
        for node in graph.nodes[1:]:
            layer = node.layer
            assert layer is not None  # every node past the input has one
            inputs = node.inputs
            # --freeze: a frozen node's parameters (a shared call's: its owner's) need no gradient
            trainable = (getattr(layer, "of", node.path) if node.type == "shared" else node.path) not in frozen
            if len(inputs) == 1:
                x = tensors[inputs[0]]
                reads = [x]
                grad = node.params > 0 and trainable or x.requires_grad
            else:
                reads = [tensors[i] for i in inputs]
                grad = node.params > 0 and trainable or any(t.requires_grad for t in reads)
            step = Step(node.path, node.type, reads, None, [], [], node.params)
            step.frozen = not trainable
            step.layer = layer  # (memory/inference.py: an add's scale)
            if node.type in RUNNING_STATS and getattr(layer, "track_running_stats", False):
                step.running_stats = maps(layer, node.input_shape)[0]  # a folded norm's channels, not its maps
            builder.step, builder.grad, builder.trainable = step, grad, trainable
            try:
                rule = rule_for(layer)
            except CnnCostError as error:
                raise error.at(path=node.path, source=graph.source or None) from None
            if layer.arity is None:
                out = rule(layer, reads, node.input_shapes, node.output_shape, builder)
            else:
                out = rule(layer, reads[0], node.input_shape, node.output_shape, builder)
            if len(node.output_shape) == 3 and reads and all(out.id != r.id for r in reads):
                out.channels_last = keeps_channels_last(layer, reads, node.input_shape)
            if out.strides is None and any(r.strides is not None for r in reads):
                _keep_order(layer, out, reads, node.input_shapes, node.output_shape)
            if len(tensors) in token_ids:  # a further input of ids
                out = Tensor(out.id, out.per_sample, 0, "int64", requires_grad=False)
            step.output = out
            steps.append(step)
            tensors.append(out)
    return Trace(graph.name, precision, x0, steps, [tensors[i] for i in graph.outputs],
                 [tensors[i] for i in graph.inputs[1:]], frozen)
