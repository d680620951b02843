"""A PyTorch module as a cnncost Net through torch.export, where torch.fx cannot trace it.

torch.fx traces symbolically: Python control flow on a traced value (`if x.shape[-1] > 100:`,
`for t in x:`, `range(int(x.size(1)))`) stops it. `torch.export.export(module, (x,), strict=False)`
runs the module's own Python on fake tensors of the example's shape, so shape-dependent branches and
loops are taken as the example takes them (specialised; a branch on tensor *values*, `if x.sum() > 0`,
cannot be exported either). `from_torch` tries fx first and falls back to this importer when fx
fails (or when a module fx could not trace into maps to nothing); `from_exported` forces it.

The exported program is an fx graph of ATen operators in training IR (torch 2.13: not decomposed,
not functionalised; `aten.batch_norm(training=True)`, `aten.dropout(train=True)`, in-place
`aten.relu_`), with the module's parameters and buffers lifted to placeholders, named by
`graph_signature.inputs_to_parameters` / `inputs_to_buffers`. This importer is the fx importer
(`torch_trace._Importer`) with other placeholders and an ATen vocabulary: each ATen op maps onto the
fx importer's handler of its functional twin (`ATEN`); rows take the path of the innermost module in
the node's `nn_module_stack`, and a module whose one op is a layer is one row at its path, as the
fx import names them. A module called twice uses the same parameter placeholders: its second call is
a `shared` node. Ops that read only parameters or buffers (BatchNorm's `num_batches_tracked += 1`,
`weight.t()`) cost nothing and yield a parameter view. An unknown ATen op is the fx importer's
one-line error (`unsupported operation aten.erf.default at module 'block'`), or with
`allow_unknown=True` an `opaque` node.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

from ..errors import CnnCostError
from ..layers import AdaptiveMaxPool, InstanceNorm, PixelUnshuffle, ReLU6
from ..layers import GELU, Hardsigmoid, Hardswish, LeakyReLU, Mish, ReLU, Sigmoid, SiLU, Tanh
from ..net import Net
from ..shapes import Shape
from . import torch_trace as tt
from .torch_trace import BATCH, PV, TV, Pieces, Unsupported, _arg

__all__ = ["from_exported", "import_exported", "export_module", "ATEN"]


# ----------------------------------------------------------------------------- exporting

def export_module(module: Any, shape: Shape) -> Any:
    """`torch.export.export(module, (x,), strict=False)` at batch 2 (the module in its current
    mode; torch's logging of a failed export silenced: the caller reports the error)."""
    import contextlib
    import io
    import logging
    import warnings

    import torch
    names = ("torch._dynamo", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes",
             "torch._subclasses.fake_tensor", "torch.fx.experimental.recording")
    logs = [logging.getLogger(n) for n in names]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return torch.export.export(module, (torch.randn(BATCH, *shape),), strict=False)
    finally:
        for log, level in zip(logs, levels):
            log.setLevel(level)


def import_exported(module: Any, shape: Shape, *, name: str | None = None, allow_unknown: bool = False,
                    train: bool = True, why: str = "") -> tuple[Net, int]:
    """The Net through torch.export and its number of opaque nodes; `why`: for the notes (why not
    torch.fx). The module's mode and buffers are left as they were."""
    import torch
    if not isinstance(module, torch.nn.Module):
        raise CnnCostError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(int(d) for d in shape)
    was_training = [m.training for m in module.modules()]
    module.train(train)
    try:
        buffers = tt._save_buffers(module)
        try:
            program = export_module(module, shape)
        except Exception as error:  # noqa: BLE001 - say which tracer and why
            raise CnnCostError(f"torch.export cannot trace {type(module).__name__} either: "
                               f"{type(error).__name__}: {tt._first_line(error)}") from None
        finally:
            tt._restore_buffers(buffers)
        importer = _ExportImporter(module, program, shape, name or type(module).__name__, allow_unknown, train)
        importer.tracer_note = why
        net = importer.run()
        return net, len(importer.opaque)
    finally:
        for m, mode in zip(module.modules(), was_training):
            m.training = mode


def from_exported(module: Any, input: Shape | str = (3, 224, 224), *, name: str | None = None,
                  allow_unknown: bool = False, train: bool = True, why: str = "") -> Net:
    """The cnncost Net of `module` traced with torch.export (what `from_torch` falls back to)."""
    if isinstance(input, str):
        from ..shapes import parse_shape
        input = parse_shape(input)
    return import_exported(module, tuple(input), name=name, allow_unknown=allow_unknown, train=train, why=why)[0]


# ----------------------------------------------------------------------------- the importer

def _reads_activation(value: Any) -> bool:
    if isinstance(value, (TV, Pieces)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_reads_activation(v) for v in value)
    if isinstance(value, dict):
        return any(_reads_activation(v) for v in value.values())
    return False


def _first_pv(value: Any) -> PV | None:
    if isinstance(value, PV):
        return value
    if isinstance(value, (list, tuple)):
        for v in value:
            found = _first_pv(v)
            if found is not None:
                return found
    return None


class _ExportImporter(tt._Importer):
    tracer = "torch.export"

    def __init__(self, root: Any, program: Any, shape: Shape, name: str, allow_unknown: bool, train: bool) -> None:
        gm = program.graph_module
        results = {n: n.meta.get("val") for n in gm.graph.nodes}
        super().__init__(root, gm, results, shape, name, allow_unknown, train)
        signature = program.graph_signature
        params = dict(root.named_parameters(remove_duplicate=False))
        buffers = dict(root.named_buffers(remove_duplicate=False))
        self.lifted: dict[str, PV] = {}
        for placeholder, fqn in signature.inputs_to_parameters.items():
            self.lifted[placeholder] = PV(fqn, params[fqn], tuple(params[fqn].shape))
        for placeholder, fqn in signature.inputs_to_buffers.items():
            tensor = buffers.get(fqn, program.constants.get(fqn))
            self.lifted[placeholder] = PV(fqn, tensor, tuple(tensor.shape))
        for placeholder, fqn in getattr(signature, "inputs_to_lifted_tensor_constants", {}).items():
            tensor = program.constants[fqn]
            self.lifted[placeholder] = PV(fqn, tensor, tuple(tensor.shape))
        self.user_inputs = list(signature.user_inputs)

    def _placeholder(self, node: Any) -> Any:
        if node.name in self.lifted:
            return self.lifted[node.name]
        if self.user_inputs and node.name == self.user_inputs[0]:
            return TV(0, self.input_shape)
        return self._python(self.results.get(node))

    def _call(self, node: Any) -> Any:
        torch = self.torch
        args = torch.fx.node.map_arg(node.args, lambda n: self.env[n])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: self.env[n])
        result = self.results.get(node)
        if not _reads_activation((args, kwargs)) and self._has_tensor(result):
            pv = _first_pv((args, list(kwargs.values())))
            if pv is not None:  # computed from parameters and buffers alone: no activation, no cost
                shape = tuple(result.shape) if isinstance(result, torch.Tensor) else pv.shape
                return PV(pv.path, pv.tensor, shape)
        return super()._call(node)

    def _handler(self, node: Any) -> Callable | None:
        if node.target is operator.getitem:
            return tt._getitem
        packet = getattr(node.target, "overloadpacket", None)
        return ATEN.get(packet.__name__) if packet is not None else None

    def _op_name(self, node: Any) -> str:
        if getattr(node.target, "overloadpacket", None) is not None:
            return str(node.target)  # aten.erf.default
        return super()._op_name(node)


# ----------------------------------------------------------------------------- ATen adapters

Handler = Callable[..., Any]


def _first_of(handler: Handler) -> Handler:
    """An op returning (output, statistics / indices / mask): the handler on the output; the
    rest are no activations."""
    def handle(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> tuple:
        v = handler(imp, node, args, kwargs, result[0])
        return (v, *([None] * (len(result) - 1)))
    return handle


def _batch_norm(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.batch_norm / native_batch_norm / _native_batch_norm_legit(_functional): (input,
    weight, bias, running_mean, running_var, training, momentum, eps); F.batch_norm's order differs."""
    get = lambda i, n, d=None: _arg(args, kwargs, i, n, d)  # noqa: E731
    return tt._batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                      get(2, "bias"), get(5, "training", True), get(6, "momentum", 0.1),
                                      get(7, "eps", 1e-5)), {}, result)


def _batch_norm_no_training(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """_native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)."""
    get = lambda i, n, d=None: _arg(args, kwargs, i, n, d)  # noqa: E731
    return tt._batch_norm(imp, node, (args[0], get(3, "running_mean"), get(4, "running_var"), get(1, "weight"),
                                      get(2, "bias"), False, get(5, "momentum", 0.1), get(6, "eps", 1e-5)), {}, result)


def _instance_norm(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)."""
    x = imp._tensor(args[0])
    weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    running = _arg(args, kwargs, 3, "running_mean")
    layer = InstanceNorm(eps=float(_arg(args, kwargs, 7, "eps", 1e-5)),
                         momentum=float(_arg(args, kwargs, 6, "momentum", 0.1) or 0.1), affine=weight is not None,
                         track_running_stats=running is not None)
    return imp.emit(layer, [x], x.shape, params=tt._params(weight, bias))


def _conv_transpose2d(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.conv_transpose2d.input(input, weight, bias, stride, padding, output_padding, groups, dilation)."""
    weight, bias = _arg(args, kwargs, 1, "weight"), _arg(args, kwargs, 2, "bias")
    if not isinstance(weight, PV) or (bias is not None and not isinstance(bias, PV)) or len(weight.shape) != 4:
        raise Unsupported("transposed convolution with computed weights")
    groups = int(_arg(args, kwargs, 6, "groups", 1))
    return tt._conv_t_on(imp, args[0], weight.shape[1] * groups, weight.shape[2:], _arg(args, kwargs, 3, "stride", 1),
                         _arg(args, kwargs, 4, "padding", 0), _arg(args, kwargs, 7, "dilation", 1), groups,
                         bias is not None, result, tt._params(weight, bias))


def _convolution(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """aten.convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)."""
    weight = _arg(args, kwargs, 1, "weight")
    if not isinstance(weight, PV) or len(weight.shape) != 4:
        raise Unsupported("convolution other than 2-D with parameter weights")
    stride, padding, dilation = args[3], args[4], args[5]
    groups = int(_arg(args, kwargs, 8, "groups", 1))
    if _arg(args, kwargs, 6, "transposed", False):
        return _conv_transpose2d(imp, node, (args[0], weight, args[2], stride, padding, None, groups, dilation), {},
                                 result)
    return tt._conv2d(imp, node, (args[0], weight, args[2], stride, padding, dilation, groups), {}, result)


def _matmul(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """x @ W (mm, matmul) with W a 2-D parameter (or its transpose): a Linear without bias."""
    x, w = args[0], args[1]
    if not isinstance(w, PV) or len(w.shape) != 2:
        raise Unsupported("matrix product other than by a 2-D parameter")
    return tt._linear_on(imp, x, (w.shape[1], w.shape[0]), False, result, tt._params(w))


def _addmm(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """addmm(bias, x, W): a Linear (beta = alpha = 1)."""
    bias, x, w = args[0], args[1], args[2]
    if kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1:
        raise Unsupported("addmm with beta or alpha")
    if not isinstance(w, PV) or not isinstance(bias, PV) or len(w.shape) != 2 or bias.shape != (w.shape[1],):
        raise Unsupported("addmm other than a bias plus a product by a 2-D parameter")
    return tt._linear_on(imp, x, (w.shape[1], w.shape[0]), True, result, tt._params(w, bias))


def _hardtanh(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """hardtanh(x, min_val=-1, max_val=1): ReLU6 for (0, 6), as nn.ReLU6 calls it."""
    lo, hi = _arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0)
    return tt._clamp(imp, node, (args[0], lo, hi), {}, result)


def _dropout_inplace(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return tt._dropout(imp, node, (args[0], _arg(args, kwargs, 1, "p", 0.5), _arg(args, kwargs, 2, "train", True),
                                   True), {}, result)


def _native_dropout(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    train = _arg(args, kwargs, 2, "train", True)
    return tt._dropout(imp, node, (args[0], _arg(args, kwargs, 1, "p", 0.5), True if train is None else train), {},
                       result)


def _adaptive_max(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return tt._adaptive(imp, imp._tensor(args[0]), result, AdaptiveMaxPool)


def _upsample(mode: str) -> Handler:
    """upsample_nearest2d / upsample_bilinear2d: .vec (input, output_size, [align_corners,]
    scale_factors) or .default (input, output_size, [align_corners,] scales_h, scales_w)."""
    def handle(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
        x = imp._tensor(args[0])
        rest = list(args[2:])
        align = rest.pop(0) if mode == "bilinear" and rest else kwargs.get("align_corners", False)
        if getattr(node.target, "_overloadname", "") == "vec":
            factor = rest[0] if rest else kwargs.get("scale_factors")
        else:
            scales = [s for s in rest[:2] if s is not None]
            factor = tuple(scales) if len(scales) == 2 else None
        if isinstance(factor, list):
            factor = tuple(factor)
        return tt._upsample(imp, x, factor, mode, align, result)
    return handle


def _constant_pad(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return tt._pad_on(imp, imp._tensor(args[0]), tuple(int(p) for p in args[1]), "constant",
                      _arg(args, kwargs, 2, "value", 0), result)


def _reflection_pad(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return tt._pad_on(imp, imp._tensor(args[0]), tuple(int(p) for p in args[1]), "reflect", None, result)


def _pixel_unshuffle(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    return imp.emit(PixelUnshuffle(factor=int(args[1])), [imp._tensor(args[0])], imp.out(result))


def _slice(imp: Any, node: Any, args: tuple, kwargs: dict, result: Any) -> TV:
    """slice.Tensor(x, dim, start, end, step): x[:, a:b] (a channel slice), or the whole tensor."""
    x = imp._tensor(args[0])
    dim = int(_arg(args, kwargs, 1, "dim", 0))
    start, end, step = _arg(args, kwargs, 2, "start"), _arg(args, kwargs, 3, "end"), _arg(args, kwargs, 4, "step", 1)
    if tuple(result.shape[1:]) == x.shape and tuple(result.shape[:1]) == (BATCH,):
        return x
    if dim % (len(x.shape) + 1) != 1:
        raise Unsupported(f"slice along dim {dim} (only along the channels)")
    return tt._slice(imp, x, (slice(None), slice(start, end, step)), result)


def _build_table() -> dict[str, Handler]:
    act = tt._act
    leaky = tt._leaky_fields
    table: dict[str, Handler] = {
        # convolution, linear
        "conv2d": tt._conv2d, "convolution": _convolution, "_convolution": _convolution,
        "conv_transpose2d": _conv_transpose2d, "linear": tt._linear, "matmul": _matmul, "mm": _matmul,
        "addmm": _addmm,
        # norms
        "batch_norm": _batch_norm, "native_batch_norm": _first_of(_batch_norm),
        "_native_batch_norm_legit": _first_of(_batch_norm),
        "_native_batch_norm_legit_functional": _first_of(_batch_norm),
        "_native_batch_norm_legit_no_training": _first_of(_batch_norm_no_training),
        "layer_norm": tt._layer_norm, "native_layer_norm": _first_of(tt._layer_norm), "group_norm": tt._group_norm,
        "instance_norm": _instance_norm,
        # activations (the in-place ones: `_`)
        "relu": act(ReLU, inplace_arg=None), "relu_": act(ReLU, inplace_always=True),
        "relu6": act(ReLU6, inplace_arg=None), "hardtanh": _hardtanh, "hardtanh_": _hardtanh,
        "clamp": tt._clamp, "clamp_": tt._clamp, "clip": tt._clamp, "clip_": tt._clamp,
        "leaky_relu": act(LeakyReLU, inplace_arg=None, fields=leaky),
        "leaky_relu_": act(LeakyReLU, inplace_always=True, fields=leaky),
        "silu": act(SiLU, inplace_arg=None), "silu_": act(SiLU, inplace_always=True),
        "hardswish": act(Hardswish, inplace_arg=None), "hardswish_": act(Hardswish, inplace_always=True),
        "hardsigmoid": act(Hardsigmoid, inplace_arg=None), "hardsigmoid_": act(Hardsigmoid, inplace_always=True),
        "sigmoid": act(Sigmoid, inplace_arg=None), "sigmoid_": act(Sigmoid, inplace_arg=None),
        "tanh": act(Tanh, inplace_arg=None), "tanh_": act(Tanh, inplace_arg=None),
        "mish": act(Mish, inplace_arg=None), "mish_": act(Mish, inplace_arg=None),
        "gelu": act(GELU, inplace_arg=None), "gelu_": act(GELU, inplace_arg=None),
        "softmax": tt._softmax, "_softmax": tt._softmax,
        # dropout
        "dropout": tt._dropout, "dropout_": _dropout_inplace, "native_dropout": _first_of(_native_dropout),
        # pools
        "max_pool2d": tt._max_pool2d, "max_pool2d_with_indices": _first_of(tt._max_pool2d),
        "avg_pool2d": tt._avg_pool2d, "adaptive_avg_pool2d": tt._adaptive_avg_pool2d,
        "_adaptive_avg_pool2d": tt._adaptive_avg_pool2d, "adaptive_max_pool2d": _first_of(_adaptive_max),
        "mean": tt._mean,
        # resampling, padding, shuffles
        "upsample_nearest2d": _upsample("nearest"), "upsample_bilinear2d": _upsample("bilinear"),
        "pad": tt._pad, "constant_pad_nd": _constant_pad, "reflection_pad2d": _reflection_pad,
        "pixel_shuffle": tt._pixel_shuffle, "pixel_unshuffle": _pixel_unshuffle,
        "channel_shuffle": tt._channel_shuffle, "native_channel_shuffle": tt._channel_shuffle,
        # arithmetic
        "add": tt._add, "add_": tt._add, "mul": tt._mul, "mul_": tt._mul, "div": tt._div, "div_": tt._div,
        # structure: merges, pieces, views
        "cat": tt._cat, "concat": tt._cat, "concatenate": tt._cat, "chunk": tt._chunk, "unsafe_chunk": tt._chunk,
        "split": tt._split, "unsafe_split": tt._split, "split_with_sizes": tt._split, "slice": _slice,
        "flatten": tt._flatten, "view": tt._view, "reshape": tt._view, "_unsafe_view": tt._view,
        "squeeze": tt._view, "unsqueeze": tt._view, "view_as": tt._view, "permute": tt._permute,
        "transpose": tt._transpose, "contiguous": tt._contiguous,
        "clone": tt._alias, "alias": tt._alias, "detach": tt._alias, "_to_copy": tt._alias, "to": tt._alias,
        "type_as": tt._alias, "expand": tt._alias, "expand_as": tt._alias, "lift_fresh_copy": tt._alias,
    }
    return table


ATEN: dict[str, Handler] = _build_table()
"""ATen op (its overload packet's name) -> the fx importer's handler of its functional twin, or an
adapter to it."""
