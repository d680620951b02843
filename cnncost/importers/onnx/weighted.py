"""Handlers of the operators with weights: Conv, ConvTranspose, Gemm, MatMul (+ its bias Add) and
the norms, with the TorchScript exporter's GroupNorm pattern. A handler is
`(imp, node, inputs, attrs)`: the walker, the NodeProto, its input values, its attributes."""
from __future__ import annotations

from typing import Any

from ...layers import LRN, BatchNorm, ConvTranspose, GroupNorm, InstanceNorm
from ...shapes import numel
from ..graphbuild import TV, Unsupported
from ..lowering import conv as conv_layer, layer_norm, linear, pair_or_int
from .values import W, no_extra_outputs, window
from .walker import OnnxWalker
from .attention import products


def _optional(inputs: list[Any], i: int) -> Any:
    return inputs[i] if len(inputs) > i and inputs[i] is not None else None


def _bias(inputs: list[Any]) -> Any:
    """A conv's bias: a weight, or none. onnxscript writes a conv without one (conv3d) with a bias
    of zeros expanded from a constant: no parameter."""
    b = _optional(inputs, 2)
    if b is None or isinstance(b, W):
        return b
    import numpy as np
    if isinstance(b, np.ndarray) and not np.any(b):
        return None
    raise Unsupported("a conv bias computed from constants")


def conv(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    w = imp.weight(inputs[1], "the conv weight")
    b = _bias(inputs)
    spatial = len(w.shape) - 2
    if spatial not in (1, 2, 3) or len(x.shape) != spatial + 1:
        raise Unsupported(f"a conv with a {len(w.shape)}-D weight on a {len(x.shape)}-D tensor per sample")
    layer = conv_layer(w.shape[0], tuple(attrs.get("kernel_shape", w.shape[2:])),
                       dilation=tuple(attrs.get("dilations", (1,) * spatial)), groups=int(attrs.get("group", 1)),
                       bias=b is not None, **window(attrs, spatial))
    params = [w] + ([imp.weight(b, "the conv bias")] if b is not None else [])
    return imp.emit(layer, [x], layer.out_shape(x.shape), params=params)


def conv_t(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    w = imp.weight(inputs[1], "the weight")
    b = _bias(inputs)
    groups = int(attrs.get("group", 1))
    kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
    k = len(kernel)
    pads = tuple(attrs.get("pads", (0,) * (2 * k)))
    if pads[:k] != pads[k:] or "output_shape" in attrs or len(x.shape) != k + 1:
        raise Unsupported("asymmetric pads, output_shape, or a weight of another rank than the input")
    layer = ConvTranspose(out=int(w.shape[1]) * groups, kernel=pair_or_int(kernel),
                          stride=pair_or_int(tuple(attrs.get("strides", (1,) * k))), padding=pair_or_int(pads[:k]),
                          output_padding=pair_or_int(tuple(attrs.get("output_padding", (0,) * k))),
                          dilation=pair_or_int(tuple(attrs.get("dilations", (1,) * k))), groups=groups,
                          bias=b is not None)
    params = [w] + ([imp.weight(b, "the bias")] if b is not None else [])
    return imp.emit(layer, [x], layer.out_shape(x.shape), params=params)


def gemm(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    w = imp.weight(inputs[1], "the weight")
    c = _optional(inputs, 2)
    if attrs.get("transA", 0) or len(x.shape) != 1 or attrs.get("alpha", 1.0) != 1.0:
        raise Unsupported("a Gemm that is not a linear layer")
    out = int(w.shape[0] if attrs.get("transB", 0) else w.shape[1])
    params = [w] + ([imp.weight(c, "the bias")] if c is not None else [])
    return linear(imp, x, out, c is not None, params, (out,))


def matmul(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """x @ W (+ b in the Add that follows): a linear on the last dim of a tensor of any rank, or on
    the channels of a channels-last map (a 1x1 conv). x @ y of two tensors: `attention.matmul`."""
    if isinstance(inputs[0], TV) and isinstance(inputs[1], TV):
        return products(imp, node, inputs)
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    w = imp.weight(inputs[1], "the weight")
    if len(w.shape) != 2:
        raise Unsupported("a MatMul by a weight that is not 2-D")
    out = int(w.shape[1])
    params, bias = [w], False
    reader = imp.only_reader(node.output[0])
    if reader is not None:
        add = imp.graph.node[reader]
        if add.op_type == "Add":
            other = [n for n in add.input if n != node.output[0]]
            bv = imp.values.get(other[0]) if other else None
            if isinstance(bv, W) and bv.shape == (out,):
                params.append(bv)
                bias = True
                imp.skip.add(reader)
                node = add
    imp.node = node  # the fused Add's scope names the layer
    shape = (*x.shape[:2], out) if x.form == "nhwc" else (*x.shape[:-1], out)
    v = linear(imp, x, out, bias, params, shape)
    imp.values[node.output[0]] = v  # a fused Add's output is the fused layer
    return v


def batchnorm(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp.tensor(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    layer = BatchNorm(eps=float(attrs.get("epsilon", 1e-5)), momentum=round(1 - float(attrs.get("momentum", 0.9)), 6))
    return no_extra_outputs(imp.emit(layer, [x], x.shape, params=[scale, bias]), node)


def layernorm(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    scale = imp.weight(inputs[1], "the scale")
    bias = _optional(inputs, 2)
    if bias is None:
        raise Unsupported("layer norm without a bias")
    axis = int(attrs.get("axis", -1)) % (len(x.shape) + 1)  # normalises dims axis.. (0: the batch)
    if axis == 0:
        raise Unsupported("layer norm over the batch")
    return layer_norm(imp, x, x.shape[axis - 1:], float(attrs.get("epsilon", 1e-5)), True,
                      [scale, imp.weight(bias, "the bias")])


def groupnorm(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    return imp.emit(GroupNorm(groups=int(attrs["num_groups"]), eps=float(attrs.get("epsilon", 1e-5))), [x], x.shape,
                    params=[scale, bias])


def instancenorm(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    return imp.emit(InstanceNorm(eps=float(attrs.get("epsilon", 1e-5)), affine=True), [x], x.shape,
                    params=[scale, bias])


def lrn(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp.tensor(inputs[0])
    return imp.emit(LRN(size=int(attrs["size"]), alpha=float(attrs.get("alpha", 1e-4)),
                        beta=float(attrs.get("beta", 0.75)), k=float(attrs.get("bias", 1.0))), [x], x.shape)


def group_norm_pattern(imp: OnnxWalker, node: Any, x: TV, out: list[int]) -> TV | None:
    """The TorchScript exporter's GroupNorm: Reshape to (N, G, -1), InstanceNormalization with unit
    scale, Reshape back, Mul by the weight, Add the bias. None where `node` does not start one."""
    if len(out) != 3 or len(x.shape) != 3 or x.form != "std":
        return None
    groups = out[1]
    chain, name = [], node.output[0]
    for op in ("InstanceNormalization", "Reshape", "Mul", "Add"):
        reader = imp.only_reader(name)
        if reader is None or imp.graph.node[reader].op_type != op:
            break
        chain.append(reader)
        name = imp.graph.node[reader].output[0]
    if len(chain) < 2:
        return None
    norm = imp.graph.node[chain[0]]
    eps = 1e-5
    for a in norm.attribute:
        if a.name == "epsilon":
            eps = float(imp.onnx.helper.get_attribute_value(a))
    weights: list[W] = []
    for k in chain[2:]:
        previous = imp.graph.node[chain[chain.index(k) - 1]].output[0]
        other = [imp.base_weight(n) for n in imp.graph.node[k].input if n and n != previous]
        if len(other) != 1 or not isinstance(other[0], W) or numel(other[0].shape) != x.shape[0]:
            chain = chain[:chain.index(k)]
            break
        weights.append(other[0])
    if len(weights) == 1:  # a weight without a bias: not a GroupNorm cnncost has
        chain, weights = chain[:2], []
    last = imp.graph.node[chain[-1]]
    imp.skip.update(chain)
    imp.node = norm
    v = imp.emit(GroupNorm(groups=groups, eps=eps, affine=bool(weights)), [x], x.shape, params=weights)
    imp.values[last.output[0]] = v
    imp.node = node
    return v
