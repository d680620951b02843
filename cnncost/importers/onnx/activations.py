"""Handlers of activations, Clip, Softmax and Dropout. ONNX does not say what ran in place: an
activation is taken as in place when it is the only reader of a tensor a layer made (`inplace_ok`)."""
from __future__ import annotations

from typing import Any, Callable

from ...layers import GELU, Hardsigmoid, Hardtanh, Layer, ReLU, ReLU6, Sigmoid, SiLU
from ..graphbuild import TV, Unsupported
from ..lowering import ANY_LAYOUT, dropout as lower_dropout, elementwise, softmax as lower_softmax
from .values import no_extra_outputs, scalar
from .walker import OnnxWalker


def activation(make: Callable[[dict, bool], Layer], inplace_capable: bool = True) -> Callable:
    """An element-wise activation; `make(attrs, inplace)` builds its layer."""
    def handle(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
        x = imp.tensor(inputs[0], ANY_LAYOUT)
        inplace = inplace_capable and imp.inplace_ok(x, node.input[0])
        return elementwise(imp, make(attrs, inplace), x)
    return handle


def sigmoid(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Sigmoid; x * sigmoid(x) (SiLU, as exporters write it) when the Mul that reads it multiplies
    by its own input."""
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    reader = imp.only_reader(node.output[0])
    if reader is not None:
        mul = imp.graph.node[reader]
        if mul.op_type == "Mul" and sorted(mul.input) == sorted([node.input[0], node.output[0]]):
            imp.skip.add(reader)
            readers = [r for r in imp.consumers.get(node.input[0], []) if r != reader and r != imp.index]
            inplace = not readers and node.input[0] not in imp.outputs_read and x.leaf != 0 \
                and imp.builder.leaf(x.leaf).layer.creates_tensor()
            imp.node = mul
            v = imp.emit(SiLU(inplace=inplace), [x], x.shape, form=x.form)
            imp.values[mul.output[0]] = v
            imp.node = node
            return v
    return imp.emit(Sigmoid(), [x], x.shape, form=x.form)


def clip(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Clip(0) is ReLU, Clip(0, 6) ReLU6, other bounds Hardtanh."""
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    lo = scalar(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    hi = scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    if lo is None or hi is None:
        if lo == 0 and hi is None:
            return imp.emit(ReLU(inplace=imp.inplace_ok(x, node.input[0])), [x], x.shape, form=x.form)
        raise Unsupported("Clip without both bounds")
    inplace = imp.inplace_ok(x, node.input[0])
    layer = ReLU6(inplace=inplace) if (lo, hi) == (0, 6) else Hardtanh(min_val=float(lo), max_val=float(hi))
    return imp.emit(layer, [x], x.shape, form=x.form)


def hardsigmoid(attrs: dict, inplace: bool) -> Layer:
    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise Unsupported(f"HardSigmoid alpha {alpha:g} beta {beta:g} (PyTorch's is 1/6, 0.5)")
    return Hardsigmoid()


def gelu(attrs: dict, inplace: bool) -> Layer:
    return GELU()


def softmax(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Softmax along one axis (before opset 13 it flattened the axes from `axis` on: only the last
    axis is the same)."""
    x = imp.tensor(inputs[0])
    opset = next((o.version for o in imp.model.opset_import if o.domain in ("", "ai.onnx")), 13)
    axis = int(attrs.get("axis", -1 if opset >= 13 else 1))
    if opset < 13 and axis % (len(x.shape) + 1) != len(x.shape):
        raise Unsupported(f"softmax over axes {axis}.. of opset {opset} (flattened)")
    return lower_softmax(imp, x, axis)


def dropout(imp: OnnxWalker, node: Any, inputs: list[Any], attrs: dict) -> list:
    """Dropout of a training-mode export (`training_mode` true); otherwise not there."""
    x = imp.tensor(inputs[0], ("std", "nhwc"))
    ratio = scalar(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("ratio", 0.5)
    training = scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else 0
    if not training or not ratio:
        return no_extra_outputs(x, node)
    return no_extra_outputs(lower_dropout(imp, x, float(ratio), True, imp.inplace_ok(x, node.input[0])), node)
