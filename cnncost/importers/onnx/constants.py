"""Constant folding: the nodes that read no activation (shape arithmetic, Constant, reshaped
weights, stochastic depth's noise) are evaluated here, with onnx's reference implementation."""
from __future__ import annotations

from typing import Any, cast

from ..graphbuild import Unsupported
from .values import SHAPE_ONLY, Noise, W, scalar


def fold(node: Any, inputs: list[Any], attrs: dict, opsets: Any) -> Any:
    """The value of a node that reads no activation (`opsets`: the model's opset_import). A random
    op gives Noise; anything computing with a data-less weight stays unknown."""
    import numpy as np
    op = node.op_type
    if op == "Shape" and isinstance(inputs[0], W):
        return shape_of(inputs[0].shape, attrs)
    if op in ("RandomUniformLike", "RandomNormalLike", "Bernoulli"):
        src = inputs[0]
        return Noise(tuple(src.shape) if isinstance(src, W) else tuple(np.asarray(src).shape))
    if op in ("RandomUniform", "RandomNormal"):
        return Noise(tuple(attrs.get("shape", ())))
    if any(isinstance(v, Noise) for v in inputs):
        return _noise(node, inputs)
    if inputs and isinstance(inputs[0], W) and op in SHAPE_ONLY and (
            inputs[0].data is None or inputs[0].data.dtype.kind == "f"):
        return _weight_op(node, inputs, attrs, opsets)
    arrays: list[Any] = []
    for v in inputs:
        if v is None:
            arrays.append(None)
        elif isinstance(v, W):
            if v.data is None:
                raise Unsupported(f"computes with weight '{v.name}'")
            arrays.append(v.data)
        else:
            arrays.append(np.asarray(v))
    if op == "Constant":
        return _constant_attr(attrs)
    if op == "Identity":
        return arrays[0]
    return _evaluate(node, arrays, attrs, opsets)


def _evaluate(node: Any, arrays: list[Any], attrs: dict, opsets: Any) -> Any:
    import onnx
    from onnx.reference import ReferenceEvaluator
    op = node.op_type
    names = [f"i{k}" if a is not None else "" for k, a in enumerate(arrays)]
    outs = [f"o{k}" for k in range(len(node.output))]
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node(op, names, outs, **attrs)], "c",
        [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in zip(names, arrays) if n],
        [onnx.helper.make_empty_tensor_value_info(o) for o in outs])
    opset_ids = [onnx.helper.make_opsetid(o.domain, o.version) for o in opsets]
    try:
        result = cast("list[Any]", ReferenceEvaluator(onnx.helper.make_model(graph, opset_imports=opset_ids)).run(
            None, {n: a for n, a in zip(names, arrays) if n}))  # not `intermediate`: the outputs, in order
    except Exception as error:  # noqa: BLE001
        raise Unsupported(f"cannot fold a constant {op}: {error}") from None
    return list(result) if len(result) > 1 else result[0]


def _weight_op(node: Any, inputs: list[Any], attrs: dict, opsets: Any) -> W:
    """A weight without data passed through a shape-only op: the same weight, reshaped.
    Identity makes a distinct weight (the TorchScript exporter dedupes equal initializers
    through Identity nodes: they are different parameters of the model)."""
    import numpy as np
    w, op = inputs[0], node.op_type
    probe = w.data if w.data is not None else np.zeros(w.shape, dtype=np.float32)
    result = np.asarray(probe) if op in ("Identity", "Cast", "CastLike") else \
        np.asarray(fold(node, [probe] + inputs[1:], attrs, opsets))
    data = result if w.data is not None else None
    name = node.output[0] if op == "Identity" else w.name
    return W(name, tuple(int(d) for d in result.shape), data)


def _constant_attr(attrs: dict) -> Any:
    import numpy as np
    from onnx import numpy_helper
    if "value" in attrs:
        value = attrs["value"]
        return numpy_helper.to_array(value) if hasattr(value, "dims") else np.asarray(value)
    for key in ("value_float", "value_int", "value_floats", "value_ints"):
        if key in attrs:
            return np.asarray(attrs[key])
    raise Unsupported("a Constant without a value")


def _noise(node: Any, inputs: list[Any]) -> Noise:
    """Stochastic depth's mask in the making: noise < keep, cast, scaled."""
    noise = next(v for v in inputs if isinstance(v, Noise))
    op = node.op_type
    if op == "Less" and inputs[0] is noise and scalar(inputs[1]) is not None:
        return Noise(noise.shape, scalar(inputs[1]))
    if op in ("Cast", "Div", "Identity", "CastLike", "Mul"):
        return noise
    raise Unsupported(f"{op} of a random tensor")


def shape_of(full: tuple[int, ...], attrs: dict) -> Any:
    """Shape(x)[start:end], as int64 like ONNX's."""
    import numpy as np
    start, end = attrs.get("start", 0), attrs.get("end")
    return np.asarray(full[start:end], dtype=np.int64)
