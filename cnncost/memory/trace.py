"""Walk a net once, as PyTorch would run it, and record per step (a leaf layer or a block's merge)
which tensors it reads, creates and saves for backward.

Storage identity is tracked, so a tensor saved by two consumers (a conv output saved by an in-place
ReLU and by the next conv) is counted once, charged to its first saver, as
`cnncost.torch_backend.measure.saved_tensors` charges it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ..engine import module_path
from ..errors import CnnCostError
from ..layers.base import Block, Layer, Node
from ..net import Net, child_name, propagate_named
from ..shapes import Shape, numel
from .tensors import ELEMENT_BYTES, ZERO, Bytes, Precision, Tensor, total


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
    """What a rule in `saved.py` works with: make tensors, save them, cast them."""

    def __init__(self, step: Step, precision: Precision, ids: itertools.count, grad: bool = True) -> None:
        self.step, self.precision, self._ids, self.grad = step, precision, ids, grad

    def new(self, per_sample: int, dtype: str, fixed: int = 0) -> Tensor:
        tensor = Tensor(next(self._ids), per_sample, fixed, dtype, self.grad)
        self.step.created.append(tensor)
        return tensor

    def like(self, x: Tensor, shape: Shape | None = None, dtype: str | None = None) -> Tensor:
        return self.new(x.per_sample if shape is None else numel(shape), dtype or x.dtype)

    def cast(self, x: Tensor, dtype: str) -> Tensor:
        """x in `dtype`: x itself, or a new copy (autocast does not cache casts of activations)."""
        return x if x.dtype == dtype else self.like(x, dtype=dtype)

    def save(self, *tensors: Tensor) -> None:
        """Kept for backward, unless nothing here needs a gradient (autograd records no node)."""
        if self.grad:
            self.step.saved.extend(tensors)

    def cast_params(self, weight: int, bias: int) -> None:
        if self.precision.autocast:
            self.step.weight_casts, self.step.bias_casts = weight, bias


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
            module = module_path(step.path, step.type)
            out[module] = out.get(module, 0) + saved.at(batch) + step.weight_casts * casts
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


class _Flow(tuple):
    """A shape that also carries the tensor it describes through `Block.propagate`."""

    tensor: Tensor


def _flow(shape: Shape, tensor: Tensor) -> _Flow:
    flow = _Flow(shape)
    flow.tensor = tensor
    return flow


def trace(net: Net, input: Shape | None = None, precision: Precision = Precision()) -> Trace:
    """Record the forward pass of `net` under `precision`.

    >>> from cnncost import Net, Conv, ReLU
    >>> t = trace(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3), ReLU()]))
    >>> [(s.path, s.saved[0].per_sample) for s in t.steps]
    [('conv0', 192), ('relu1', 144)]
    """
    from .saved import leaf_rule, merge_rule, keeps_output
    if input is not None:
        net = net.with_input(input)  # validates: positive integers
    shape = net.input
    ids = itertools.count()
    x0 = Tensor(next(ids), numel(shape), 0, precision.param_dtype, requires_grad=False)
    steps: list[Step] = []
    outputs: list[Tensor] = []

    def visit(node: Node, x: Shape, path: str) -> _Flow:
        if not isinstance(x, _Flow):
            raise CnnCostError("the memory model lost track of a tensor", path=path, type_name=node.type_name)
        if isinstance(node, Layer):
            step = Step(path, node.type_name, [x.tensor], params=node.params(x))
            y = node.out_shape(x)
            builder = StepBuilder(step, precision, ids, grad=x.tensor.requires_grad or step.params > 0)
            step.output = leaf_rule(type(node))(node, x.tensor, tuple(x), y, builder)
            steps.append(step)
            return _flow(y, step.output)
        if isinstance(node, Block):
            return visit_block(node, x, path)
        raise CnnCostError(f"{type(node).__name__} is neither a layer nor a block", path=path)

    def visit_block(block: Block, x: _Flow, path: str) -> _Flow:
        outs, merged = [], []

        def visit_child(child: Node, shape: Shape, name: str) -> Shape:
            out = visit(child, shape, f"{path}.{name}")
            outs.append(out.tensor)
            return out

        def merge(kind: str, y: Shape) -> None:
            rule = merge_rule(type(block))
            step = Step(f"{path}.{kind}", kind, [])
            grad = x.tensor.requires_grad or any(t.requires_grad for t in outs)
            step.output = rule(block, x.tensor, outs, y, StepBuilder(step, precision, ids, grad))
            steps.append(step)
            merged.append(_flow(y, step.output))

        y = propagate_named(block, x, visit_child, merge)
        if keeps_output(type(block)) and outs:
            outputs.append(outs[-1])
        if merged:
            return merged[-1]
        if not isinstance(y, _Flow):
            raise CnnCostError("the memory model lost track of a block's output", path=path,
                               type_name=block.type_name)
        return y

    y = _flow(shape, x0)
    for i, node in enumerate(net.layers):
        y = visit(node, y, child_name(node, i))
    return Trace(net.name, precision, x0, steps, [y.tensor] + outputs)
