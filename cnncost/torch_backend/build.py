"""A cnncost spec as an `nn.Module` whose module paths are the engine's layer paths.

One small builder per node class, in `BUILDERS`. A builder gets the node, its per-sample input
shape and a `build_child` callback, and returns `(module, per-sample output shape)`. Blocks build
their children through the node's own `propagate`, so children are visited, numbered and named
exactly as the engine names them (`cnncost.net.propagate_named`).
"""
from __future__ import annotations

import itertools
from typing import Callable

import torch
from torch import nn

from ..api import load
from ..errors import CnnCostError
from ..layers import (GELU, LRN, AdaptiveAvgPool, AvgPool, BatchNorm, Concat, Conv, Dropout, Flatten,
                      Gate, GlobalAvgPool, Hardswish, LeakyReLU, Linear, MaxPool, ReLU, ReLU6, Repeat,
                      Residual, Sequential, Side, Sigmoid, SiLU, SqueezeExcite, Tanh)
from ..layers.base import Node
from ..net import Net, child_name, propagate_named
from ..shapes import Shape

BuildChild = Callable[[Node, Shape], tuple[nn.Module, Shape]]
Builder = Callable[[Node, Shape, BuildChild], tuple[nn.Module, Shape]]


def attach(parent: nn.Module, name: str, child: nn.Module) -> None:
    """Register `child` under any spec name, even one that shadows an nn.Module attribute
    ('train', 'type'...): modules are looked up through `_modules`, never as attributes."""
    if name in parent._modules:
        raise CnnCostError(f"two layers are named '{name}' inside one block")
    parent._modules[name] = child


class Container(nn.Module):
    """Children in order; `forward` is the block's data flow."""

    def __init__(self, names: list[str], modules: list[nn.Module]) -> None:
        super().__init__()
        for name, module in zip(names, modules):
            attach(self, name, module)

    def run(self, x: torch.Tensor, names: list[str] | None = None) -> torch.Tensor:
        for name in self._modules if names is None else names:
            x = self._modules[name](x)
        return x


class SequentialModule(Container):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


class ConcatModule(Container):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self._modules.values()], dim=1)


class ResidualModule(Container):
    """shortcut(x) + scale * layers(x); the shortcut, when there is one, is the last child."""

    def __init__(self, names: list[str], modules: list[nn.Module], has_shortcut: bool, scale: float) -> None:
        super().__init__(names, modules)
        self.layer_names = names[:-1] if has_shortcut else names
        self.shortcut_name = names[-1] if has_shortcut else None
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.run(x, self.layer_names)
        skip = self._modules[self.shortcut_name](x) if self.shortcut_name else x
        return skip + (y if self.scale == 1.0 else self.scale * y)


class GateModule(Container):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.run(x)


class SideModule(Container):
    """Runs its layers on x and hands their output to the network as an extra output."""

    sink: list[torch.Tensor] | None = None  # the owning Network's side-output list

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.run(x)
        if self.sink is not None:
            self.sink.append(y)
        return x


class Network(SequentialModule):
    """The whole net. `forward` returns the main output; `forward_all` adds the side outputs
    (auxiliary classifiers) in the order they were computed."""

    def __init__(self, net: Net, names: list[str], modules: list[nn.Module]) -> None:
        super().__init__(names, modules)
        self.spec = net
        self.side_outputs: list[torch.Tensor] = []
        for module in self.modules():
            if isinstance(module, SideModule):
                module.sink = self.side_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.side_outputs.clear()
        return self.run(x)

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        main = self(x)
        outputs = [main, *self.side_outputs]
        self.side_outputs.clear()
        return outputs


# --- builders: leaves -------------------------------------------------------------------------

def _conv(node: Conv, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
    return nn.Conv2d(x[0], node.out, node.kernel, node.stride, node.padding, node.dilation,
                     node.groups, node.bias), node.out_shape(x)


def _maxpool(node: MaxPool, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
    return nn.MaxPool2d(node.kernel, node.effective_stride, node.padding, ceil_mode=node.ceil_mode), \
        node.out_shape(x)


def _avgpool(node: AvgPool, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
    return nn.AvgPool2d(node.kernel, node.effective_stride, node.padding, ceil_mode=node.ceil_mode,
                        count_include_pad=node.count_include_pad), node.out_shape(x)


def _batchnorm(node: BatchNorm, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
    kind = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
    return kind(x[0], eps=node.eps, momentum=node.momentum, affine=node.affine), node.out_shape(x)


def _linear(node: Linear, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
    return nn.Linear(x[0], node.out, bias=node.bias), node.out_shape(x)


def _simple(factory: Callable[[Node], nn.Module]) -> Builder:
    """A builder for a leaf whose module does not depend on the input shape."""
    def build(node: Node, x: Shape, _: BuildChild) -> tuple[nn.Module, Shape]:
        return factory(node), node.out_shape(x)  # type: ignore[attr-defined]
    return build


# --- builders: blocks -------------------------------------------------------------------------

def _children(block: Node, x: Shape, build_child: BuildChild) -> tuple[list[str], list[nn.Module], Shape]:
    """Build a block's children in the engine's visiting order, with the engine's names."""
    names: list[str] = []
    modules: list[nn.Module] = []

    def visit(child: Node, shape: Shape, name: str) -> Shape:
        module, y = build_child(child, shape)
        names.append(name)
        modules.append(module)
        return y

    y = propagate_named(block, x, visit, lambda kind, shape: None)  # type: ignore[arg-type]
    return names, modules, y


def _container(cls: type[Container]) -> Builder:
    def build(node: Node, x: Shape, build_child: BuildChild) -> tuple[nn.Module, Shape]:
        names, modules, y = _children(node, x, build_child)
        return cls(names, modules), y
    return build


def _residual(node: Residual, x: Shape, build_child: BuildChild) -> tuple[nn.Module, Shape]:
    names, modules, y = _children(node, x, build_child)
    return ResidualModule(names, modules, bool(node.shortcut), node.scale), y


def _se(node: SqueezeExcite, x: Shape, build_child: BuildChild) -> tuple[nn.Module, Shape]:
    return _container(GateModule)(node.expand(x[0]), x, build_child)


BUILDERS: dict[type[Node], Builder] = {
    Conv: _conv,
    MaxPool: _maxpool,
    AvgPool: _avgpool,
    AdaptiveAvgPool: _simple(lambda n: nn.AdaptiveAvgPool2d(n.output)),
    GlobalAvgPool: _simple(lambda n: nn.AdaptiveAvgPool2d(1)),
    BatchNorm: _batchnorm,
    LRN: _simple(lambda n: nn.LocalResponseNorm(n.size, n.alpha, n.beta, n.k)),
    ReLU: _simple(lambda n: nn.ReLU(inplace=n.inplace)),
    ReLU6: _simple(lambda n: nn.ReLU6(inplace=n.inplace)),
    LeakyReLU: _simple(lambda n: nn.LeakyReLU(n.negative_slope, inplace=n.inplace)),
    SiLU: _simple(lambda n: nn.SiLU(inplace=n.inplace)),
    Hardswish: _simple(lambda n: nn.Hardswish(inplace=n.inplace)),
    Sigmoid: _simple(lambda n: nn.Sigmoid()),
    Tanh: _simple(lambda n: nn.Tanh()),
    GELU: _simple(lambda n: nn.GELU()),
    Dropout: _simple(lambda n: nn.Dropout(n.p, inplace=n.inplace)),
    Flatten: _simple(lambda n: nn.Flatten()),
    Linear: _linear,
    Sequential: _container(SequentialModule),
    Repeat: _container(SequentialModule),
    Concat: _container(ConcatModule),
    Residual: _residual,
    Gate: _container(GateModule),
    SqueezeExcite: _se,
    Side: _container(SideModule),
}


def builder_for(node_type: type[Node]) -> Builder:
    """The builder registered for a node class; a missing one is a named error."""
    builder = BUILDERS.get(node_type)
    if builder is None:
        raise CnnCostError(f"no torch builder for layer type '{node_type.type_name}'; "
                           "add one in cnncost/torch_backend/build.py")
    return builder


def _build_node(node: Node, x: Shape) -> tuple[nn.Module, Shape]:
    return builder_for(type(node))(node, x, _build_node)


def build(arch: str | Net, *, input: Shape | None = None, init: bool = True) -> Network:
    """An `nn.Module` for a built-in name, a YAML file or a Net; leaf module paths = engine paths.

    `init=False` skips PyTorch's weight initialisation (parameters are zeros; much faster for
    large nets when only shapes and counts matter).

    >>> from cnncost.torch_backend import build
    >>> model = build("inception")
    >>> [name for name, _ in model.named_modules()][:4]
    ['', 'module', 'module.branch1', 'module.branch1.conv']
    """
    net = load(arch)
    if input is not None:
        net = net.with_input(tuple(input))
    if init:
        return _build_network(net)
    with torch.device("meta"):
        model = _build_network(net)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            tensor.zero_()
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()
    return model


def _build_network(net: Net) -> Network:
    names, modules = [], []
    x = net.input
    for i, node in enumerate(net.layers):
        module, x = _build_node(node, x)
        names.append(child_name(node, i))
        modules.append(module)
    return Network(net, names, modules)
