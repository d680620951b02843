"""The torch build's rule per layer type: the `nn.Module` that computes a layer on a batch of
per-sample shape `x` (a multi-input layer gets the tuple of its inputs' shapes). One entry per
layer class in `MODULES`; `tests/layers/test_completeness.py` names any class without one."""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..errors import CnnCostError
from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.act import (CELU, ELU, GLU, SELU, Hardshrink, LogSigmoid, LogSoftmax, PReLU, RReLU, Softmin, Softplus,
                          Softshrink, Softsign, Tanhshrink, Threshold)
from ..layers.attention import Attention, Matmul, MergeHeads, SplitHeads
from ..layers.base import Layer
from ..layers.pass_rules import rule_in
from ..layers.conv import Conv, ConvTranspose
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.inputs import Input
from ..layers.imported import Fixed
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..shapes import spatial
from .own_modules import AddModule, ConcatModule, LayerNorm2d, MulModule, View
from .own_modules import CenterCrop as CropModule, ChannelShuffle as ShuffleModule, Chunk as ChunkModule
from .own_modules import LayerScale as LayerScaleModule, StochasticDepth as StochasticDepthModule
from .own_modules import Pad as PadModule
from .own_modules import Attention as AttentionModule, Matmul as MatmulModule, MergeHeads as MergeHeadsModule
from .own_modules import SplitHeads as SplitHeadsModule
from .tensor_modules import (Affine as AffineModule, Arith as ArithModule, Binary, Contiguous as ContiguousModule,
                             Expand as ExpandModule, Learnable as LearnableModule, Permute as PermuteModule,
                             Reduce as ReduceModule, Select as SelectModule, Slice as SliceModule,
                             Split as SplitModule, Stack as StackModule, Tokens as TokensModule,
                             Transpose as TransposeModule, Unflatten as UnflattenModule, torch_dim)
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens
from ..layers.computed import Computed
from .computed_module import Computed as ComputedModule
from ..layers.unfold import Fold, Unfold
from ..layers.sample import GridSample
from .sample_module import GridSample as GridSampleModule
from .folded_norm import instance_norm_module
from ..layers.unary import Unary
from .own_modules import Unary as UnaryModule
from ..layers.moves import Roll, UnfoldDim
from .own_modules import Roll as RollModule, UnfoldDim as UnfoldDimModule
from ..layers.rnn import LSTM
from .rnn_module import lstm_module
from ..layers.embedding import Embedding
from ..layers.conv import maps
from .folded_modules import folded

ModuleRule = Callable[[Any, Any], nn.Module]


def by_rank(x: Any, *classes: type[nn.Module]) -> type[nn.Module]:
    """The module class for a map's spatial rank: classes for 1, 2 and 3 spatial dims."""
    return classes[len(x) - 2]


def by_map_rank(layer: Layer, x: Any, *classes: type[nn.Module]) -> type[nn.Module]:
    """`by_rank` of the map the layer reads (`maps`); a `folded` layer's class runs on the batch
    folded into the maps, as the imported model ran it (`folded_modules`)."""
    cls = by_rank(maps(layer, x), *classes)
    return folded(cls) if getattr(layer, "folded", False) else cls


def _upsample(layer: Upsample, x: Any) -> nn.Module:
    rank = len(x) - 1
    scale = None
    if layer.scale_factor is not None:
        factors = spatial(layer.scale_factor, rank)  # type: ignore[arg-type]
        scale = float(factors[0]) if len(set(factors)) == 1 else tuple(float(f) for f in factors)
    return nn.Upsample(size=None if layer.size is None else spatial(layer.size, rank), scale_factor=scale,
                       mode=layer.mode, align_corners=layer.align_corners if layer.mode != "nearest" else None)


def _batchnorm(layer: BatchNorm, x: Any) -> nn.Module:
    m = maps(layer, x)
    kind = nn.BatchNorm1d if len(m) <= 2 else by_rank(m, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    return (folded(kind) if layer.folded else kind)(m[0], eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                                                       track_running_stats=layer.track_running_stats)


PADS = {"zeros": (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d),
        "reflect": (nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d),
        "replicate": (nn.ReplicationPad1d, nn.ReplicationPad2d, nn.ReplicationPad3d)}


def _pad(layer: Pad, x: Any) -> nn.Module:
    """`nn.ZeroPad2d` and the like where the padding covers every spatial dim of a map, else F.pad."""
    pad = layer.torch_pad(x)
    if layer.mode == "constant":
        return PadModule(pad, "constant", layer.value)
    if 2 <= len(x) <= 4 and layer.padded_dims(x) == len(x) - 1:
        return by_rank(x, *PADS[layer.mode])(pad)
    return PadModule(pad, "constant" if layer.mode == "zeros" else layer.mode)


def _layer_scale(layer: LayerScale, x: Any) -> nn.Module:
    dim = layer.scaled_dim(x)
    return LayerScaleModule(tuple(size if i == dim else 1 for i, size in enumerate(x)), layer.init)


def _dim(dim: int) -> int:
    """A per-sample dim as a dim of the batch: non-negative ones move past the batch."""
    return dim + 1 if dim >= 0 else dim


def _layer_norm(layer: LayerNorm, x: Any) -> nn.Module:
    if layer.over == "channels":
        return LayerNorm2d(x[0], eps=layer.eps, elementwise_affine=layer.elementwise_affine, bias=layer.bias)
    return nn.LayerNorm(list(layer.normalized(x)), eps=layer.eps, elementwise_affine=layer.elementwise_affine,
                        bias=layer.bias)


def _group_norm(layer: GroupNorm, x: Any) -> nn.Module:
    module = nn.GroupNorm(layer.groups, x[0], eps=layer.eps, affine=layer.affine)
    if not layer.bias:  # nn.GroupNorm takes no bias argument: timm's GroupNorm1NoBias drops it so
        module.register_parameter("bias", None)
    return module


def _pair(value: Any) -> tuple[int, int]:
    return tuple(spatial(value, 2))  # type: ignore[return-value]


def _opaque(layer: Opaque, x: Any) -> nn.Module:
    raise CnnCostError(f"opaque node ({layer.op}) cannot be rebuilt in PyTorch; compare with the real "
                       "network instead: cnncost check SPEC --against SOURCE", path=layer.name,
                       type_name=layer.type_name)


def _shared(layer: Shared, x: Any) -> nn.Module:
    """The inner layer's module with its parameters turned into buffers, so that the rebuilt
    network does not count them twice (a rebuild cannot share the earlier module's tensors; for
    the real sharing compare with the real network: check --against)."""
    module = module_for(layer.inner, x)
    for sub in module.modules():
        for key, param in list(sub._parameters.items()):
            if param is not None:
                del sub._parameters[key]
                sub.register_buffer(key, param.detach(), persistent=False)
    return module


MODULES: dict[type, ModuleRule] = {
    Conv: lambda layer, x: by_map_rank(layer, x, nn.Conv1d, nn.Conv2d, nn.Conv3d)(
        maps(layer, x)[0], layer.out, layer.kernel, layer.stride, layer.padding, layer.dilation, layer.groups, layer.bias),
    ConvTranspose: lambda layer, x: by_rank(x, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)(
        x[0], layer.out, layer.kernel, stride=layer.stride, padding=layer.padding,
        output_padding=layer.output_padding, groups=layer.groups, bias=layer.bias, dilation=layer.dilation),
    Linear: lambda layer, x: nn.Linear(x[-1], layer.out, bias=layer.bias),
    Flatten: lambda layer, x: nn.Flatten(torch_dim(layer.start_dim), torch_dim(layer.end_dim)),
    Dropout: lambda layer, x: nn.Dropout(layer.p, inplace=layer.inplace),
    # activations
    ReLU: lambda layer, x: nn.ReLU(inplace=layer.inplace),
    ReLU6: lambda layer, x: nn.ReLU6(inplace=layer.inplace),
    LeakyReLU: lambda layer, x: nn.LeakyReLU(layer.negative_slope, inplace=layer.inplace),
    SiLU: lambda layer, x: nn.SiLU(inplace=layer.inplace),
    Hardswish: lambda layer, x: nn.Hardswish(inplace=layer.inplace),
    Hardsigmoid: lambda layer, x: nn.Hardsigmoid(inplace=layer.inplace),
    Hardtanh: lambda layer, x: nn.Hardtanh(layer.min_val, layer.max_val, inplace=layer.inplace),
    Mish: lambda layer, x: nn.Mish(inplace=layer.inplace),
    Sigmoid: lambda layer, x: nn.Sigmoid(),
    Tanh: lambda layer, x: nn.Tanh(),
    GELU: lambda layer, x: nn.GELU(),
    Softmax: lambda layer, x: nn.Softmax(dim=_dim(layer.dim)),
    Identity: lambda layer, x: nn.Identity(),
    ELU: lambda layer, x: nn.ELU(layer.alpha, inplace=layer.inplace),
    SELU: lambda layer, x: nn.SELU(inplace=layer.inplace),
    CELU: lambda layer, x: nn.CELU(layer.alpha, inplace=layer.inplace),
    GLU: lambda layer, x: nn.GLU(_dim(layer.dim)),
    Softplus: lambda layer, x: nn.Softplus(layer.beta, layer.threshold),
    Softsign: lambda layer, x: nn.Softsign(),
    Softshrink: lambda layer, x: nn.Softshrink(layer.lambd),
    Hardshrink: lambda layer, x: nn.Hardshrink(layer.lambd),
    Tanhshrink: lambda layer, x: nn.Tanhshrink(),
    Threshold: lambda layer, x: nn.Threshold(layer.threshold, layer.value, inplace=layer.inplace),
    LogSigmoid: lambda layer, x: nn.LogSigmoid(),
    PReLU: lambda layer, x: nn.PReLU(layer.num_parameters, layer.init),
    RReLU: lambda layer, x: nn.RReLU(layer.lower, layer.upper, inplace=layer.inplace),
    Softmin: lambda layer, x: nn.Softmin(dim=_dim(layer.dim)),
    LogSoftmax: lambda layer, x: nn.LogSoftmax(dim=_dim(layer.dim)),
    # tokens and attention
    Matmul: lambda layer, shapes: MatmulModule(),
    Attention: lambda layer, shapes: AttentionModule(layer.causal, layer.dropout, layer.scale, layer.enable_gqa,
                                                            layer.folded),
    SplitHeads: lambda layer, x: SplitHeadsModule(layer.heads, layer.parts, layer.part),
    MergeHeads: lambda layer, x: MergeHeadsModule(),
    # norms
    BatchNorm: _batchnorm,
    LRN: lambda layer, x: nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k),
    LayerNorm: _layer_norm,
    GroupNorm: lambda layer, x: _group_norm(layer, x),
    InstanceNorm: instance_norm_module,  # folded too (torch_backend/folded_norm.py)
    # pools
    MaxPool: lambda layer, x: by_map_rank(layer, x, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)(layer.kernel, layer.effective_stride, layer.padding,
                                           ceil_mode=layer.ceil_mode),
    AvgPool: lambda layer, x: by_map_rank(layer, x, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)(layer.kernel, layer.effective_stride, layer.padding,
                                           ceil_mode=layer.ceil_mode, count_include_pad=layer.count_include_pad),
    AdaptiveAvgPool: lambda layer, x: by_rank(x, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                                              nn.AdaptiveAvgPool3d)(layer.output),
    AdaptiveMaxPool: lambda layer, x: by_rank(x, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
                                              nn.AdaptiveMaxPool3d)(layer.output),
    GlobalAvgPool: lambda layer, x: by_rank(x, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)(1),
    # moving elements
    Chunk: lambda layer, x: ChunkModule(layer.chunks, layer.index, torch_dim(layer.dim)),
    ChannelShuffle: lambda layer, x: ShuffleModule(layer.groups),
    PixelShuffle: lambda layer, x: nn.PixelShuffle(layer.factor),
    PixelUnshuffle: lambda layer, x: nn.PixelUnshuffle(layer.factor),
    Pad: _pad,
    CenterCrop: lambda layer, shapes: CropModule(None if layer.size is None else spatial(layer.size, len(shapes[0]) - 1)),
    Upsample: _upsample,
    LayerScale: _layer_scale,
    StochasticDepth: lambda layer, x: StochasticDepthModule(layer.p, layer.mode),
    # merges
    Add: lambda layer, shapes: AddModule(layer.scale),
    Mul: lambda layer, shapes: MulModule(),
    ConcatMerge: lambda layer, shapes: ConcatModule(torch_dim(layer.dim)),
    # imported graphs
    Opaque: _opaque,
    Shared: _shared,
    Fixed: _shared,  # the layer's module with its weights as buffers, as a shared call's
    Reshape: lambda layer, x: View(tuple(layer.shape)),
    # a net's further inputs: the caller's tensor, passed on
    Input: lambda layer, x: nn.Identity(),
    # views and element-wise ops of tensors of any rank
    Permute: lambda layer, x: PermuteModule(layer.dims), Transpose: lambda layer, x: TransposeModule(layer.dim0, layer.dim1),
    Unflatten: lambda layer, x: UnflattenModule(layer.dim, layer.sizes),
    Slice: lambda layer, x: SliceModule(layer.dim, layer.start, layer.stop, layer.step),
    Select: lambda layer, x: SelectModule(layer.dim, layer.index), Expand: lambda layer, x: ExpandModule(layer.shape),
    Contiguous: lambda layer, x: ContiguousModule(layer.batch_dim), Split: lambda layer, x: SplitModule(layer.sizes, layer.index, layer.dim),
    Arith: lambda layer, x: ArithModule(layer.op, layer.value, layer.reverse),
    Learnable: lambda layer, x: LearnableModule(layer.op, layer.shape, layer.init),
    Affine: lambda layer, x: AffineModule(x[layer.dim % len(x)], layer.dim, len(x), layer.bias),
    Reduce: lambda layer, x: ReduceModule(layer.op, layer.dims, len(x), layer.keepdim, layer.p, layer.correction),
    Tokens: lambda layer, x: TokensModule(layer.count, tuple(x[1:])),
    Sub: lambda layer, shapes: Binary("sub"), Div: lambda layer, shapes: Binary("div"),
    Maximum: lambda layer, shapes: Binary("maximum"), Minimum: lambda layer, shapes: Binary("minimum"),
    Stack: lambda layer, shapes: StackModule(layer.dim),
    Computed: lambda layer, x: ComputedModule(layer),
    Unfold: lambda layer, x: nn.Unfold(_pair(layer.kernel), _pair(layer.dilation), _pair(layer.padding),
                                       _pair(layer.stride)),
    Fold: lambda layer, x: nn.Fold(_pair(layer.output_size), _pair(layer.kernel), _pair(layer.dilation),
                                   _pair(layer.padding), _pair(layer.stride)),
    Unary: lambda layer, x: UnaryModule(layer.op),
    Roll: lambda layer, x: RollModule(layer.shifts, layer.dims),
    UnfoldDim: lambda layer, x: UnfoldDimModule(layer.dim, layer.size, layer.step),
    GridSample: lambda layer, shapes: GridSampleModule(layer.mode, layer.padding_mode, layer.align_corners,
                                                       layer.folded),
    LSTM: lstm_module,
    Embedding: lambda layer, x: nn.Embedding(layer.num_embeddings, layer.embedding_dim, padding_idx=layer.padding_idx),
}


def module_for(layer: Layer, x: Any) -> nn.Module:
    """The layer's module; a layer type without a rule is a named error."""
    return rule_in(MODULES, layer, "torch module", "cnncost.torch_backend.layer_modules.MODULES")(layer, x)
