"""How each graph node is computed in PyTorch: the fact every hook-based counter depends on.

A FLOP counter never sees a cnncost node; it sees an `nn.Module` whose forward hook fires, a
patched `torch.nn.functional` call, an aten operator in a trace, or nothing at all (a Python `+`,
`x.mean()`, a parameter multiplied in its parent's forward). Which one a node is depends on how the
model was written, not on the network: torchvision's GoogLeNet calls `F.relu`, its ResNet has
`nn.ReLU` modules; timm fuses batch norm and activation into one `BatchNormAct2d`. `Impl` records
that fact per node; `impls(graph, profile)` gives one per node, from the layer's own module (what
`cnncost check` builds) unless the architecture's profile (`profiles.py`) says otherwise.

Spelling of an implementation (the profile tables use it):

- `nn.Conv2d`, `nn.ReLU`, ...: a `torch.nn` module of exactly that class;
- `tv.LayerNorm2d`, `timm.BatchNormAct2d`, `timm.Sigmoid`, `cnncost.LayerScale`, ...: a module of a
  library's own class (`KNOWN` says which torch class it subclasses and whether it has children);
- `nn.Linear@nhwc`: a linear layer applied to a channels-last map (ConvNeXt's 1x1 convolutions);
- `nn.Dropout@p0`: a dropout module built with p = 0 (timm's default `drop_rate`) where the twin
  keeps the paper's rate;
- `F.relu`, `F.max_pool2d`, `F.avg_pool2d`, `F.adaptive_avg_pool2d`, `F.interpolate`, ...: a call
  of `torch.nn.functional` inside the parent module's forward;
- `mean`: `x.mean((2, 3))` (a tensor method: no module, no `F` call, aten `mean`);
- `op`: a Python operator or torch function no counter formula covers (`+`, `*`, `torch.cat`,
  views, `torch.flatten`);
- `param`: a parameter of the parent module multiplied in the parent's forward (torchvision's
  ConvNeXt layer scale): its parameters belong to a module with children.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..graph import Graph, GraphNode
    from .profiles import Profile


@dataclass(frozen=True)
class Impl:
    """One node's implementation. `kind`: module, F (a `torch.nn.functional` call), method, op or
    param. `cls`: the spelled name (`nn.ReLU`, `F.relu`...). `base`: the `torch.nn` class it is
    an instance of (for counters that test `isinstance`), None if none. `leaf`: a module without
    children. `nhwc`: a linear layer on a channels-last map. `p0`: a dropout module the reference
    builds with p = 0 (timm's default drop_rate) where the twin keeps the paper's rate."""

    kind: str
    cls: str
    base: str | None = None
    leaf: bool = True
    nhwc: bool = False
    p0: bool = False
    name: str = field(init=False, compare=False)  # the class or function name without its prefix: Conv2d, relu

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.cls.rpartition(".")[2])

    def is_nn(self, *names: str) -> bool:
        """Exactly a `torch.nn` module of one of these classes (what `type(m) in MAPPING` tests)."""
        return self.kind == "module" and self.cls.startswith("nn.") and self.name in names

    def isinstance_of(self, *names: str) -> bool:
        """An instance of one of these `torch.nn` classes, subclasses included."""
        return self.kind == "module" and self.base in names

    def is_function(self, *names: str) -> bool:
        return self.kind == "F" and self.name in names

    @property
    def owns_params(self) -> bool:
        """Its parameters sit on a leaf module (what per-leaf counters add up)."""
        return self.kind == "module" and self.leaf


# Library classes: the torch.nn class each subclasses (None: a plain nn.Module) and whether it has children.
KNOWN: dict[str, tuple[str | None, bool]] = {
    "tv.LayerNorm2d": ("LayerNorm", True),          # torchvision.models.convnext.LayerNorm2d
    "cnncost.LayerNorm2d": ("LayerNorm", True),     # cnncost.layers.torch_modules.LayerNorm2d
    "timm.BatchNormAct2d": ("BatchNorm2d", False),  # timm.layers.norm_act.BatchNormAct2d: children drop, act
    "timm.Sigmoid": (None, True),                   # timm.layers.activations.Sigmoid (not nn.Sigmoid)
    "tv.StochasticDepth": (None, True),
    "tv.Permute": (None, True),
}
# What F.* / method / op spellings stand for.
KINDS = {"F": "F", "mean": "method", "op": "op", "param": "param"}


@lru_cache(maxsize=None)
def parse(spec: str) -> Impl:
    """`nn.ReLU` -> a module; `F.relu` -> a functional call; `mean`, `op`, `param`; a library class;
    suffixes `@nhwc` (a linear on a channels-last map) and `@p0` (a dropout built with p = 0)."""
    spec, *flags = spec.split("@")
    unknown = set(flags) - {"nhwc", "p0"}
    if unknown:
        raise ValueError(f"unknown implementation flag(s) {sorted(unknown)} in '{spec}'")
    nhwc, p0 = "nhwc" in flags, "p0" in flags
    prefix, _, name = spec.partition(".")
    if not name:
        if spec not in KINDS:
            raise ValueError(f"unknown implementation '{spec}'")
        return Impl(KINDS[spec], spec)
    if prefix == "F":
        return Impl("F", spec)
    if prefix == "nn":
        return Impl("module", spec, base=name, nhwc=nhwc, p0=p0)
    base, leaf = KNOWN.get(spec, (None, True))
    return Impl("module", spec, base=base, leaf=leaf, nhwc=nhwc, p0=p0)


# The module each layer type's own `torch_module` builds (cnncost's torch backend), by layer type.
DEFAULT = {
    "conv": "nn.Conv2d", "conv_transpose": "nn.ConvTranspose2d", "linear": "nn.Linear",
    "batchnorm": "nn.BatchNorm2d", "lrn": "nn.LocalResponseNorm", "group_norm": "nn.GroupNorm",
    "instance_norm": "nn.InstanceNorm2d", "relu": "nn.ReLU", "relu6": "nn.ReLU6", "leaky_relu": "nn.LeakyReLU",
    "silu": "nn.SiLU", "hardswish": "nn.Hardswish", "sigmoid": "nn.Sigmoid", "tanh": "nn.Tanh", "gelu": "nn.GELU",
    "hardsigmoid": "nn.Hardsigmoid", "hardtanh": "nn.Hardtanh", "mish": "nn.Mish", "softmax": "nn.Softmax",
    "identity": "nn.Identity", "dropout": "nn.Dropout", "flatten": "nn.Flatten", "maxpool": "nn.MaxPool2d",
    "avgpool": "nn.AvgPool2d", "adaptive_avgpool": "nn.AdaptiveAvgPool2d", "global_avgpool": "nn.AdaptiveAvgPool2d",
    "adaptive_maxpool": "nn.AdaptiveMaxPool2d", "upsample": "nn.Upsample", "pixel_shuffle": "nn.PixelShuffle",
    "pixel_unshuffle": "nn.PixelUnshuffle", "add": "cnncost.AddModule", "mul": "cnncost.MulModule",
    "concat": "cnncost.ConcatModule", "chunk": "cnncost.Chunk", "channel_shuffle": "cnncost.ChannelShuffle",
    "layer_scale": "cnncost.LayerScale", "stochastic_depth": "cnncost.StochasticDepth", "crop": "cnncost.CenterCrop",
}


def default_impl(node: GraphNode) -> Impl:
    """The module cnncost's own torch backend builds for the node."""
    layer = node.layer
    kind = node.type
    spec = DEFAULT.get(kind)
    if spec is not None and kind != "batchnorm":
        return parse(spec)
    if kind == "batchnorm":
        return parse("nn.BatchNorm1d" if len(node.input_shape) == 1 else "nn.BatchNorm2d")
    if kind == "layer_norm":
        return parse("cnncost.LayerNorm2d" if getattr(layer, "over", "channels") == "channels" else "nn.LayerNorm")
    if kind == "pad":
        return parse("nn.ZeroPad2d" if getattr(layer, "mode", "zeros") == "zeros" else "nn.ReflectionPad2d")
    return parse(f"cnncost.{type(layer).__name__}")  # a layer type added since: a plain module no counter knows


def impls(graph: Graph, profile: Profile | None = None) -> tuple[Impl | None, ...]:
    """One implementation per node (None for the input node): the profile's first matching rule,
    else the default."""
    out: list[Impl | None] = [None]
    rules = profile.rules if profile is not None else ()
    for node in graph.nodes[1:]:
        chosen = None
        for rule in rules:
            if rule.matches(node):
                chosen = rule.impl
                break
        out.append(chosen if chosen is not None else default_impl(node))
    return tuple(out)


def eval_visible(graph: Graph) -> tuple[bool, ...]:
    """False for nodes inside `side` blocks: auxiliary classifiers, which torchvision and timm run
    only in training mode, so an eval-mode counter never sees them."""
    visible = [True] * len(graph.nodes)
    for block in graph.blocks:
        if block.type == "side":
            for i in range(block.first, block.stop):
                visible[i] = False
    return tuple(visible)


@dataclass(frozen=True)
class Rule:
    """Nodes whose row path matches `pattern` (fnmatch) and, if given, whose type is one of `types`,
    are implemented as `impl`."""

    pattern: str
    impl: Impl
    types: tuple[str, ...] = ()

    def matches(self, node: GraphNode) -> bool:
        return (not self.types or node.type in self.types) and fnmatch.fnmatchcase(node.path, self.pattern)


def rule(pattern: str, spec: str, *types: str) -> Rule:
    return Rule(pattern, parse(spec), tuple(types))
