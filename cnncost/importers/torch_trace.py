"""A PyTorch module as a cnncost Net, by tracing it.

`from_torch(module, input=(3, 224, 224))` traces the module with torch.fx (leaf modules: those of
torch.nn, torchvision's StochasticDepth, timm's DropPath), runs the trace once on meta tensors (no
memory, no data; the module's buffers are not touched; fake tensors, then real ones, where meta
tensors cannot run an op) to learn every tensor's shape, and maps each module call and each
functional call onto cnncost layers:

- modules: Conv2d, ConvTranspose2d, Linear, BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d,
  LocalResponseNorm, the activations (ReLU, ReLU6, LeakyReLU, SiLU, Hardswish, Hardsigmoid,
  Hardtanh, Mish, Sigmoid, Tanh, GELU, Softmax), Dropout, pools (max, avg, adaptive avg/max),
  Flatten, Upsample, PixelShuffle/Unshuffle, ZeroPad2d/ConstantPad2d(0)/ReflectionPad2d,
  ChannelShuffle, Identity, StochasticDepth, DropPath;
- functions and methods: their functional twins (F.relu, F.conv2d, F.layer_norm, F.batch_norm,
  F.interpolate, F.adaptive_avg_pool2d, F.pad, F.dropout, torch.sigmoid...), `+`, `*` (a gate, a
  per-channel parameter: layer scale; a constant folded into the add that follows: a scaled
  residual), torch.cat, chunk/split, x.mean((2, 3)), flatten/view/reshape, permute to channels-last
  and back around LayerNorm/Linear (ConvNeXt: the Linear is the equal 1x1 conv), the
  view-transpose-view channel shuffle, in-place methods (relu_, add_...).

This module is the driver: it picks the tracer (fx, or torch.export where fx cannot trace) and
says why in the notes. The tracing is `torch.tracing`, the walk over a trace `torch.walker` (fx:
`torch.fx_walker`, export: `torch.export_walker`), the op handlers by family under `torch/`, their
tables `torch.tables` (fx) and `torch.aten` (ATen), and what they share with the ONNX importer
`lowering`.

Row paths are the module paths (nested blocks, one per module call; see `graphbuild`). A module
called twice gives two nodes; the second call of a module with parameters is a `shared` node
(params 0, MACs of its own call). An unknown op is a one-line CnnCostError naming it and its module
path, or with `allow_unknown=True` an `opaque` node (`cnncost.layers.imported.Opaque`).
"""
from __future__ import annotations

from typing import Any

from .._gcpause import paused_gc
from ..errors import CnnCostError
from ..net import Net
from ..shapes import Shape
from .torch.fx_walker import FxWalker
from .torch.inputs import Inputs, module_inputs, shapes_text
from .torch.guarded import first_line
from .torch.tracing import record, trace_module
from .torch.forward_error import raises_the_same
from .torch.meta_run import ForwardRaises, first_paths, module_table
from .torch_export import from_exported, import_exported

__all__ = ["from_torch"]


def from_torch(module: Any, input: Shape | str = (3, 224, 224), *, name: str | None = None,
               allow_unknown: bool = False, train: bool = True, tracer: str = "auto") -> Net:
    """The cnncost Net of a PyTorch module at per-sample input shape `input` (several inputs: a
    list of shapes in the forward's order, or a mapping of its argument names to shapes; a
    detection model: one image's shape, see `torch.detection`).

    `train=True` (the default) traces the module in training mode, as a training step runs it
    (dropout, stochastic depth and auxiliary heads included); `train=False` traces eval mode.

    `tracer="auto"` traces with torch.fx (module-level structure: torch.nn and torchvision layers
    stay leaves) and falls back to torch.export (`cnncost.importers.torch_export`) when fx cannot
    trace the module (Python control flow on shapes, loops over tensors), or when a module fx could
    not trace into maps to nothing; `"fx"` or `"export"` forces one. The Net's notes say which ran.

    >>> import torch.nn as nn, cnncost
    >>> net = cnncost.from_torch(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), input=(3, 32, 32))
    >>> [(r.name, r.params) for r in cnncost.table(net, batch=1).rows]
    [('input', 0), ('0', 224), ('1', 0)]
    """
    import torch

    from .torch.detection import from_detection, is_detection  # here: it imports torch (`cnncost.from_torch` must not)

    if not isinstance(module, torch.nn.Module):
        raise CnnCostError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    if tracer not in ("auto", "fx", "export"):
        raise CnnCostError(f"tracer must be 'auto', 'fx' or 'export', got {tracer!r}")
    if is_detection(module):  # a list of images in, data-dependent boxes out: its own importer
        return from_detection(module, input, name=name, allow_unknown=allow_unknown)
    inputs = module_inputs(module, input)
    # a trace allocates tens of thousands of objects: a full collection in the middle of one costs
    # more than the whole import (0.2 s), and what the import leaves behind is collected later
    with paused_gc(collect_young=True):
        if tracer == "export":
            return from_exported(module, input, name=name, allow_unknown=allow_unknown, train=train)
        return _traced(module, inputs, name, allow_unknown, train, tracer)


def _traced(module: Any, inputs: Inputs, name: str | None, allow_unknown: bool, train: bool, tracer: str) -> Net:
    """from_torch with torch.fx first (`tracer` "auto" or "fx")."""
    modules = list(first_paths(module_table(module)).values())  # module.modules(), without its generators
    was_training = [m.training for m in modules]
    module.train(train)
    label = name or type(module).__name__
    shape = inputs[0][1]  # the first input's; the walkers and torch.export take every input's
    shapes: Any = [s for _, s in inputs] if len(inputs) > 1 else shape
    try:
        try:
            trace, untraceable = trace_module(module)
        except Exception as error:  # noqa: BLE001 - fx cannot trace the module itself: torch.export can
            why = f"torch.fx cannot trace {type(module).__name__}: {type(error).__name__}: {first_line(error)}"
            if tracer == "fx":
                raise CnnCostError(why) from None
            if raises_the_same(module, shapes, error):  # issue 21: the forward's own error is final at once
                raise CnnCostError(f"{type(module).__name__}'s forward raises on a {shapes_text(inputs)} input: "
                                   f"{type(error).__name__}: {first_line(error)}") from None
            return _exported(module, shapes, label, allow_unknown, train, why, fail=why)
        try:
            results = record(trace, shapes)  # leaves the module's buffers as they were
        except ForwardRaises as raised:  # an op of the forward fails at this input: no tracer can run it
            raise CnnCostError(f"{type(module).__name__}'s forward raises on a {shapes_text(inputs)} input "
                               f"{raised}") from None
        except Exception as error:  # noqa: BLE001 - fx's graph does not run as the module does: export runs the module
            why = (f"{type(module).__name__} does not run on a {shapes_text(inputs)} input as torch.fx "
                   f"traced it: {type(error).__name__}: {first_line(error)}")
            if tracer == "fx":
                raise CnnCostError(why) from None
            if raises_the_same(module, shapes, error):  # issue 21: the forward's own error is final at once
                raise CnnCostError(f"{type(module).__name__}'s forward raises on a {shapes_text(inputs)} input: "
                                   f"{type(error).__name__}: {first_line(error)}") from None
            return _exported(module, shapes, label, allow_unknown, train, why, fail=why)
        importer = FxWalker(module, trace, results, shape, label, allow_unknown, train, untraceable=untraceable,
                            more_inputs=inputs[1:], input_name=inputs[0][0], splice=tracer == "auto")
        try:
            net = importer.run()
        except CnnCostError as error:
            if not importer.untraceable_unknown or tracer == "fx":
                raise
            # a module fx could not trace into and no handler maps: torch.export traces through it
            inner = importer.untraceable_unknown[0]
            why = f"torch.fx cannot trace into '{inner}': {untraceable[inner]}"
            try:
                return _exported(module, shapes, label, allow_unknown, train, why, fail=None)
            except CnnCostError:
                raise error from None
        if importer.untraceable_unknown and tracer == "auto":  # opaque for fx: export may map them
            inner = importer.untraceable_unknown[0]
            why = f"torch.fx cannot trace into '{inner}': {untraceable[inner]}"
            try:
                other, opaque = import_exported(module, shapes, name=label, allow_unknown=allow_unknown, train=train,
                                                why=why)
            except CnnCostError:
                return net
            if opaque < len(importer.opaque):
                return other
        return net
    finally:
        for m, mode in zip(modules, was_training):
            m.training = mode



def _exported(module: Any, shape: Any, name: str, allow_unknown: bool, train: bool, why: str,
              fail: str | None) -> Net:
    """The net through torch.export (`torch_export`); `fail`: what to say first if export fails too."""
    try:
        return from_exported(module, shape, name=name, allow_unknown=allow_unknown, train=train, why=why)
    except CnnCostError as error:
        if fail is None or str(error).startswith("unsupported operation"):
            raise
        raise CnnCostError(f"{fail}; {error}") from None

