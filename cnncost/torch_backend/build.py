"""A cnncost spec as an `nn.Module` whose module paths are the graph's row paths.

Each node of the compiled graph gets the module its layer type's rule builds (`layer_modules.py`);
`Network` places it at the node's path and runs the nodes in the graph's order.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

from ..api import load
from ..errors import CnnCostError
from ..graph import Graph, compile
from ..net import Net
from ..shapes import Shape
from .layer_modules import module_for
from .modules import Network
from .own_modules import Matmul as MatmulModule
from ..layers.computed import Computed

__all__ = ["build", "build_graph", "Network"]


def build_graph(graph: Graph, spec: object = None) -> Network:
    plan = []
    for node in graph.nodes[1:]:
        layer = node.layer
        assert layer is not None  # every node after the inputs runs a layer
        try:
            module = module_for(layer, node.input_shapes if layer.arity is None else node.input_shape)
        except CnnCostError as error:
            raise error.at(path=node.path, source=graph.source or None) from None
        if isinstance(module, MatmulModule) and _made_once(graph.nodes[node.inputs[1]].layer):
            module.once = True  # b made once per forward: the batch folds into a's rows
        plan.append((node.path, module, node.inputs))
    return Network(spec, plan, graph.outputs)


def _made_once(layer: object) -> bool:
    """A tensor made once per forward for the batch (a `computed` row of op tensor)."""
    return isinstance(layer, Computed) and layer.op == "tensor"


def build(arch: str | Net, *, input: Shape | None = None, init: bool = True) -> Network:
    """An `nn.Module` for a built-in name, a YAML file or a Net; module paths = row paths.

    `init=False` skips PyTorch's weight initialisation (parameters are zeros; much faster for
    large nets when only shapes and counts matter).

    >>> from cnncost.torch_backend import build
    >>> model = build("inception")
    >>> [name for name, _ in model.named_modules()][:4]
    ['', 'module', 'module.branch1', 'module.branch1.conv']
    """
    net = load(arch)
    if input is not None:
        net = net.with_input(input)
    graph = compile(net)
    if init:
        return build_graph(graph, net)
    with torch.device("meta"):
        model = build_graph(graph, net)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            tensor.zero_()
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()
    return model
