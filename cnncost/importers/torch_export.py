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
`graph_signature.inputs_to_parameters` / `inputs_to_buffers`. The walk is the fx import's
(`torch.walker.GraphWalker`) with other placeholders and an ATen vocabulary: each ATen op maps onto
the handler of its functional twin (`torch.aten.ATEN`); rows take the path of the innermost module in
the node's `nn_module_stack`, and a module whose one op is a layer is one row at its path, as the
fx import names them. A module called twice uses the same parameter placeholders: its second call is
a `shared` node. Ops that read only parameters or buffers (BatchNorm's `num_batches_tracked += 1`,
`weight.t()`) cost nothing and yield a parameter view. An unknown ATen op is the fx importer's
one-line error (`unsupported operation aten.erf.default at module 'block'`), or with
`allow_unknown=True` an `opaque` node.
"""
from __future__ import annotations

from typing import Any

from ..errors import CnnCostError
from ..net import Net
from ..shapes import Shape
from .torch.export_walker import ExportWalker
from .torch.inputs import module_inputs
from .torch.guarded import first_line, restore_buffers, save_buffers
from .torch.tracing import export_call
from .torch.values import BATCH

__all__ = ["from_exported", "import_exported", "export_module"]


def export_module(module: Any, shape: Shape | list[Shape]) -> Any:
    """`torch.export.export(module, (x,), strict=False)` at batch 2 (the module in its current
    mode; torch's logging of a failed export silenced: the caller reports the error); `shape` one
    per-sample shape or a list of them (several inputs). A single input that F.embedding refuses as
    floats is given integer ids instead (zeros: a row of any table)."""
    import torch
    shapes = shape if shape and isinstance(shape[0], (tuple, list)) else [shape]
    try:
        return export_call(module, tuple(torch.randn(BATCH, *s) for s in shapes), {})
    except Exception as error:  # noqa: BLE001 - only the embedding's refusal of float ids is retried
        if len(shapes) > 1 or "argument #1 'indices'" not in str(error):
            raise
    return export_call(module, (torch.zeros(BATCH, *shapes[0], dtype=torch.long),), {})


def import_exported(module: Any, shape: Any, *, name: str | None = None, allow_unknown: bool = False,
                    train: bool = True, why: str = "") -> tuple[Net, int]:
    """The Net through torch.export and its number of opaque nodes; `why`: for the notes (why not
    torch.fx); `shape` as `from_torch`'s input (one shape, a list or a mapping of several). The
    module's mode and buffers are left as they were."""
    import torch
    if not isinstance(module, torch.nn.Module):
        raise CnnCostError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")
    inputs = module_inputs(module, shape)
    shape = inputs[0][1]
    was_training = [m.training for m in module.modules()]
    module.train(train)
    try:
        buffers = save_buffers(module)
        try:
            program = export_module(module, [s for _, s in inputs])
        except Exception as error:  # noqa: BLE001 - say which tracer and why
            raise CnnCostError(f"torch.export cannot trace {type(module).__name__} either: "
                               f"{type(error).__name__}: {first_line(error)}") from None
        finally:
            restore_buffers(buffers)
        importer = ExportWalker(module, program, shape, name or type(module).__name__, allow_unknown, train, why,
                                more_inputs=inputs[1:], input_name=inputs[0][0])
        net = importer.run()
        return net, len(importer.opaque)
    finally:
        for m, mode in zip(module.modules(), was_training):
            m.training = mode


def from_exported(module: Any, input: Shape | str = (3, 224, 224), *, name: str | None = None,
                  allow_unknown: bool = False, train: bool = True, why: str = "") -> Net:
    """The cnncost Net of `module` traced with torch.export (what `from_torch` falls back to)."""
    return import_exported(module, input, name=name, allow_unknown=allow_unknown, train=train, why=why)[0]
