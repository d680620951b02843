"""Shape propagation: walk a Net once and record, per leaf layer and per block, the exact
per-sample counts. Batch, dtype and optimizer are applied later, in `report`."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import CnnCostError
from .layers.base import Block, Layer, Node
from .net import Net, child_name, propagate_named
from .shapes import Shape, numel


MERGE_KINDS = ("concat", "add", "mul")  # rows `<block>.<kind>` that a block's merge emits


def module_path(path: str, type_name: str) -> str:
    """The block a merge row belongs to; any other row is its own module."""
    return path.rsplit(".", 1)[0] if type_name in MERGE_KINDS else path


@dataclass(frozen=True)
class LayerCost:
    """One leaf row, per sample. `activations` counts elements of tensors the layer allocates."""

    path: str
    type: str
    attrs: str
    input_shape: Shape
    output_shape: Shape
    activations: int
    params: int
    macs: int
    tabulated: bool = True  # False: the lecture's tables fold this layer into the row before it

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass(frozen=True)
class BlockSpan:
    """A block and the leaves `first:stop` it contains."""

    path: str
    type: str
    input_shape: Shape
    output_shape: Shape
    first: int
    stop: int
    grouping: bool = True  # False for multi-branch modules (concat, residual, gate)

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass(frozen=True)
class Analysis:
    """Everything the engine knows about a net; leaf 0 is the input."""

    name: str
    leaves: tuple[LayerCost, ...]
    blocks: tuple[BlockSpan, ...]
    output_shape: Shape  # not the last leaf's: a net may end in a side branch


def analyze(net: Net, input: Shape | None = None) -> Analysis:
    """Propagate shapes through `net` (or through it at another input size).

    >>> from cnncost import Net, Conv, analyze
    >>> a = analyze(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3)]))
    >>> a.leaves[1].output_shape, a.leaves[1].params, a.leaves[1].macs
    ((4, 6, 6), 112, 3888)
    """
    if input is not None:
        net = net.with_input(input)  # validates: positive integers
    shape = net.input
    walker = _Walker(net.source)
    walker.leaves.append(LayerCost("input", "input", "", shape, shape, numel(shape), 0, 0))
    x = shape
    for i, node in enumerate(net.layers):
        x = walker.visit(node, x, child_name(node, i))
    return Analysis(net.name, tuple(walker.leaves), tuple(walker.blocks), x)


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source or None
        self.leaves: list[LayerCost] = []
        self.blocks: list[BlockSpan] = []
        self.paths: set[str] = {"input"}

    def visit(self, node: Node, x: Shape, path: str) -> Shape:
        if path in self.paths:
            raise CnnCostError("two layers have this name; names must be unique within a block",
                               path=path, type_name=node.type_name, source=self.source)
        self.paths.add(path)
        try:
            if isinstance(node, Layer):
                return self._leaf(node, x, path)
            if isinstance(node, Block):
                return self._block(node, x, path)
        except CnnCostError as error:
            if error.path is None or error.path == node.name:  # raised by this node: give it its full path
                error.path = path
            raise error.at(type_name=node.type_name, source=self.source) from None
        raise CnnCostError(f"{type(node).__name__} is neither a layer nor a block", path=path)

    def _leaf(self, layer: Layer, x: Shape, path: str) -> Shape:
        y = layer.out_shape(x)
        made = numel(y) if layer.creates_tensor() else 0
        self.leaves.append(LayerCost(path, layer.type_name, layer.describe(), x, y, made,
                                     layer.params(x), layer.macs(x, y), layer.tabulated))
        return y

    def _block(self, block: Block, x: Shape, path: str) -> Shape:
        first = len(self.leaves)

        def merge(kind: str, y: Shape) -> None:
            merge_path = f"{path}.{kind}"
            if merge_path in self.paths:
                raise CnnCostError(f"a layer inside is named '{kind}', the name of this block's {kind} row; "
                                   "rename it", path=path, type_name=block.type_name, source=self.source)
            self.paths.add(merge_path)
            self.leaves.append(LayerCost(merge_path, kind, "", x, y, numel(y), 0, 0))

        y = propagate_named(block, x, lambda child, shape, name: self.visit(child, shape, f"{path}.{name}"),
                            merge)
        self.blocks.append(BlockSpan(path, block.type_name, x, y, first, len(self.leaves), block.grouping))
        return y
