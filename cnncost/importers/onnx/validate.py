"""An ONNX model checked before any number is given (issue 21): a file that contradicts itself is
refused with one line naming the node, not imported with confident figures.

1. Every declared graph output is made by a node, or is a graph input or an initializer.
2. For the weighted ops cnncost maps (Conv, ConvTranspose, the pools, Gemm, BatchNormalization):
   the attributes against the input's rank (kernel_shape, strides and dilations of spatial-rank
   length, pads twice that), and the weights against the kernel, the groups, the input's channels
   and the bias; an initializer that is also a graph input with a declared shape has that shape.
3. `onnx.checker.check_model(full_check=True)`: the format, operator schemas and attributes, and
   ONNX's strict shape inference (an inconsistency between a node and its inputs' shapes); its
   message names the node where ONNX's does.
"""
from __future__ import annotations

from typing import Any

from ...errors import CnnCostError, escape


class InvalidOnnx(CnnCostError):
    """The file contradicts itself: the node and what is wrong."""


def validate(model: Any) -> None:
    """Raise InvalidOnnx (one line) where `model` (a ModelProto) is not a consistent model."""
    graph = model.graph
    _outputs_produced(graph)
    shapes = _shapes(model)
    initializers = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in graph.input:  # a weight given both ways (export_params=False keeps them inputs)
        declared = _dims(value)
        if value.name in initializers and declared is not None and all(isinstance(d, int) for d in declared) \
                and declared != initializers[value.name]:
            raise InvalidOnnx(f"initializer '{escape(value.name, 80)}' has shape {_text(initializers[value.name])} "
                              f"but the graph input of that name declares {_text(declared)}")
    known = {**shapes, **initializers}
    for index, node in enumerate(graph.node):
        check = _CHECKS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if check is not None:
            try:
                check(node, known)
            except InvalidOnnx as error:
                where = node.name or f"#{index}"
                raise InvalidOnnx(f"node '{escape(where, 80)}' ({escape(node.op_type, 40)}): {error.problem}") from None
    _checker(model)


def _checker(model: Any) -> None:
    """ONNX's own checker with strict shape inference (after cnncost's checks, whose messages name
    the node and the weight more precisely)."""
    import onnx
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise InvalidOnnx(f"not a valid ONNX model: {_first_line(error)}") from None
    except ValueError as error:  # a model over 2 GB: the checker needs a path; cnncost's checks only
        if "2GB" not in str(error) and "2 GB" not in str(error):
            raise InvalidOnnx(f"not a valid ONNX model: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return escape(lines[0] if lines else type(error).__name__, 300)


def _outputs_produced(graph: Any) -> None:
    made = {out for node in graph.node for out in node.output if out}
    made |= {value.name for value in graph.input} | {t.name for t in graph.initializer}
    for value in graph.output:
        if value.name not in made:
            raise InvalidOnnx(f"graph output '{escape(value.name, 80)}' is made by no node "
                              f"({len(graph.node)} node(s)) and is no input or initializer")


def _dims(value: Any) -> tuple[Any, ...] | None:
    """A value_info's dims: ints, a name for a symbolic dim, None where it has no shape."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type" or not value.type.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in value.type.tensor_type.shape.dim)


def _shapes(model: Any) -> dict[str, tuple[Any, ...]]:
    """Every value's shape that ONNX's shape inference finds (non-strict here: the checker ran it
    strictly already; a model it cannot infer keeps the shapes it declares)."""
    import onnx
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception:  # noqa: BLE001 - a model over 2 GB, an op without inference: declared shapes
        inferred = model
    graph = inferred.graph
    shapes: dict[str, tuple[Any, ...]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = _dims(value)
        if dims is not None:
            shapes[value.name] = dims
    return shapes


def _attr(node: Any, name: str) -> Any:
    import onnx
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return None


def _text(shape: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _input(node: Any, known: dict[str, tuple[Any, ...]], i: int) -> tuple[Any, ...] | None:
    return known.get(node.input[i]) if len(node.input) > i and node.input[i] else None


def _spatial_attributes(node: Any, spatial: int, kernel_required: bool) -> None:
    kernel = _attr(node, "kernel_shape")
    if kernel is None and kernel_required:
        raise InvalidOnnx("kernel_shape is missing")
    for name, factor in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("pads", 2)):
        value = _attr(node, name)
        if value is not None and len(value) != factor * spatial:
            raise InvalidOnnx(f"{name} has {len(value)} values, the input's {spatial} spatial dim(s) need "
                              f"{factor * spatial}")
        if value is not None and name != "pads" and any(v < 1 for v in value):
            raise InvalidOnnx(f"{name} {list(value)} must be positive")
        if value is not None and name == "pads" and any(v < 0 for v in value):
            raise InvalidOnnx(f"pads {list(value)} must not be negative")


def _int(d: Any) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


def _conv(node: Any, known: dict[str, tuple[Any, ...]], transpose: bool = False) -> None:
    x, w = _input(node, known, 0), _input(node, known, 1)
    if w is None:
        return
    if len(w) < 3:
        raise InvalidOnnx(f"weight '{escape(node.input[1], 80)}' has shape {_text(w)}: a conv's weight has a "
                          "kernel dim at least")
    spatial = len(w) - 2
    if x is not None and len(x) != len(w):
        raise InvalidOnnx(f"input of rank {len(x)} ({_text(x)}) and weight of rank {len(w)} ({_text(w)}) disagree")
    _spatial_attributes(node, spatial, kernel_required=False)
    kernel = _attr(node, "kernel_shape")
    if kernel is not None and all(_int(d) for d in w[2:]) and tuple(kernel) != tuple(w[2:]):
        raise InvalidOnnx(f"kernel_shape {list(kernel)} but the weight '{escape(node.input[1], 80)}' is "
                          f"{_text(w)} (kernel {_text(w[2:])})")
    group = _attr(node, "group") or 1
    if group < 1:
        raise InvalidOnnx(f"group {group} must be positive")
    out_channels = (_int(w[1]) and w[1] * group) if transpose else _int(w[0])
    in_per_group = None if transpose else _int(w[1])
    if not transpose and out_channels and out_channels % group:
        raise InvalidOnnx(f"{out_channels} output channels (weight {_text(w)}) are not divisible by group {group}")
    channels = _int(x[1]) if x is not None and len(x) > 1 else None
    if x is not None and channels and in_per_group and channels != in_per_group * group:
        raise InvalidOnnx(f"the input has {channels} channels ({_text(x)}) but the weight {_text(w)} with group "
                          f"{group} takes {in_per_group * group}")
    if x is not None and channels and transpose and _int(w[0]) and channels != w[0]:
        raise InvalidOnnx(f"the input has {channels} channels ({_text(x)}) but the weight {_text(w)} takes {w[0]}")
    bias = _input(node, known, 2)
    if bias is not None and out_channels and (len(bias) != 1 or (_int(bias[0]) and bias[0] != out_channels)):
        raise InvalidOnnx(f"bias '{escape(node.input[2], 80)}' has shape {_text(bias)}, the {out_channels} output "
                          f"channels need [{out_channels}]")


def _conv_transpose(node: Any, known: dict[str, tuple[Any, ...]]) -> None:
    _conv(node, known, transpose=True)
    x = _input(node, known, 0)
    if x is not None:
        spatial = len(x) - 2
        for name in ("output_padding", "output_shape"):
            value = _attr(node, name)
            if value is not None and len(value) != spatial:
                raise InvalidOnnx(f"{name} has {len(value)} values, the input's {spatial} spatial dim(s) need {spatial}")


def _pool(node: Any, known: dict[str, tuple[Any, ...]]) -> None:
    x = _input(node, known, 0)
    if x is not None and len(x) < 3:
        raise InvalidOnnx(f"input {_text(x)} has no spatial dim")
    if x is not None:
        _spatial_attributes(node, len(x) - 2, kernel_required=True)


def _gemm(node: Any, known: dict[str, tuple[Any, ...]]) -> None:
    a, b = _input(node, known, 0), _input(node, known, 1)
    if a is None or b is None:
        return
    if len(a) != 2 or len(b) != 2:
        raise InvalidOnnx(f"Gemm takes two matrices, got {_text(a)} and {_text(b)}")
    k_a = a[0] if _attr(node, "transA") else a[1]
    k_b = b[1] if _attr(node, "transB") else b[0]
    if _int(k_a) and _int(k_b) and k_a != k_b:
        raise InvalidOnnx(f"A {_text(a)} and B {_text(b)} (transA={_attr(node, 'transA') or 0}, "
                          f"transB={_attr(node, 'transB') or 0}) disagree on the inner size: {k_a} vs {k_b}")
    c = _input(node, known, 2)
    n = b[0] if _attr(node, "transB") else b[1]
    if c is not None and c and _int(c[-1]) and _int(n) and c[-1] not in (1, n):
        raise InvalidOnnx(f"C {_text(c)} does not broadcast to the {n} outputs")


def _batch_norm(node: Any, known: dict[str, tuple[Any, ...]]) -> None:
    x = _input(node, known, 0)
    channels = _int(x[1]) if x is not None and len(x) > 1 else None
    for i, role in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")):
        shape = _input(node, known, i)
        if shape is not None and (len(shape) != 1 or (channels and _int(shape[0]) and shape[0] != channels)):
            raise InvalidOnnx(f"{role} '{escape(node.input[i], 80)}' has shape {_text(shape)}, the input's "
                              f"{channels if channels else 'C'} channels need [{channels if channels else 'C'}]")


_CHECKS = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "LpPool": _pool,
    "Gemm": _gemm,
    "BatchNormalization": _batch_norm,
}
