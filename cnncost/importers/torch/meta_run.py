"""The run of a torch.fx trace on meta tensors (`tracing.record`'s first way): every node's value
from its arguments' meta values, the module's own parameters and buffers replaced by meta twins
only where the run reads them.

A leaf module whose result a shape rule gives (`meta_shapes.module_result`) is not called: the
rule reads its parameters' shapes and dtypes, which a twin shares, so no twin is made. Twins are
put in place (and the module's own tensors put back at the end) for a module the run calls, a
module passed as an argument, and a parameter or buffer a node reads (`get_attr`): on a network
of convolutions and batch norms, none at all.
"""
from __future__ import annotations

from typing import Any

from .guarded import first_line, restore_buffers, save_buffers
from .naming import RowNames, op_name


def module_table(root: Any) -> dict[str, Any]:
    """Every submodule of `root` by every path that reaches it, in `root.named_modules(
    remove_duplicate=False)`'s order, walked without its nested generators (a path table serves
    every lookup of one import: the walk of named_modules took a tenth of a small net's import)."""
    table: dict[str, Any] = {}
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    while stack:
        path, module, depth = stack.pop()
        if depth > 10_000:  # a module that holds itself: torch's recursion error, not a loop
            return dict(root.named_modules(remove_duplicate=False))
        table[path] = module
        children = module._modules
        if children:
            prefix = f"{path}." if path else ""
            stack.extend((prefix + name, child, depth + 1)
                         for name, child in reversed(children.items()) if child is not None)
    return table


def first_paths(table: dict[str, Any]) -> dict[str, Any]:
    """`root.named_modules()` from `module_table(root)`: each module at the first path that
    reaches it, and nothing under a path that reaches it again."""
    seen: set[int] = set()
    found: dict[str, Any] = {}
    repeated: list[str] = []  # "path." of each later path of a module seen before
    for path, module in table.items():
        if repeated and any(path.startswith(prefix) for prefix in repeated):
            continue
        if id(module) in seen:
            repeated.append(f"{path}.")
            continue
        seen.add(id(module))
        found[path] = module
    return found


class MetaTwins:
    """Meta twins of a module's parameters and buffers (one per tensor: tied weights stay tied),
    swapped into the modules that need them; `restore` puts the module's own tensors back."""

    def __init__(self) -> None:
        self.made: dict[int, Any] = {}  # id(tensor) -> its twin
        self.done: set[int] = set()  # ids of the modules whose own tensors are twins now
        self.trees: set[int] = set()  # ids of the modules whose every tensor, below them too, is a twin now
        self.swapped: list[tuple[dict, str, Any]] = []

    def own(self, module: Any) -> None:
        """The module's own parameters and buffers (not its submodules') become twins."""
        if id(module) in self.done:
            return
        import torch
        self.done.add(id(module))
        for table in (module._parameters, module._buffers):
            for name, tensor in table.items():
                if tensor is None:
                    continue
                twin = self.made.get(id(tensor))
                if twin is None:
                    twin = self.made[id(tensor)] = torch.empty_strided(tensor.shape, tensor.stride(),
                                                                         dtype=tensor.dtype, device="meta")
                self.swapped.append((table, name, tensor))
                table[name] = twin

    def subtree(self, module: Any) -> None:
        """The tensors of the module and of every module under it become twins."""
        stack = [module]
        while stack:
            m = stack.pop()
            if id(m) in self.trees:
                continue
            self.trees.add(id(m))
            self.own(m)
            stack.extend(child for child in m._modules.values() if child is not None)

    def restore(self) -> None:
        for table, name, tensor in reversed(self.swapped):
            table[name] = tensor
        self.swapped.clear()
        self.done.clear()
        self.trees.clear()


def run_meta(trace: Any, inputs: list[Any], results: dict[Any, Any]) -> None:
    """fx's Interpreter over `trace.graph`, node by node, without its bookkeeping (a third of the
    run on meta tensors), the module's tensors replaced by twins where read (`MetaTwins`); a
    leaf module whose result a rule gives (`meta_shapes.module_result`) is not called."""
    import torch
    from torch._C import DisableTorchFunction as no_torch_function
    from torch.fx.node import map_arg

    from .meta_shapes import module_result  # it imports torch

    inputs = list(inputs)
    lookup = results.__getitem__
    twins = MetaTwins()
    Module = torch.nn.Module
    node = None
    try:
        for node in trace.graph.nodes:
            op = node.op
            if op == "placeholder":
                if node.target.startswith("*"):
                    value: Any = list(inputs)
                    inputs.clear()
                elif inputs:
                    value = inputs.pop(0)
                elif node.args:
                    value = node.args[0]  # a default argument
                else:
                    raise RuntimeError(f"expected an input for the placeholder {node.target}")
            elif op == "get_attr":
                value = _attribute(trace, node.target, twins, Module)
            elif op == "output":
                value = map_arg(node.args[0], lookup)
            else:
                args, kwargs = map_arg(node.args, lookup), map_arg(node.kwargs, lookup)
                if op == "call_module":
                    m = trace.get_submodule(node.target)
                    with no_torch_function():  # the rule's own tensor queries skip ShapeRules
                        value = module_result(m, args, kwargs)
                    if value is None:
                        twins.subtree(m)
                        value = m(*args, **kwargs)
                elif op == "call_function":
                    value = node.target(*args, **kwargs)
                else:
                    value = getattr(args[0], node.target)(*args[1:], **kwargs)
            results[node] = value
    except Exception as error:
        raise MetaRunFailed(node, error) from error
    finally:
        twins.restore()


def _attribute(trace: Any, target: str, twins: MetaTwins, module_class: type) -> Any:
    """A get_attr node's value: a parameter or buffer as its twin, a module with twins in it (a
    function it is passed to may call it), anything else as it is."""
    owner_path, _, name = target.rpartition(".")
    owner: Any = trace.paths().get(owner_path)
    if owner is None:  # an attribute of something other than a module
        return fetch(trace.root, target)
    if name in owner._parameters or name in owner._buffers:
        twins.own(owner)
    value = getattr(owner, name)
    if isinstance(value, module_class):
        twins.subtree(value)
    return value


class MetaRunFailed(Exception):
    """The meta run stopped at `node` with `error`."""

    def __init__(self, node: Any, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.node, self.error = node, error


class ForwardRaises(Exception):
    """The model's own forward raises at one op of its trace: the op, its module path and the error."""

    def __init__(self, trace: Any, node: Any, error: BaseException) -> None:
        where = RowNames(trace.root, {}).where(node)
        super().__init__(f"in {op_name(node, trace)} at module '{where}': {type(error).__name__}: {first_line(error)}")
        self.error = error


def raises_for_real(trace: Any, failed: MetaRunFailed, results: dict[Any, Any]) -> bool:
    """Whether the op the meta run stopped at, one of PyTorch's own (`_torch_op`), raises the same
    error (type and first line) on real tensors of its arguments' shapes, dtypes and strides
    (random values; the module's own parameters, copies of its buffers). A meta kernel checks
    shapes and arguments, never values:
    where the real op fails the same way, the model's own arithmetic fails at this input (a kernel
    larger than its map), and fake tensors, real ones and torch.export, which run the same forward,
    would only fail again, slower (Inception v3's auxiliary head at 224x224: a second)."""
    import torch
    from torch.fx.node import map_arg


    node, error = failed.node, failed.error
    if node is None or not isinstance(error, (RuntimeError, ValueError, IndexError)) or not _torch_op(trace, node):
        return False  # torch's errors of shapes and arguments, not a TypeError of a None
    if any(results.get(n) is None for n in node.all_input_nodes):
        return False  # an argument the forward may not have: fx traces `if mask is not None` as taken

    def real(n: Any) -> Any:
        if n.op == "get_attr":
            value = fetch(trace.root, n.target)
            return value.detach().clone() if isinstance(value, torch.Tensor) else value
        return _real(results[n], torch)

    try:
        args, kwargs = map_arg(node.args, real), map_arg(node.kwargs, real)
    except Exception:  # noqa: BLE001 - an argument without a value: not judged here
        return False
    buffers: list[tuple[Any, Any]] = []
    try:
        with torch.no_grad():
            if node.op == "call_module":
                m = trace.get_submodule(node.target)
                buffers = save_buffers(m)
                m(*args, **kwargs)
            elif node.op == "call_function":
                node.target(*args, **kwargs)
            else:
                getattr(args[0], node.target)(*args[1:], **kwargs)
    except Exception as again:  # noqa: BLE001 - compared with the meta run's error
        return type(again) is type(error) and first_line(again) == first_line(error)
    finally:
        restore_buffers(buffers)
    return False


def _torch_op(trace: Any, node: Any) -> bool:
    """A call of PyTorch's own: a torch module, a tensor method, a torch function or a Python
    operator. A function or leaf module of the model's own is judged by running the whole forward
    (`forward_error.raises_the_same`): its code may branch where the trace did not."""
    if node.op == "call_method":
        return True
    if node.op == "call_module":
        module = getattr(type(trace.get_submodule(node.target)), "__module__", "") or ""
        return module == "torch" or module.startswith("torch.")
    if node.op == "call_function":
        module = getattr(node.target, "__module__", None) or "torch"  # torch's builtins name none
        return module in ("torch", "_operator", "operator") or module.startswith("torch.")
    return False


def _real(value: Any, torch: Any) -> Any:
    """A meta value as real tensors of its shapes, dtypes and strides (random floats, zero others)."""
    if isinstance(value, torch.Tensor):
        t = torch.empty_strided(tuple(value.shape), tuple(value.stride()), dtype=value.dtype)
        return t.normal_() if t.is_floating_point() or t.is_complex() else t.zero_()
    if type(value) in (list, tuple):
        return type(value)(_real(v, torch) for v in value)
    if isinstance(value, dict):
        return {k: _real(v, torch) for k, v in value.items()}
    return value


def fetch(root: Any, target: str) -> Any:
    """The attribute at dotted path `target` of `root` (a get_attr node's target)."""
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj
