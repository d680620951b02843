"""The walk over an ONNX graph: each node's inputs are looked up, a node that reads no activation is
folded to a constant (`constants`), any other is mapped onto cnncost layers by its operator's
handler (the table the driver passes in) through `emit`; an op no handler maps becomes an error or
an opaque node.

Rows are named by the module scopes torch's exporters write: the TorchScript exporter's node names
(`/layer1/layer1.0/conv1/Conv`) or the torch.export-based exporter's `pkg.torch.onnx.name_scopes`.
"""
from __future__ import annotations

import ast
import os
from typing import Any, Callable, Sequence

from ...errors import CnnCostError
from ...layers import Arith, Layer, Permute
from ...net import Net
from ...shapes import Shape, numel
from ..graphbuild import TV, GraphBuilder, Scope, Unsupported, channels_first, plain
from ...layers.imported import Opaque
from .constants import fold
from .folding import folded_batch_norms
from .values import SHAPE_ONLY, Fused, W, safe

# Row names of functional ops, by operator (the rest: the operator in lower case).
OP_NAMES = {"BatchNormalization": "bn", "LayerNormalization": "norm", "GroupNormalization": "norm",
            "InstanceNormalization": "norm", "GlobalAveragePool": "avgpool", "AveragePool": "avgpool",
            "GlobalMaxPool": "maxpool", "MaxPool": "maxpool", "ReduceMean": "mean", "Gemm": "fc",
            "MatMul": "fc", "Concat": "concat", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish",
            "Resize": "upsample", "DepthToSpace": "pixel_shuffle"}

Handler = Callable[..., Any]


class OnnxWalker:
    """One import of `model`; `handlers`: operator -> handler `(imp, node, inputs, attrs)`."""

    def __init__(self, model: Any, name: str, allow_unknown: bool, input: Shape | None, source: str,
                 handlers: dict[str, Handler], finders: Sequence[Callable[["OnnxWalker"], dict[int, Fused]]] = ()) -> None:
        import onnx
        self.onnx = onnx
        self.handlers = handlers
        self.model, self.graph = model, model.graph
        self.allow_unknown, self.source = allow_unknown, source
        self.owner: dict[str, int] = {}  # weight name -> leaf that counts it
        self.opaque: list[str] = []
        self.skip: set[int] = set()  # nodes a handler fused into an earlier one (a MatMul's bias Add...)
        self.values: dict[str, Any] = self._initializers()
        first = self._read_inputs(input)
        self.builder = GraphBuilder(name, self.input_shape)
        self.values[first.name] = TV(0, self.input_shape)
        self.consumers: dict[str, list[int]] = {}
        for i, node in enumerate(self.graph.node):
            for n in node.input:
                if n:
                    self.consumers.setdefault(n, []).append(i)
        self.outputs_read = {o.name for o in self.graph.output}
        self.producers = {out: node for node in self.graph.node for out in node.output}
        # patterns that are one row (`attention`: exported sdpa, MultiheadAttention), by their last node;
        # the first finder's patterns win where they overlap
        self.fused: dict[int, Fused] = {}
        for find in finders:
            for last, fused in find(self).items():
                if last not in self.skip and last not in self.fused and not self.skip & set(fused.skip):
                    self.fused[last] = fused
                    self.skip.update(fused.skip)
        self.node: Any = None
        self.index = 0

    def _initializers(self) -> dict[str, Any]:
        """The weights the file holds: their shapes, and their data where it is small (a constant
        a handler reads: a layer scale's init, a shape), else None."""
        from onnx import TensorProto, numpy_helper
        values: dict[str, Any] = {}
        for t in self.graph.initializer:
            data = None
            if t.data_location != TensorProto.EXTERNAL and numel(tuple(t.dims) or (1,)) <= 4096:
                try:
                    data = numpy_helper.to_array(t)
                except Exception:  # noqa: BLE001
                    data = None
            values[t.name] = W(t.name, tuple(int(d) for d in t.dims), data)
        return values

    def _read_inputs(self, input: Shape | None) -> Any:
        """The image input (its shape per sample: `input_shape`, its batch: `batch`); the other graph
        inputs are weights (a file exported with export_params=False)."""
        init_names = {t.name for t in self.graph.initializer}
        data_inputs = [i for i in self.graph.input if i.name not in init_names]
        if not data_inputs:
            raise CnnCostError("the ONNX graph has no input")
        first, weights = data_inputs[0], data_inputs[1:]
        dims = self._dims(first)
        if len(dims) < 2 and input is None:
            raise CnnCostError(f"input '{first.name}' has shape {dims}; cnncost imports a batch of tensors "
                               "(N x C x H x W, N x L x D, N x C x D x H x W...; give --input for a symbolic size)")
        self.batch = dims[0] if dims and isinstance(dims[0], int) else 2
        shape = tuple(input) if input is not None else tuple(dims[1:])
        if not all(isinstance(d, int) and d > 0 for d in shape):
            raise CnnCostError(f"input '{first.name}' has a symbolic size {dims}; give --input (CxHxW, LxD...)")
        self.input_shape = tuple(int(d) for d in shape)
        for w in weights:
            wd = self._dims(w)
            if not all(isinstance(d, int) for d in wd):
                raise CnnCostError(f"graph input '{w.name}' ({wd}) is a second data input; cnncost imports "
                                   "single-input models")
            self.values[w.name] = W(w.name, tuple(wd))
        return first

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
            if missing == node.input[1:2] and node.op_type == "CastLike" and inputs[0] is not None:
                inputs[1] = TV(0, self.input_shape)  # the type of a tensor folded into an sdpa row: the activations'
                missing = []
            if i in self.fused:  # the last node of a pattern: its row
                try:
                    outs = self.fused[i].emit(self, node)
                except Unsupported as why:
                    outs = self._unknown(node, [v for v in inputs if v is not None], str(why))
                for name, value in zip(node.output, outs if isinstance(outs, list) else [outs]):
                    if name:
                        self.values[name] = value
                continue
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
                outputs.append(self.tensor(v).leaf)
        notes = f"imported from ONNX: {os.path.basename(self.source)} (opset " + ", ".join(
            f"{o.domain or 'ai.onnx'} {o.version}" for o in self.model.opset_import) + f") at " \
            f"{'x'.join(map(str, self.input_shape))}"
        if self.opaque:
            notes += (f"; {len(self.opaque)} opaque node(s) with unknown MACs and saved bytes: "
                      + "; ".join(self.opaque[:20]))
        folded = folded_batch_norms(self.model)
        if folded:
            notes += f"; {folded}"
        net = self.builder.finish(outputs, notes)
        from ...graph import compile
        compile(net)
        return net

    def _node(self, node: Any, inputs: list[Any], attrs: dict) -> Any:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"custom domain {node.domain}")
        if all(not isinstance(v, TV) and not getattr(v, "activation", False) for v in inputs if v is not None):
            return fold(node, inputs, attrs, self.model.opset_import)
        handler = self.handlers.get(op)
        if handler is None:
            raise Unsupported("")
        return handler(self, node, inputs, attrs)

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
                scopes.append(Scope(full, safe(part), is_call=j == len(parts) - 1))
            prev = q
        if quals:
            base = OP_NAMES.get(node.op_type, node.op_type.lower())
        else:
            base = safe(node.name) if node.name else OP_NAMES.get(node.op_type, node.op_type.lower())
        return scopes, base

    def emit(self, layer: Layer, inputs: list[TV], shape: Shape, *, base: str | None = None,
             params: Sequence[W] = (), form: str = "std") -> TV:
        """Add `layer` reading `inputs` at the current node's scope; `params`: the weights it owns."""
        scopes, name = self.scopes(self.node)
        names = [w.name for w in params]
        owned = [self.owner[n] for n in names if n in self.owner]
        # all its weights counted already: a module called again; only some: an exporter merged equal
        # constants (a zero bias) of different layers, which are counted as the layers' own
        shared = owned[0] if owned and len(owned) == len(names) else None
        index = self.builder.emit(scopes, base or name, layer, [v.leaf for v in inputs], channels_first(shape, form),
                                  functional=True, shared_of=shared)
        if shared is None:
            for n in names:
                self.owner[n] = index
        return TV(index, tuple(shape), form)

    def tensor(self, v: Any, forms: tuple[str, ...] = ("std",)) -> TV:
        """v as a tensor in one of `forms`, else Unsupported; a pending constant factor that no add
        folded in becomes its own row (x * 0.5), as in the torch importer."""
        if isinstance(v, TV) and v.form not in forms and "std" in forms and v.scale is None and not v.batch \
                and v.form == "nhwc":
            v = self.emit(Permute(dims=(1, 2, 0)), [TV(v.leaf, self.builder.cnncost_shape(v))], v.shape,
                          base="permute")  # a channels-last map read by an op that wants a plain tensor
        if isinstance(v, TV) and v.scale is not None and v.form in forms and not v.batch:
            v = self.emit(Arith(op="mul", value=v.scale), [TV(v.leaf, v.shape, v.form)], v.shape, base="mul",
                          form=v.form)
        return plain(v, forms)

    def constant(self, name: str) -> Any:
        """The value of `name`, or of the Constant node that makes it later in the file (a lookahead
        by a handler that fuses the nodes after it)."""
        if name in self.values:
            return self.values[name]
        node = self.producers.get(name)
        if node is not None and node.op_type == "Constant":
            return fold(node, [], {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute},
                        self.model.opset_import)
        return None

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
        v = self.emit(layer, tensors, shape, params=new)
        self.opaque.append(f"{self.builder.leaf(v.leaf).path}: onnx.{op}")
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
        for _ in range(8):
            value = self.values.get(name)
            if isinstance(value, W):
                return value
            node = self.producers.get(name)
            if node is None or node.op_type not in SHAPE_ONLY:
                return None
            name = node.input[0]
        return None

    def weight(self, v: Any, what: str) -> W:
        if not isinstance(v, W) and hasattr(v, "dtype") and getattr(v.dtype, "kind", "") == "f":
            return W(f"{self.node.output[0]}:{what}", tuple(int(d) for d in v.shape), v)  # folded to a constant
        if not isinstance(v, W):
            raise Unsupported(f"{what} is computed, not a weight")
        return v

