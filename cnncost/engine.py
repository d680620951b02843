"""`analyze`: a net's compiled graph (`cnncost.graph`), whose nodes carry the exact per-sample
counts (batch, dtype and optimizer are applied by the cost pass, `cnncost.costs`); and how the
torch backend names a row's module."""
from __future__ import annotations

from .graph import Graph, compile
from .net import Net
from .shapes import Shape

MERGE_KINDS = ("concat", "add", "mul")  # rows `<block>.<kind>` that a block's merge emits


def module_path(path: str, type_name: str) -> str:
    """The torch module that computes a row: since merges are modules of their own, the row's path."""
    return path


def analyze(net: Net, input: Shape | None = None) -> Graph:
    """Compile `net` (or `net` at another input size): shapes and exact counts per node.

    >>> from cnncost import Net, Conv, analyze
    >>> a = analyze(Net("n", input=(3, 8, 8), layers=[Conv(out=4, kernel=3)]))
    >>> a.nodes[1].output_shape, a.nodes[1].params, a.nodes[1].macs
    ((4, 6, 6), 112, 3888)
    """
    return compile(net, input)
