"""How each graph node is computed in PyTorch: the fact every hook-based counter depends on.

A FLOP counter never sees a cnncost node; it sees an `nn.Module` whose forward hook fires, a
patched `torch.nn.functional` call, an aten operator in a trace, or nothing at all (a Python `+`,
`x.mean()`, a parameter multiplied in its parent's forward). Which one a node is depends on how the
model was written, not on the network: torchvision's GoogLeNet calls `F.relu`, its ResNet has
`nn.ReLU` modules; timm fuses batch norm and activation into one `BatchNormAct2d`. `Impl` records
that fact per node; `profiles.impls(graph, profile)` gives one per node, from the layer's own
module (what `cnncost check` builds: `DEFAULT`) unless the architecture's profile (`profiles.py`)
says otherwise.

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

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, cast

from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from ..layers.attention import Attention, Matmul, MergeHeads, SplitHeads
from ..layers.conv import Conv, ConvTranspose
from ..layers.conv import maps
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.inputs import Input
from ..layers.imported import Fixed
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ..layers.computed import Computed
from ..layers.unfold import Fold, Unfold
from ..layers.sample import GridSample
from ..layers.unary import Unary
from ..layers.moves import Roll, UnfoldDim
from ..layers.rnn import LSTM
from ..layers.embedding import Embedding

if TYPE_CHECKING:
    from ..graph import Graph, GraphNode
    from ..layers.base import Layer


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
    "cnncost.LayerNorm2d": ("LayerNorm", True),     # cnncost.torch_backend.own_modules.LayerNorm2d
    "timm.BatchNormAct2d": ("BatchNorm2d", False),  # timm.layers.norm_act.BatchNormAct2d: children drop, act
    "timm.Sigmoid": (None, True),                   # timm.layers.activations.Sigmoid (not nn.Sigmoid)
    "tv.StochasticDepth": (None, True),
    "tv.Permute": (None, True),
}
# What F.* / method / op spellings stand for.
KINDS = {"F": "F", "mean": "method", "op": "op", "param": "param",
         "input": "input"}  # a net's further input: an argument of forward, no module or op


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


def by_rank(name: str) -> Callable[[GraphNode], str]:
    """`nn.Conv2d`-style spelling with the input map's spatial rank: nn.Conv1d, nn.Conv2d, nn.Conv3d
    (of a `folded` layer's maps: a conv on (N*k, C, H, W) windows is a Conv2d)."""
    def spell(node: GraphNode) -> str:
        return f"nn.{name}{len(maps(cast('Layer', node.layer), node.input_shape)) - 1}d"
    return spell


def _batchnorm(node: GraphNode) -> str:
    rank = len(maps(cast(BatchNorm, node.layer), node.input_shape)) - 1
    return "nn.BatchNorm1d" if rank <= 1 else f"nn.BatchNorm{rank}d"


def _layer_norm(node: GraphNode) -> str:
    return "cnncost.LayerNorm2d" if cast(LayerNorm, node.layer).over == "channels" else "nn.LayerNorm"


PAD_MODULES = {"zeros": "ZeroPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad"}


def _pad(node: GraphNode) -> str:
    """As `torch_backend.layer_modules._pad`: `nn.ZeroPad2d` and the like where the padding covers
    every spatial dim of a map, else cnncost's own F.pad module."""
    layer, x = cast(Pad, node.layer), node.input_shape
    if layer.mode != "constant" and 2 <= len(x) <= 4 and layer.padded_dims(x) == len(x) - 1:
        return f"nn.{PAD_MODULES[layer.mode]}{len(x) - 1}d"
    return "cnncost.Pad"


def _fixed(node: GraphNode) -> str:
    """A `fixed` op runs its layer's module (its weights registered as buffers)."""
    inner = cast(Fixed, node.layer).inner
    spelling = DEFAULT[type(inner)]
    return spelling(dataclasses.replace(node, layer=inner)) if callable(spelling) else spelling


# The module cnncost's own torch backend builds for each layer type (`torch_backend.layer_modules`),
# spelled as above: a spelling, or a function of the node where it depends on the layer's fields.
DEFAULT: dict[type, str | Callable[[GraphNode], str]] = {
    Conv: by_rank("Conv"), ConvTranspose: by_rank("ConvTranspose"), Linear: "nn.Linear",
    BatchNorm: _batchnorm, LRN: "nn.LocalResponseNorm", LayerNorm: _layer_norm, GroupNorm: "nn.GroupNorm",
    InstanceNorm: by_rank("InstanceNorm"),
    ReLU: "nn.ReLU", ReLU6: "nn.ReLU6", LeakyReLU: "nn.LeakyReLU", SiLU: "nn.SiLU", Hardswish: "nn.Hardswish",
    Sigmoid: "nn.Sigmoid", Tanh: "nn.Tanh", GELU: "nn.GELU", Hardsigmoid: "nn.Hardsigmoid",
    Hardtanh: "nn.Hardtanh", Mish: "nn.Mish", Softmax: "nn.Softmax", Identity: "nn.Identity",
    Dropout: "nn.Dropout", Flatten: "nn.Flatten", MaxPool: by_rank("MaxPool"), AvgPool: by_rank("AvgPool"),
    AdaptiveAvgPool: by_rank("AdaptiveAvgPool"), GlobalAvgPool: by_rank("AdaptiveAvgPool"),
    AdaptiveMaxPool: by_rank("AdaptiveMaxPool"), Upsample: "nn.Upsample", PixelShuffle: "nn.PixelShuffle",
    PixelUnshuffle: "nn.PixelUnshuffle", Pad: _pad,
    Add: "cnncost.AddModule", Mul: "cnncost.MulModule", ConcatMerge: "cnncost.ConcatModule",
    Chunk: "cnncost.Chunk", ChannelShuffle: "cnncost.ChannelShuffle", LayerScale: "cnncost.LayerScale",
    StochasticDepth: "cnncost.StochasticDepth", CenterCrop: "cnncost.CenterCrop",
    ELU: "nn.ELU", SELU: "nn.SELU", CELU: "nn.CELU", GLU: "nn.GLU", Softplus: "nn.Softplus", Softsign: "nn.Softsign",
    Softshrink: "nn.Softshrink", Hardshrink: "nn.Hardshrink", Tanhshrink: "nn.Tanhshrink", Threshold: "nn.Threshold",
    LogSigmoid: "nn.LogSigmoid", PReLU: "nn.PReLU", RReLU: "nn.RReLU", Softmin: "nn.Softmin",
    LogSoftmax: "nn.LogSoftmax",
    Matmul: "cnncost.Matmul", Attention: "cnncost.Attention", SplitHeads: "cnncost.SplitHeads",
    MergeHeads: "cnncost.MergeHeads",
    # cnncost's own modules no counter formula knows
    Opaque: "cnncost.Opaque", Shared: "cnncost.Shared", Reshape: "cnncost.Reshape",
    # a net's further inputs: arguments of forward, which no counter sees
    Input: "input",
    Fixed: _fixed,
    # the tensor ops' own modules (torch_backend/tensor_modules.py): no counter has a formula for them;
    # learnable, affine and tokens own parameters named weight (and bias)
    Permute: "cnncost.Permute", Transpose: "cnncost.Transpose", Unflatten: "cnncost.Unflatten",
    Slice: "cnncost.Slice", Select: "cnncost.Select", Expand: "cnncost.Expand", Contiguous: "cnncost.Contiguous",
    Split: "cnncost.Split", Arith: "cnncost.Arith", Learnable: "cnncost.Learnable", Affine: "cnncost.Affine",
    Reduce: "cnncost.Reduce", Tokens: "cnncost.Tokens", Sub: "cnncost.Binary", Div: "cnncost.Binary",
    Maximum: "cnncost.Binary", Minimum: "cnncost.Binary", Stack: "cnncost.Stack",
    Computed: "cnncost.Computed",  # torch_backend/computed_module.py: no counter has a formula for it
    Unfold: "nn.Unfold", Fold: "nn.Fold",
    Unary: "cnncost.Unary",
    Roll: "cnncost.Roll", UnfoldDim: "cnncost.UnfoldDim",
    GridSample: "cnncost.GridSample",  # torch_backend/sample_module.py: F.grid_sample inside
    LSTM: "nn.LSTM",  # torch_backend/rnn_module.py: an nn.LSTM with hooks of its own
    Embedding: "nn.Embedding",
}


def default_impl(node: GraphNode) -> Impl:
    """The module cnncost's own torch backend builds for the node; a layer type without an entry
    is a named error."""
    spec = DEFAULT.get(type(node.layer))
    if spec is None:
        from ..errors import CnnCostError
        raise CnnCostError(f"layer type '{node.type}' has no implementation rule (the module cnncost builds for "
                           "it); add its class to cnncost.counting.impl.DEFAULT", type_name=node.type)
    return parse(spec if isinstance(spec, str) else spec(node))


def eval_visible(graph: Graph) -> tuple[bool, ...]:
    """False for nodes inside `side` blocks: auxiliary classifiers, which torchvision and timm run
    only in training mode, so an eval-mode counter never sees them."""
    visible = [True] * len(graph.nodes)
    for block in graph.blocks:
        if block.type == "side":
            for i in range(block.first, block.stop):
                visible[i] = False
    return tuple(visible)
