"""The torch build's rule per layer type: the `nn.Module` that computes a layer on a batch of
per-sample shape `x` (a multi-input layer gets the tuple of its inputs' shapes). One entry per
layer class in `MODULES`; `tests/layers/test_completeness.py` names any class without one."""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..errors import CnnCostError
from ..layers.act import (GELU, Hardsigmoid, Hardswish, Hardtanh, Identity, LeakyReLU, Mish, ReLU, ReLU6, Sigmoid,
                          SiLU, Softmax, Tanh)
from ..layers.base import Layer
from ..layers.pass_rules import rule_in
from ..layers.conv import Conv, ConvTranspose
from ..layers.imported import Opaque, Reshape, Shared
from ..layers.linear import Dropout, Flatten, Linear
from ..layers.merge import Add, ConcatMerge, Mul
from ..layers.norm import LRN, BatchNorm, GroupNorm, InstanceNorm, LayerNorm
from ..layers.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool
from ..layers.reshape import CenterCrop, ChannelShuffle, Chunk, Pad, PixelShuffle, PixelUnshuffle, Upsample
from ..layers.scale import LayerScale, StochasticDepth
from ..shapes import pair
from .own_modules import AddModule, ConcatModule, LayerNorm2d, MulModule, View
from .own_modules import CenterCrop as CropModule, ChannelShuffle as ShuffleModule, Chunk as ChunkModule
from .own_modules import LayerScale as LayerScaleModule, StochasticDepth as StochasticDepthModule
from .tensor_modules import (Affine as AffineModule, Arith as ArithModule, Binary, Contiguous as ContiguousModule,
                             Expand as ExpandModule, Learnable as LearnableModule, Permute as PermuteModule,
                             Reduce as ReduceModule, Select as SelectModule, Slice as SliceModule,
                             Split as SplitModule, Stack as StackModule, Tokens as TokensModule,
                             Transpose as TransposeModule, Unflatten as UnflattenModule, torch_dim)
from ..layers.tensor import Contiguous, Expand, Permute, Select, Slice, Split, Transpose, Unflatten
from ..layers.merge import Div, Maximum, Minimum, Stack, Sub
from ..layers.arith import Affine, Arith, Learnable, Reduce, Tokens

ModuleRule = Callable[[Any, Any], nn.Module]


def _upsample(layer: Upsample, x: Any) -> nn.Module:
    scale = None
    if layer.scale_factor is not None:
        fh, fw = pair(layer.scale_factor)  # type: ignore[arg-type]
        scale = float(fh) if fh == fw else (float(fh), float(fw))
    return nn.Upsample(size=None if layer.size is None else pair(layer.size), scale_factor=scale,
                       mode=layer.mode, align_corners=layer.align_corners if layer.mode == "bilinear" else None)


def _layer_norm(layer: LayerNorm, x: Any) -> nn.Module:
    if layer.over == "channels":
        return LayerNorm2d(x[0], eps=layer.eps, elementwise_affine=layer.elementwise_affine)
    return nn.LayerNorm(list(x), eps=layer.eps, elementwise_affine=layer.elementwise_affine)


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
    Conv: lambda layer, x: nn.Conv2d(x[0], layer.out, layer.kernel, layer.stride, layer.padding, layer.dilation,
                                     layer.groups, layer.bias),
    ConvTranspose: lambda layer, x: nn.ConvTranspose2d(
        x[0], layer.out, layer.kernel, stride=layer.stride, padding=layer.padding,
        output_padding=layer.output_padding, groups=layer.groups, bias=layer.bias, dilation=layer.dilation),
    Linear: lambda layer, x: nn.Linear(x[0], layer.out, bias=layer.bias),
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
    Softmax: lambda layer, x: nn.Softmax(dim=1),
    Identity: lambda layer, x: nn.Identity(),
    # norms
    BatchNorm: lambda layer, x: (nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d)(
        x[0], eps=layer.eps, momentum=layer.momentum, affine=layer.affine),
    LRN: lambda layer, x: nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k),
    LayerNorm: _layer_norm,
    GroupNorm: lambda layer, x: nn.GroupNorm(layer.groups, x[0], eps=layer.eps, affine=layer.affine),
    InstanceNorm: lambda layer, x: nn.InstanceNorm2d(x[0], eps=layer.eps, momentum=layer.momentum,
                                                     affine=layer.affine,
                                                     track_running_stats=layer.track_running_stats),
    # pools
    MaxPool: lambda layer, x: nn.MaxPool2d(layer.kernel, layer.effective_stride, layer.padding,
                                           ceil_mode=layer.ceil_mode),
    AvgPool: lambda layer, x: nn.AvgPool2d(layer.kernel, layer.effective_stride, layer.padding,
                                           ceil_mode=layer.ceil_mode, count_include_pad=layer.count_include_pad),
    AdaptiveAvgPool: lambda layer, x: nn.AdaptiveAvgPool2d(layer.output),
    AdaptiveMaxPool: lambda layer, x: nn.AdaptiveMaxPool2d(layer.output),
    GlobalAvgPool: lambda layer, x: nn.AdaptiveAvgPool2d(1),
    # moving elements
    Chunk: lambda layer, x: ChunkModule(layer.chunks, layer.index, torch_dim(layer.dim)),
    ChannelShuffle: lambda layer, x: ShuffleModule(layer.groups),
    PixelShuffle: lambda layer, x: nn.PixelShuffle(layer.factor),
    PixelUnshuffle: lambda layer, x: nn.PixelUnshuffle(layer.factor),
    Pad: lambda layer, x: (nn.ZeroPad2d if layer.mode == "zeros" else nn.ReflectionPad2d)(layer.sides()),
    CenterCrop: lambda layer, shapes: CropModule(None if layer.size is None else pair(layer.size)),
    Upsample: _upsample,
    LayerScale: lambda layer, x: LayerScaleModule(x[0], layer.init),
    StochasticDepth: lambda layer, x: StochasticDepthModule(layer.p, layer.mode),
    # merges
    Add: lambda layer, shapes: AddModule(layer.scale),
    Mul: lambda layer, shapes: MulModule(),
    ConcatMerge: lambda layer, shapes: ConcatModule(torch_dim(layer.dim)),
    # imported graphs
    Opaque: _opaque,
    Shared: _shared,
    Reshape: lambda layer, x: View(tuple(layer.shape)),
    # views and element-wise ops of tensors of any rank
    Permute: lambda layer, x: PermuteModule(layer.dims), Transpose: lambda layer, x: TransposeModule(layer.dim0, layer.dim1),
    Unflatten: lambda layer, x: UnflattenModule(layer.dim, layer.sizes),
    Slice: lambda layer, x: SliceModule(layer.dim, layer.start, layer.stop, layer.step),
    Select: lambda layer, x: SelectModule(layer.dim, layer.index), Expand: lambda layer, x: ExpandModule(layer.shape),
    Contiguous: lambda layer, x: ContiguousModule(), Split: lambda layer, x: SplitModule(layer.sizes, layer.index, layer.dim),
    Arith: lambda layer, x: ArithModule(layer.op, layer.value, layer.reverse),
    Learnable: lambda layer, x: LearnableModule(layer.op, layer.shape, layer.init),
    Affine: lambda layer, x: AffineModule(x[layer.dim % len(x)], layer.dim, len(x), layer.bias),
    Reduce: lambda layer, x: ReduceModule(layer.op, layer.dims, len(x), layer.keepdim, layer.p),
    Tokens: lambda layer, x: TokensModule(layer.count, tuple(x[1:])),
    Sub: lambda layer, shapes: Binary("sub"), Div: lambda layer, shapes: Binary("div"),
    Maximum: lambda layer, shapes: Binary("maximum"), Minimum: lambda layer, shapes: Binary("minimum"),
    Stack: lambda layer, shapes: StackModule(layer.dim),
}


def module_for(layer: Layer, x: Any) -> nn.Module:
    """The layer's module; a layer type without a rule is a named error."""
    return rule_in(MODULES, layer, "torch module", "cnncost.torch_backend.layer_modules.MODULES")(layer, x)
