"""An ONNX file as a cnncost Net, with the `onnx` package alone (no torch, no onnxruntime).

Weights need only their shapes: a file exported with `export_params=False` (weights as graph
inputs with static shapes) imports the same as one holding them. BatchNormalization keeps its scale
and bias as params and its mean and variance as buffers (not params), as in PyTorch.

Row paths come from the node names or metadata that torch's exporters write: the TorchScript
exporter's scoped names (`/layer1/layer1.0/conv1/Conv`) or the torch.export-based exporter's
`pkg.torch.onnx.name_scopes`; a module scope that holds one op is that op's row at the module's
path (`layer1.0.conv1`), as `from_torch` names it. Without them, rows are named after the nodes.

Operators: Conv, ConvTranspose, Gemm, MatMul (+ Add: a channels-last linear is a 1x1 conv),
BatchNormalization, LayerNormalization, GroupNormalization, InstanceNormalization, LRN, Relu, Clip,
LeakyRelu, Sigmoid (with Mul: SiLU), HardSigmoid, HardSwish, Tanh, Gelu, Mish, Softmax, Dropout,
MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean over H and W, Flatten, Reshape,
Transpose (channels-last and channel shuffle), Concat, Split and Slice (channel chunks), Add, Mul
(gate, layer scale, a constant into a scaled add), Div by a constant, Resize, Pad, DepthToSpace,
Identity; shape arithmetic (Shape, Gather, Unsqueeze, Concat, Constant...) is folded; stochastic
depth (RandomUniformLike, Less, Cast, Div, Mul) and Dropout of a training-mode export are kept.

ONNX does not say which activations ran in place; an activation is taken as in place when it is
the only reader of a tensor that a layer made (torchvision's and timm's convention), which is what
the saved-bytes model needs (docs/import.md).
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import CnnCostError
from ..layers import (GELU, LRN, AdaptiveMaxPool, Add, AvgPool, BatchNorm, ChannelShuffle, Chunk, ConcatMerge,
                      Conv, ConvTranspose, Dropout, Flatten, GlobalAvgPool, GroupNorm, Hardsigmoid, Hardswish,
                      Hardtanh, Identity, InstanceNorm, Layer, LayerNorm, LayerScale, LeakyReLU, Linear, MaxPool,
                      Mish, Mul, Pad, PixelShuffle, ReLU, ReLU6, Sigmoid, SiLU, Softmax, StochasticDepth, Tanh,
                      Upsample)
from ..layers.reshape import chunk_sizes
from ..net import Net
from ..shapes import Shape, numel
from .graphbuild import TV, GraphBuilder, Scope, Unsupported, plain
from ..layers.imported import Opaque, Reshape

__all__ = ["from_onnx"]


@dataclass
class W:
    """A weight (initializer or weight input): name, full shape, data when the file has it."""

    name: str
    shape: tuple[int, ...]
    data: Any = None


@dataclass
class Noise:
    """A random tensor (stochastic depth's noise): full shape and keep probability."""

    shape: tuple[int, ...]
    keep: float | None = None


@dataclass
class Parts:
    """Split outputs along the channels."""

    src: TV
    chunks: int
    sizes: list[int]
    made: dict[int, TV] = field(default_factory=dict)


_OP_NAMES = {"BatchNormalization": "bn", "LayerNormalization": "norm", "GroupNormalization": "norm",
             "InstanceNormalization": "norm", "GlobalAveragePool": "avgpool", "AveragePool": "avgpool",
             "GlobalMaxPool": "maxpool", "MaxPool": "maxpool", "ReduceMean": "mean", "Gemm": "fc",
             "MatMul": "fc", "Concat": "concat", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish",
             "Resize": "upsample", "DepthToSpace": "pixel_shuffle"}


def from_onnx(path: str | os.PathLike[str], *, name: str | None = None, allow_unknown: bool = False,
              input: Shape | None = None) -> Net:
    """The cnncost Net of an ONNX model file (one image input, N x C x H x W).

    `input` overrides a symbolic or missing input size (C, H, W). Needs only the `onnx` package."""
    try:
        import onnx
    except ImportError:
        raise CnnCostError("importing an ONNX file needs the onnx package: pip install onnx "
                           "(or cnncost[onnx])") from None
    source = os.fspath(path)
    try:
        model = onnx.load(source, load_external_data=False)
    except FileNotFoundError:
        raise CnnCostError(f"no such ONNX file: {source}") from None
    except Exception as error:  # noqa: BLE001 - a corrupt or non-ONNX file
        raise CnnCostError(f"{source}: not a readable ONNX model: {type(error).__name__}: "
                           f"{str(error).splitlines()[0][:200] if str(error) else ''}") from None
    base = os.path.splitext(os.path.basename(source))[0]
    try:
        return _OnnxImporter(model, name or base, allow_unknown, input, source).run()
    except CnnCostError as error:
        raise error.at(source=source) from None


class _OnnxImporter:
    def __init__(self, model: Any, name: str, allow_unknown: bool, input: Shape | None, source: str) -> None:
        import onnx
        from onnx import numpy_helper
        self.onnx, self.numpy_helper = onnx, numpy_helper
        self.model, self.graph = model, model.graph
        self.allow_unknown, self.source = allow_unknown, source
        self.values: dict[str, Any] = {}
        self.owner: dict[str, int] = {}  # weight name -> leaf that counts it
        self.opaque: list[str] = []
        self.skip: set[int] = set()
        self.fused: dict[int, Any] = {}
        init_names = {t.name for t in self.graph.initializer}
        for t in self.graph.initializer:
            data = None
            if t.data_location != onnx.TensorProto.EXTERNAL and numel(tuple(t.dims) or (1,)) <= 4096:
                try:
                    data = numpy_helper.to_array(t)
                except Exception:  # noqa: BLE001
                    data = None
            self.values[t.name] = W(t.name, tuple(int(d) for d in t.dims), data)
        data_inputs = [i for i in self.graph.input if i.name not in init_names]
        if not data_inputs:
            raise CnnCostError("the ONNX graph has no input")
        first, weights = data_inputs[0], data_inputs[1:]
        dims = self._dims(first)
        if len(dims) != 4 and input is None:
            raise CnnCostError(f"input '{first.name}' has shape {dims}; cnncost imports N x C x H x W image "
                               "models (give --input CxHxW for a symbolic size)")
        self.batch = dims[0] if dims and isinstance(dims[0], int) else 2
        shape = tuple(input) if input is not None else tuple(dims[1:])
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise CnnCostError(f"input '{first.name}' has a symbolic size {dims}; give --input CxHxW")
        self.input_shape = tuple(int(d) for d in shape)
        for w in weights:
            wd = self._dims(w)
            if not all(isinstance(d, int) for d in wd):
                raise CnnCostError(f"graph input '{w.name}' ({wd}) is a second data input; cnncost imports "
                                   "single-input models")
            self.values[w.name] = W(w.name, tuple(wd))
        self.builder = GraphBuilder(name, self.input_shape)
        self.values[first.name] = TV(0, self.input_shape)
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.graph.node):
            for n in node.input:
                if n:
                    self.consumers.setdefault(n, []).append(i)
        self.outputs_read = {o.name for o in self.graph.output}
        self.node: Any = None
        self.index = 0

    @staticmethod
    def _dims(value_info: Any) -> list[Any]:
        t = value_info.type.tensor_type
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]

    # --- driving ---

    def run(self) -> Net:
        for i, node in enumerate(self.graph.node):
            if i in self.skip:
                continue
            self.node, self.index = node, i
            inputs = [self.values.get(n) if n else None for n in node.input]
            missing = [n for n, v in zip(node.input, inputs) if n and v is None]
            if missing:
                raise CnnCostError(f"node {node.name or node.op_type} reads '{missing[0]}', which nothing defines")
            attrs = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
            try:
                outs = self._node(node, inputs, attrs)
            except Unsupported as why:
                outs = self._unknown(node, inputs, str(why))
            if not isinstance(outs, list):
                outs = [outs]
            for name, value in zip(node.output, outs):
                if name:
                    self.values[name] = value
        outputs = []
        for o in self.graph.output:
            v = self.values.get(o.name)
            if isinstance(v, TV):
                outputs.append(self._plain(v).leaf)
        notes = f"imported from ONNX: {os.path.basename(self.source)} (opset " + ", ".join(
            f"{o.domain or 'ai.onnx'} {o.version}" for o in self.model.opset_import) + f") at " \
            f"{'x'.join(map(str, self.input_shape))}"
        if self.opaque:
            notes += f"; {len(self.opaque)} opaque node(s) with unknown MACs and saved bytes: " + "; ".join(self.opaque[:20])
        net = self.builder.finish(outputs, notes)
        from ..graph import compile
        compile(net)
        return net

    def _node(self, node: Any, inputs: list[Any], attrs: dict) -> Any:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"custom domain {node.domain}")
        if all(not isinstance(v, (TV, Parts)) for v in inputs if v is not None) and op not in _NEEDS_WEIGHTS:
            return self._constant(node, inputs, attrs)
        handler = HANDLERS.get(op)
        if handler is None:
            raise Unsupported("")
        return handler(self, node, inputs, attrs)

    # --- constants ---

    def _constant(self, node: Any, inputs: list[Any], attrs: dict) -> Any:
        """Shape arithmetic and constants: evaluated with onnx's reference implementation. A
        random op gives Noise; anything reading a data-less weight stays unknown."""
        import numpy as np
        op = node.op_type
        if op == "Shape" and isinstance(inputs[0], W):
            return _shape_of(inputs[0].shape, attrs)
        if op in ("RandomUniformLike", "RandomNormalLike", "Bernoulli"):
            src = inputs[0]
            shape = tuple(src.shape) if isinstance(src, W) else tuple(np.asarray(src).shape)
            return Noise(shape)
        if op in ("RandomUniform", "RandomNormal"):
            return Noise(tuple(attrs.get("shape", ())))
        if any(isinstance(v, Noise) for v in inputs):
            return self._noise(node, inputs, attrs)
        if inputs and isinstance(inputs[0], W) and op in _SHAPE_ONLY and (
                inputs[0].data is None or inputs[0].data.dtype.kind == "f"):
            return self._weight_op(node, inputs, attrs)
        arrays = []
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
            return self._constant_attr(attrs)
        if op == "Identity":
            return arrays[0]
        from onnx.reference import ReferenceEvaluator
        onnx = self.onnx
        names = [f"i{k}" if a is not None else "" for k, a in enumerate(arrays)]
        outs = [f"o{k}" for k in range(len(node.output))]
        graph = onnx.helper.make_graph(
            [onnx.helper.make_node(op, names, outs, **attrs)], "c",
            [onnx.helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
             for n, a in zip(names, arrays) if n],
            [onnx.helper.make_empty_tensor_value_info(o) for o in outs])
        opsets = [onnx.helper.make_opsetid(o.domain, o.version) for o in self.model.opset_import]
        try:
            result = ReferenceEvaluator(onnx.helper.make_model(graph, opset_imports=opsets)).run(
                None, {n: a for n, a in zip(names, arrays) if n})
        except Exception as error:  # noqa: BLE001
            raise Unsupported(f"cannot fold a constant {op}: {error}") from None
        return list(result) if len(result) > 1 else result[0]

    def _weight_op(self, node: Any, inputs: list[Any], attrs: dict) -> W:
        """A weight without data passed through a shape-only op: the same weight, reshaped.
        Identity makes a distinct weight (the TorchScript exporter dedupes equal initializers
        through Identity nodes: they are different parameters of the model)."""
        import numpy as np
        w, op = inputs[0], node.op_type
        probe = w.data if w.data is not None else np.zeros(w.shape, dtype=np.float32)
        result = np.asarray(probe) if op in ("Identity", "Cast", "CastLike") else \
            np.asarray(self._constant(node, [probe] + inputs[1:], attrs))
        data = result if w.data is not None else None
        name = node.output[0] if op == "Identity" else w.name
        return W(name, tuple(int(d) for d in result.shape), data)

    def _constant_attr(self, attrs: dict) -> Any:
        import numpy as np
        if "value" in attrs:
            value = attrs["value"]
            return self.numpy_helper.to_array(value) if hasattr(value, "dims") else np.asarray(value)
        for key in ("value_float", "value_int", "value_floats", "value_ints"):
            if key in attrs:
                return np.asarray(attrs[key])
        raise Unsupported("a Constant without a value")

    def _noise(self, node: Any, inputs: list[Any], attrs: dict) -> Noise:
        import numpy as np
        noise = next(v for v in inputs if isinstance(v, Noise))
        op = node.op_type
        if op == "Less" and inputs[0] is noise and _scalar(inputs[1]) is not None:
            return Noise(noise.shape, _scalar(inputs[1]))
        if op in ("Cast", "Div", "Identity", "CastLike", "Mul"):
            return noise
        raise Unsupported(f"{op} of a random tensor")

    # --- helpers ---

    def scopes(self, node: Any) -> tuple[list[Scope], str]:
        quals: list[str] = []
        meta = {p.key: p.value for p in node.metadata_props}
        text = meta.get("pkg.torch.onnx.name_scopes")
        if text:
            try:
                names = [str(s) for s in ast.literal_eval(text)]
            except (ValueError, SyntaxError):
                names = []
            names = [s for s in names[:-1] if s]  # the last is the aten op
            prev = ""
            for s in names:
                q = s if (not prev or s.startswith(prev + ".")) else f"{prev}.{s}"
                quals.append(q)
                prev = q
        elif node.name.startswith("/"):
            quals = [s for s in node.name.split("/")[1:-1] if s]
        scopes: list[Scope] = []
        prev = ""
        for q in quals:
            if prev and q.startswith(prev + "."):
                parts = q[len(prev) + 1:].split(".")
            elif not prev:
                parts = q.split(".")
            else:
                parts = [q.replace(".", "_")]
            for j, part in enumerate(parts):
                partial = ".".join(parts[:j + 1])
                full = f"{prev}.{partial}" if prev else partial
                scopes.append(Scope(full, _safe(part), is_call=j == len(parts) - 1))
            prev = q
        if quals:
            base = _OP_NAMES.get(node.op_type, node.op_type.lower())
        else:
            base = _safe(node.name) if node.name else _OP_NAMES.get(node.op_type, node.op_type.lower())
        return scopes, base

    def emit(self, layer: Layer, inputs: list[TV], shape: Shape, *, weights: list[W] = (), form: str = "std",
             base: str | None = None) -> TV:
        scopes, name = self.scopes(self.node)
        names = [w.name for w in weights]
        owned = [self.owner[n] for n in names if n in self.owner]
        # all its weights counted already: a module called again; only some: an exporter merged equal
        # constants (a zero bias) of different layers, which are counted as the layers' own
        shared = owned[0] if owned and len(owned) == len(names) else None
        cshape = (shape[2], shape[0], shape[1]) if form == "nhwc" else tuple(shape)
        index = self.builder.emit(scopes, base or name, layer, [v.leaf for v in inputs], cshape, functional=True,
                                  shared_of=shared)
        if shared is None:
            for n in names:
                self.owner[n] = index
        return TV(index, tuple(shape), form)

    def _plain(self, v: Any, forms: tuple[str, ...] = ("std",)) -> TV:
        if isinstance(v, Parts):
            raise Unsupported("reads a split")
        return plain(v, forms)

    def cshape(self, v: TV) -> Shape:
        return self.builder.shapes[v.leaf] if v.form != "std" else v.shape

    def only_reader(self, name: str) -> int | None:
        readers = self.consumers.get(name, [])
        if len(readers) == 1 and name not in self.outputs_read:
            return readers[0]
        return None

    def inplace_ok(self, x: TV, name: str) -> bool:
        """ONNX does not record in-place ops: an activation runs in place when it is the only reader
        of a new tensor (not the input, not a view)."""
        if x.leaf == 0 or self.only_reader(name) is None:
            return False
        leaf = self.builder.leaves[x.leaf]
        return leaf is not None and leaf.layer.creates_tensor()

    def _unknown(self, node: Any, inputs: list[Any], why: str) -> Any:
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        scopes, base = self.scopes(node)
        where = ".".join(s.name for s in scopes) or node.name or op
        if not self.allow_unknown:
            raise CnnCostError(f"unsupported ONNX operator {op} at '{where}'" + (f" ({why})" if why else "")
                               + "; import with --allow-unknown (allow_unknown=True) to keep it as an opaque node "
                               "with unknown counts")
        tensors = [TV(v.leaf, v.shape) for v in inputs if isinstance(v, TV)] or [TV(0, self.input_shape)]
        weights = [v for v in inputs if isinstance(v, W) and v.data is None or isinstance(v, W) and v.data is not None
                   and v.data.dtype.kind == "f" and v.data.size > 1]
        new = [w for w in weights if w.name not in self.owner]
        shape = self._guess_shape(node, tensors)
        layer = Opaque(op=f"onnx.{op}", shape=shape, weights=sum(numel(w.shape) for w in new))
        v = self.emit(layer, tensors, shape, weights=new)
        self.opaque.append(f"{self.builder.leaves[v.leaf].path}: onnx.{op}")
        return [v] + [None] * (len(node.output) - 1)

    def _guess_shape(self, node: Any, tensors: list[TV]) -> Shape:
        """The output shape from the file's value_info (shape inference), else the input's."""
        known = {vi.name: vi for vi in list(self.graph.value_info) + list(self.graph.output)}
        info = known.get(node.output[0])
        if info is not None:
            dims = self._dims(info)
            if len(dims) >= 2 and all(isinstance(d, int) and d > 0 for d in dims[1:]):
                return tuple(dims[1:])
        return tensors[0].shape

    def base_weight(self, name: str) -> W | None:
        """The weight a value is a reshaped copy of (followed back through shape-only nodes)."""
        if not hasattr(self, "_producers"):
            self._producers = {out: node for node in self.graph.node for out in node.output}
        for _ in range(8):
            value = self.values.get(name)
            if isinstance(value, W):
                return value
            node = self._producers.get(name)
            if node is None or node.op_type not in _SHAPE_ONLY:
                return None
            name = node.input[0]
        return None

    def weight(self, v: Any, what: str) -> W:
        if not isinstance(v, W) and hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f":
            return W(f"{self.node.output[0]}:{what}", tuple(int(d) for d in v.shape), v)  # folded to a constant
        if not isinstance(v, W):
            raise Unsupported(f"{what} is computed, not a weight")
        return v


def _safe(text: str) -> str:
    out = re.sub(r"[./\s]+", "_", text).strip("_")
    return out or "node"


def _ints(value: Any) -> tuple[int, ...]:
    import numpy as np
    return tuple(int(v) for v in np.asarray(value).reshape(-1))


def _pair_or_int(values: tuple[int, ...]) -> Any:
    if len(values) == 1:
        return values[0]
    return values[0] if values[0] == values[1] else (values[0], values[1])


def _scalar(v: Any) -> float | None:
    import numpy as np
    if isinstance(v, W):
        v = v.data
    if v is None:
        return None
    a = np.asarray(v)
    if a.size != 1 or a.dtype.kind not in "fiub":
        return None
    return float(a.reshape(-1)[0])


def _window(attrs: dict, x: TV, kernel: tuple[int, ...]) -> dict:
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise Unsupported(f"auto_pad {attrs['auto_pad']!r}")
    if pads[:2] != pads[2:]:
        raise Unsupported(f"asymmetric pads {list(pads)}")
    return {"stride": _pair_or_int(tuple(attrs.get("strides", (1, 1)))), "padding": _pair_or_int(pads[:2])}


# ----------------------------------------------------------------------------- handlers

def _conv(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    w = imp.weight(inputs[1], "the conv weight")
    b = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    if len(w.shape) != 4:
        raise Unsupported("a conv that is not 2-D")
    kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
    window = _window(attrs, x, kernel)
    layer = Conv(out=int(w.shape[0]), kernel=_pair_or_int(kernel), dilation=_pair_or_int(tuple(attrs.get("dilations", (1, 1)))),
                 groups=int(attrs.get("group", 1)), bias=b is not None, **window)
    return imp.emit(layer, [x], layer.out_shape(x.shape), weights=[w] + ([imp.weight(b, "the conv bias")] if b is not None else []))


def _conv_t(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    w = imp.weight(inputs[1], "the weight")
    b = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    groups = int(attrs.get("group", 1))
    kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if pads[:2] != pads[2:] or "output_shape" in attrs:
        raise Unsupported("asymmetric pads or output_shape")
    layer = ConvTranspose(out=int(w.shape[1]) * groups, kernel=_pair_or_int(kernel),
                          stride=_pair_or_int(tuple(attrs.get("strides", (1, 1)))), padding=_pair_or_int(pads[:2]),
                          output_padding=_pair_or_int(tuple(attrs.get("output_padding", (0, 0)))),
                          dilation=_pair_or_int(tuple(attrs.get("dilations", (1, 1)))), groups=groups, bias=b is not None)
    return imp.emit(layer, [x], layer.out_shape(x.shape), weights=[w] + ([imp.weight(b, "the bias")] if b is not None else []))


def _gemm(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    w = imp.weight(inputs[1], "the weight")
    c = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    if attrs.get("transA", 0) or len(x.shape) != 1 or attrs.get("alpha", 1.0) != 1.0:
        raise Unsupported("a Gemm that is not a linear layer")
    out = w.shape[0] if attrs.get("transB", 0) else w.shape[1]
    weights = [w] + ([imp.weight(c, "the bias")] if c is not None else [])
    return imp.emit(Linear(out=int(out), bias=c is not None), [x], (int(out),), weights=weights)


def _matmul(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """x @ W (+ b in the Add that follows): a linear on a flat vector, or on the channels of a
    channels-last map (a 1x1 conv)."""
    x = imp._plain(inputs[0], ("std", "nhwc"))
    w = imp.weight(inputs[1], "the weight")
    if len(w.shape) != 2:
        raise Unsupported("a batched MatMul")
    out = int(w.shape[1])
    weights, bias = [w], False
    reader = imp.only_reader(node.output[0])
    if reader is not None:
        add = imp.graph.node[reader]
        if add.op_type == "Add":
            other = [n for n in add.input if n != node.output[0]]
            bv = imp.values.get(other[0]) if other else None
            if isinstance(bv, W) and bv.shape == (out,):
                weights.append(bv)
                bias = True
                imp.skip.add(reader)
                node = add
    imp.node = node
    if x.form == "nhwc":
        shape = (*x.shape[:2], out)
        return _alias_out(imp, imp.emit(Conv(out=out, kernel=1, bias=bias), [x], shape, weights=weights, form="nhwc"))
    if len(x.shape) != 1:
        raise Unsupported("MatMul of a map")
    return _alias_out(imp, imp.emit(Linear(out=out, bias=bias), [x], (out,), weights=weights))


def _alias_out(imp: _OnnxImporter, v: TV) -> TV:
    imp.values[imp.node.output[0]] = v  # a fused Add: its output names the fused layer
    return v


def _batchnorm(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp._plain(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    layer = BatchNorm(eps=float(attrs.get("epsilon", 1e-5)), momentum=round(1 - float(attrs.get("momentum", 0.9)), 6))
    v = imp.emit(layer, [x], x.shape, weights=[scale, bias])
    return [v] + [None] * (len(node.output) - 1)


def _layernorm(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0], ("std", "nhwc"))
    scale = imp.weight(inputs[1], "the scale")
    bias = inputs[2] if len(inputs) > 2 and inputs[2] is not None else None
    if bias is None:
        raise Unsupported("layer norm without a bias")
    axis = int(attrs.get("axis", -1)) % (len(x.shape) + 1)
    eps = float(attrs.get("epsilon", 1e-5))
    if x.form == "nhwc" and axis == 3:
        layer, form = LayerNorm(over="channels", eps=eps), "nhwc"
    elif x.form == "std" and axis == 1:
        layer, form = LayerNorm(over="chw", eps=eps), "std"
    else:
        raise Unsupported(f"layer norm from axis {axis} of a {x.form} tensor")
    return imp.emit(layer, [x], x.shape, weights=[scale, imp.weight(bias, "the bias")], form=form)


def _groupnorm(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    return imp.emit(GroupNorm(groups=int(attrs["num_groups"]), eps=float(attrs.get("epsilon", 1e-5))), [x], x.shape,
                    weights=[scale, bias])


def _instancenorm(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    scale, bias = imp.weight(inputs[1], "the scale"), imp.weight(inputs[2], "the bias")
    return imp.emit(InstanceNorm(eps=float(attrs.get("epsilon", 1e-5)), affine=True), [x], x.shape,
                    weights=[scale, bias])


def _lrn(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    return imp.emit(LRN(size=int(attrs["size"]), alpha=float(attrs.get("alpha", 1e-4)),
                        beta=float(attrs.get("beta", 0.75)), k=float(attrs.get("bias", 1.0))), [x], x.shape)


def _activation(make: Callable[[dict, bool], Layer], inplace_capable: bool = True):
    def handle(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
        x = imp._plain(inputs[0], ("std", "nhwc", "grouped", "grouped_t", "regrouped"))
        inplace = inplace_capable and imp.inplace_ok(x, node.input[0])
        v = imp.emit(make(attrs, inplace), [x], x.shape, form=x.form)
        v.groups = x.groups
        return v
    return handle


def _sigmoid(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    """Sigmoid; x * sigmoid(x) (SiLU, as exporters write it) when the Mul that reads it multiplies
    by its own input."""
    x = imp._plain(inputs[0], ("std", "nhwc"))
    reader = imp.only_reader(node.output[0])
    if reader is not None:
        mul = imp.graph.node[reader]
        if mul.op_type == "Mul" and sorted(mul.input) == sorted([node.input[0], node.output[0]]):
            imp.skip.add(reader)
            readers = [r for r in imp.consumers.get(node.input[0], []) if r != reader and r != imp.index]
            inplace = not readers and node.input[0] not in imp.outputs_read and x.leaf != 0 \
                and imp.builder.leaves[x.leaf].layer.creates_tensor()
            imp.node = mul
            v = imp.emit(SiLU(inplace=inplace), [x], x.shape, form=x.form)
            imp.values[mul.output[0]] = v
            imp.node = node
            return v
    return imp.emit(Sigmoid(), [x], x.shape, form=x.form)


def _clip(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0], ("std", "nhwc"))
    lo = _scalar(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    hi = _scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    if lo is None or hi is None:
        if lo == 0 and hi is None:
            return imp.emit(ReLU(inplace=imp.inplace_ok(x, node.input[0])), [x], x.shape, form=x.form)
        raise Unsupported("Clip without both bounds")
    inplace = imp.inplace_ok(x, node.input[0])
    layer = ReLU6(inplace=inplace) if (lo, hi) == (0, 6) else Hardtanh(min_val=float(lo), max_val=float(hi))
    return imp.emit(layer, [x], x.shape, form=x.form)


def _hardsigmoid(attrs: dict, inplace: bool) -> Layer:
    alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    if abs(alpha - 1 / 6) > 1e-6 or abs(beta - 0.5) > 1e-6:
        raise Unsupported(f"HardSigmoid alpha {alpha:g} beta {beta:g} (PyTorch's is 1/6, 0.5)")
    return Hardsigmoid()


def _softmax(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    axis = int(attrs.get("axis", -1)) % (len(x.shape) + 1)
    if axis != 1:
        raise Unsupported(f"softmax over axis {axis}")
    return imp.emit(Softmax(), [x], x.shape)


def _dropout(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp._plain(inputs[0], ("std", "nhwc"))
    ratio = _scalar(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attrs.get("ratio", 0.5)
    training = _scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else 0
    if not training or not ratio:
        return [x] + [None] * (len(node.output) - 1)
    v = imp.emit(Dropout(p=float(ratio), inplace=imp.inplace_ok(x, node.input[0])), [x], x.shape, form=x.form)
    return [v] + [None] * (len(node.output) - 1)


def _maxpool(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp._plain(inputs[0])
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("max pool returning indices")
    kernel = tuple(attrs["kernel_shape"])
    if tuple(attrs.get("dilations", (1, 1))) != (1, 1):
        raise Unsupported("dilated max pool")
    window = _window(attrs, x, kernel)
    layer = MaxPool(kernel=_pair_or_int(kernel), ceil_mode=bool(attrs.get("ceil_mode", 0)), **window)
    return [imp.emit(layer, [x], layer.out_shape(x.shape))]


def _avgpool(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    kernel = tuple(attrs["kernel_shape"])
    window = _window(attrs, x, kernel)
    layer = AvgPool(kernel=_pair_or_int(kernel), ceil_mode=bool(attrs.get("ceil_mode", 0)),
                    count_include_pad=bool(attrs.get("count_include_pad", 0)), **window)
    return imp.emit(layer, [x], layer.out_shape(x.shape))


def _global_avg(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    return imp.emit(GlobalAvgPool(), [x], (x.shape[0], 1, 1))


def _global_max(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    return imp.emit(AdaptiveMaxPool(output=1), [x], (x.shape[0], 1, 1))


def _reduce_mean(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0], ("std", "nhwc"))
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = _ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    keep = bool(attrs.get("keepdims", 1))
    if axes is None or len(x.shape) != 3:
        raise Unsupported("a mean over all dimensions")
    spatial = (2, 3) if x.form == "std" else (1, 2)
    if tuple(sorted(a % 4 for a in axes)) != spatial:
        raise Unsupported(f"a mean over axes {list(axes)}")
    c = imp.cshape(x)[0]
    pooled = imp.emit(GlobalAvgPool(), [x], (c, 1, 1))
    if keep:
        return TV(pooled.leaf, (1, 1, c), "nhwc") if x.form == "nhwc" else pooled
    return imp.emit(Flatten(), [pooled], (c,), base="flatten")


def _flatten(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    if int(attrs.get("axis", 1)) != 1:
        raise Unsupported("flatten at an axis other than 1")
    return _view_to(imp, x, (numel(x.shape),))


def _group_norm_pattern(imp: _OnnxImporter, node: Any, x: TV, out: list[int]) -> TV | None:
    """The TorchScript exporter's GroupNorm: Reshape to (N, G, -1), InstanceNormalization with unit
    scale, Reshape back, Mul by the weight, Add the bias."""
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
    v = imp.emit(GroupNorm(groups=groups, eps=eps, affine=bool(weights)), [x], x.shape, weights=weights)
    imp.values[last.output[0]] = v
    imp.node = node
    return v


def _reshape(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    import numpy as np
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("reshape of a split")
    target = inputs[1]
    if isinstance(target, W):
        target = target.data
    if target is None:
        raise Unsupported("reshape to a computed shape")
    dims = list(_ints(target))
    full = [imp.batch, *x.shape]
    allowzero = int(attrs.get("allowzero", 0))
    out = []
    for i, d in enumerate(dims):
        out.append(full[i] if d == 0 and not allowzero else d)
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        out[out.index(-1)] = numel(tuple(full)) // known
    if out[0] != imp.batch:
        raise Unsupported(f"reshape to {out}, which moves the batch dimension")
    grouped = _group_norm_pattern(imp, node, x, out)
    if grouped is not None:
        return grouped
    return _view_to(imp, x, tuple(out[1:]))


def _view_to(imp: _OnnxImporter, x: TV, y: Shape) -> TV:
    if x.scale is not None:
        raise Unsupported("a view of a scaled tensor")
    if x.form == "grouped_t":
        if y == imp.cshape(x):
            return imp.emit(ChannelShuffle(groups=x.groups), [TV(x.leaf, imp.cshape(x))], y, base="shuffle")
        raise Unsupported("a view of a transposed tensor")
    if x.form in ("grouped", "regrouped"):
        if y == imp.cshape(x):
            return TV(x.leaf, y)
        raise Unsupported("a view of a grouped tensor")
    if x.form != "std":
        raise Unsupported(f"a view of a {x.form} tensor")
    if y == x.shape:
        return x
    if len(x.shape) == 3 and len(y) == 4 and y[0] * y[1] == x.shape[0] and y[2:] == x.shape[1:]:
        return TV(x.leaf, y, "grouped", groups=y[0])
    if len(y) == 1 and len(x.shape) == 3:
        return imp.emit(Flatten(), [x], y, base="flatten")
    return imp.emit(Reshape(shape=y), [x], y, base="view")


def _transpose(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    if not isinstance(x, TV) or x.scale is not None:
        raise Unsupported("transpose of a non-tensor")
    perm = tuple(attrs.get("perm", ()))
    if x.form == "std" and len(x.shape) == 3 and perm == (0, 2, 3, 1):
        c, h, w = x.shape
        return TV(x.leaf, (h, w, c), "nhwc")
    if x.form == "nhwc" and perm == (0, 3, 1, 2):
        return TV(x.leaf, imp.cshape(x))
    if x.form == "grouped" and perm == (0, 2, 1, 3, 4):
        g, cg, h, w = x.shape
        return TV(x.leaf, (cg, g, h, w), "grouped_t", groups=x.groups)
    raise Unsupported(f"transpose {list(perm)} of a {x.form} tensor")


def _concat(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    xs = [imp._plain(v, ("std", "nhwc")) for v in inputs]
    axis = int(attrs.get("axis", 1)) % (len(xs[0].shape) + 1)
    forms = {v.form for v in xs}
    if forms == {"std"} and len(xs[0].shape) == 3 and axis == 1:
        y = ConcatMerge().merge_shape(tuple(v.shape for v in xs))
        return imp.emit(ConcatMerge(), xs, y)
    raise Unsupported(f"concatenation along axis {axis}")


def _split(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> list:
    x = imp._plain(inputs[0])
    axis = int(attrs.get("axis", 0)) % (len(x.shape) + 1)
    if axis != 1 or len(x.shape) != 3:
        raise Unsupported("split along an axis other than the channels")
    sizes = attrs.get("split")
    if sizes is None and len(inputs) > 1 and inputs[1] is not None:
        sizes = _ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    n = len(node.output)
    if sizes is None:
        sizes = chunk_sizes(x.shape[0], n)
    sizes = list(sizes)
    for chunks in range(1, x.shape[0] + 1):
        if chunk_sizes(x.shape[0], chunks) == sizes:
            return [imp.emit(Chunk(chunks=chunks, index=i), [x], (sizes[i], *x.shape[1:]), base="chunk")
                    for i in range(len(sizes))]
    raise Unsupported(f"split into {sizes} channels")


def _slice(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    import numpy as np
    x = imp._plain(inputs[0])

    def const(i: int) -> Any:
        v = inputs[i] if len(inputs) > i else None
        if isinstance(v, W):
            v = v.data
        return None if v is None else _ints(v)
    starts, ends, axes, steps = const(1), const(2), const(3), const(4)
    if starts is None or ends is None:
        raise Unsupported("a slice with computed bounds")
    axes = axes or tuple(range(len(starts)))
    steps = steps or (1,) * len(starts)
    if tuple(a % 4 for a in axes) != (1,) or steps != (1,) or len(x.shape) != 3:
        raise Unsupported("a slice that is not a channel slice")
    c = x.shape[0]
    start, stop, _ = slice(int(np.clip(starts[0], -2**62, 2**62)), int(np.clip(ends[0], -2**62, 2**62))).indices(c)
    for chunks in range(1, c + 1):
        sizes = chunk_sizes(c, chunks)
        edges = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        for i in range(len(sizes)):
            if (edges[i], edges[i + 1]) == (start, stop):
                return imp.emit(Chunk(chunks=chunks, index=i), [x], (stop - start, *x.shape[1:]), base="chunk")
    raise Unsupported(f"channel slice {start}:{stop} of {c}")


def _add(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    a, b = inputs
    if not isinstance(a, TV) or not isinstance(b, TV):
        raise Unsupported("addition of a constant or a weight")
    if a.form != b.form or a.form not in ("std", "nhwc") or a.shape != b.shape:
        raise Unsupported("a broadcast addition")
    if a.scale is not None and b.scale is not None:
        raise Unsupported("addition of two scaled tensors")
    if b.scale is not None:
        a, b = b, a
    scale = a.scale if a.scale is not None else 1.0
    return imp.emit(Add(scale=scale), [TV(a.leaf, a.shape, a.form), TV(b.leaf, b.shape, b.form)], a.shape, form=a.form)


def _mul(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    a, b = inputs
    if not isinstance(a, TV):
        a, b = b, a
    if not isinstance(a, TV):
        raise Unsupported("multiplication")
    if isinstance(b, Noise):
        x = imp._plain(a, ("std", "nhwc"))
        if b.keep is None:
            raise Unsupported("multiplication by random noise")
        mode = "row" if b.shape and b.shape[0] == imp.batch and imp.batch > 1 else "batch"
        return imp.emit(StochasticDepth(p=round(1 - b.keep, 12), mode=mode), [x], x.shape, form=x.form)
    value = _scalar(b) if not isinstance(b, TV) else None
    if value is not None:
        return TV(a.leaf, a.shape, a.form, a.groups, (a.scale or 1.0) * value)
    if isinstance(b, W):
        x = imp._plain(a, ("std", "nhwc"))
        c = imp.cshape(x)[0] if len(x.shape) == 3 else None
        ok = c is not None and numel(b.shape) == c and (
            (x.form == "std" and tuple(b.shape[-3:]) == (c, 1, 1)) or (x.form == "nhwc" and tuple(b.shape[-1:]) == (c,)))
        if not ok:
            raise Unsupported(f"multiplication by a {'x'.join(map(str, b.shape))} weight")
        init = float(b.data.reshape(-1)[0]) if b.data is not None and b.data.size else 1e-6
        return imp.emit(LayerScale(init=init), [x], x.shape, weights=[b], form=x.form)
    if isinstance(b, TV):
        a, b = imp._plain(a, ("std", "nhwc")), imp._plain(b, ("std", "nhwc"))
        if numel(b.shape) > numel(a.shape):
            a, b = b, a
        if a.form == b.form == "std" and len(a.shape) == 3 and b.shape in ((a.shape[0], 1, 1), a.shape):
            return imp.emit(Mul(), [a, b], a.shape)
        if a.form == b.form and a.shape == b.shape:
            return imp.emit(Mul(), [a, b], a.shape, form=a.form)
        raise Unsupported("a broadcast multiplication")
    raise Unsupported("multiplication")


def _div(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    a, b = inputs
    value = _scalar(b)
    if isinstance(a, TV) and value:
        return TV(a.leaf, a.shape, a.form, a.groups, (a.scale or 1.0) / value)
    raise Unsupported("division")


def _resize(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    coord = attrs.get("coordinate_transformation_mode", b"half_pixel")
    coord = coord.decode() if isinstance(coord, bytes) else coord
    scales = inputs[2] if len(inputs) > 2 else None
    sizes = inputs[3] if len(inputs) > 3 else None
    kind = {"nearest": "nearest", "linear": "bilinear"}.get(mode)
    if kind is None:
        raise Unsupported(f"resize mode {mode}")
    align = coord == "align_corners"
    if sizes is not None and not (isinstance(sizes, W) and sizes.data is None):
        s = _ints(sizes.data if isinstance(sizes, W) else sizes)
        if len(s):
            h, w = s[-2:]
            return imp.emit(Upsample(size=_pair_or_int((h, w)), mode=kind, align_corners=align and kind == "bilinear"),
                            [x], (x.shape[0], h, w))
    if scales is not None:
        import numpy as np
        f = np.asarray(scales.data if isinstance(scales, W) else scales, dtype=float).reshape(-1)
        if f.size == 4:
            fh, fw = float(f[2]), float(f[3])
            layer = Upsample(scale_factor=fh if fh == fw else (fh, fw), mode=kind, align_corners=align and kind == "bilinear")
            return imp.emit(layer, [x], layer.out_shape(x.shape))
    raise Unsupported("resize without scales or sizes")


def _pad(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    pads = attrs.get("pads")
    if pads is None and len(inputs) > 1:
        pads = _ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    value = _scalar(inputs[2]) if len(inputs) > 2 and inputs[2] is not None else attrs.get("value", 0.0)
    pads = tuple(int(p) for p in pads)
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise Unsupported(f"pads {list(pads)}")
    top, left, bottom, right = pads[2], pads[3], pads[6], pads[7]
    if mode == "constant" and not value:
        kind = "zeros"
    elif mode == "reflect":
        kind = "reflect"
    else:
        raise Unsupported(f"pad mode {mode}")
    sides = (left, right, top, bottom)
    layer = Pad(padding=left if len(set(sides)) == 1 else sides, mode=kind)
    return imp.emit(layer, [x], layer.out_shape(x.shape))


def _depth_to_space(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = imp._plain(inputs[0])
    mode = attrs.get("mode", b"DCR")
    if (mode.decode() if isinstance(mode, bytes) else mode) != "CRD":
        raise Unsupported("DepthToSpace in DCR mode (PyTorch's pixel_shuffle is CRD)")
    layer = PixelShuffle(factor=int(attrs["blocksize"]))
    return imp.emit(layer, [x], layer.out_shape(x.shape))


def _shape_of(full: tuple[int, ...], attrs: dict) -> Any:
    import numpy as np
    start, end = attrs.get("start", 0), attrs.get("end")
    return np.asarray(full[start:end], dtype=np.int64)


def _shape(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> Any:
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("shape of a split")
    return _shape_of((imp.batch, *x.shape), attrs)


def _squeeze(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> TV:
    x = inputs[0]
    if not isinstance(x, TV):
        raise Unsupported("squeeze of a split")
    axes = attrs.get("axes")
    if axes is None and len(inputs) > 1 and inputs[1] is not None:
        axes = _ints(inputs[1].data if isinstance(inputs[1], W) else inputs[1])
    full = [imp.batch, *x.shape]
    if node.op_type == "Squeeze":
        axes = {a % len(full) for a in (axes if axes is not None else [i for i, d in enumerate(full) if d == 1])}
        if 0 in axes:
            raise Unsupported("squeeze of the batch dimension")
        out = [d for i, d in enumerate(full) if i not in axes]
    else:
        out = list(full)
        rank = len(full) + len(axes)
        for a in sorted(a % rank for a in axes):
            out.insert(a, 1)
        if out[0] != imp.batch or a == 0:
            raise Unsupported("unsqueeze before the batch dimension")
    return _view_to(imp, x, tuple(out[1:]))


def _cast(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> Any:
    return inputs[0]  # a float tensor stays itself (cnncost's dtype is the report's)


def _identity(imp: _OnnxImporter, node: Any, inputs: list[Any], attrs: dict) -> Any:
    return inputs[0]


def _gelu(attrs: dict, inplace: bool) -> Layer:
    return GELU()


HANDLERS: dict[str, Callable] = {
    "Conv": _conv, "ConvTranspose": _conv_t, "Gemm": _gemm, "MatMul": _matmul, "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm, "GroupNormalization": _groupnorm, "InstanceNormalization": _instancenorm,
    "LRN": _lrn,
    "Relu": _activation(lambda a, i: ReLU(inplace=i)),
    "LeakyRelu": _activation(lambda a, i: LeakyReLU(negative_slope=float(a.get("alpha", 0.01)), inplace=i)),
    "HardSwish": _activation(lambda a, i: Hardswish(inplace=i)),
    "HardSigmoid": _activation(_hardsigmoid, inplace_capable=False),
    "Tanh": _activation(lambda a, i: Tanh(), inplace_capable=False),
    "Gelu": _activation(_gelu, inplace_capable=False),
    "Mish": _activation(lambda a, i: Mish(), inplace_capable=False),
    "Sigmoid": _sigmoid, "Clip": _clip, "Softmax": _softmax, "Dropout": _dropout, "MaxPool": _maxpool,
    "AveragePool": _avgpool, "GlobalAveragePool": _global_avg, "GlobalMaxPool": _global_max,
    "ReduceMean": _reduce_mean, "Flatten": _flatten, "Reshape": _reshape, "Transpose": _transpose,
    "Concat": _concat, "Split": _split, "Slice": _slice, "Add": _add, "Mul": _mul, "Div": _div,
    "Resize": _resize, "Upsample": _resize, "Pad": _pad, "DepthToSpace": _depth_to_space, "Identity": _identity,
    "Shape": _shape, "Squeeze": _squeeze, "Unsqueeze": _squeeze, "Cast": _cast, "CastLike": _cast,
}
_NEEDS_WEIGHTS: set[str] = set()
_SHAPE_ONLY = {"Identity", "Cast", "CastLike", "Transpose", "Reshape", "Unsqueeze", "Squeeze"}
