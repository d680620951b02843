"""How rows of an imported torch graph are named: by the module a node ran in (`nn_module_stack`,
outermost first), so a row's path is its module's path; a functional op by its function."""
from __future__ import annotations

from typing import Any

from ..graphbuild import Scope


class RowNames:
    """The scopes (module blocks) of each node of a trace of `root`."""

    def __init__(self, root: Any, modules: dict[str, Any] | None = None) -> None:
        # `modules`: `root.named_modules()` as a table, where the caller has it
        self.modules = dict(root.named_modules()) if modules is None else modules
        self.children: dict[str, frozenset[str]] = {}  # module path -> its children's names
        self.known: dict[Any, tuple[list[Scope], str | None]] = {}  # `scopes` by module stack and call
        self.enclosing: dict[Any, tuple[list[Scope], str, Any]] = {}  # `_stack_scopes` by module stack
        self.by_stack: dict[tuple[int, Any], tuple[Any, Any]] = {}  # `scopes` by the id of a node's stack object

    @staticmethod
    def _module_stack(node: Any) -> list[tuple[Any, Any]]:
        """The (key, (path, type)) of the modules enclosing `node`, outermost first; the root
        (which torch.export lists, as path '') left out."""
        return [(key, value) for key, value in (node.meta.get("nn_module_stack") or {}).items()
                if (value[0] if isinstance(value, tuple) else str(value))]

    def where(self, node: Any) -> str:
        """The module path a node ran in, for messages."""
        if node.op == "call_module":
            return node.target
        stack = [value for _, value in self._module_stack(node)]
        return stack[-1][0] if stack else "(top level)"

    def scopes(self, node: Any) -> tuple[list[Scope], str | None]:
        """The blocks enclosing `node`, and for a module call the leaf's name; made once per module
        stack and called module (the nodes of one module share them: the list is read only)."""
        held = node.meta.get("nn_module_stack")
        call = node.target if node.op == "call_module" else None
        same = self.by_stack.get((id(held), call))  # the nodes of one module call share their stack (`tracing`)
        if same is not None and same[0] is held:
            return same[1]
        stack = self._module_stack(node)
        key = (tuple(stack), call)
        known = self.known.get(key)
        if known is None:
            known = self.known[key] = self._scopes(node, stack)
        self.by_stack[(id(held), call)] = (held, known)
        return known

    def _scopes(self, node: Any, stack: list[tuple[Any, Any]]) -> tuple[list[Scope], str | None]:
        if node.op == "call_module":
            if stack and stack[-1][1][0] == node.target:
                stack = stack[:-1]
        enclosing = tuple(stack)
        made = self.enclosing.get(enclosing)  # the modules' scopes, shared by every call inside them
        if made is None:
            made = self.enclosing[enclosing] = self._stack_scopes(stack)
        scopes, prev, parent_key = made
        if node.op != "call_module":
            return scopes, None
        scopes = list(scopes)
        parts = self._relative(prev, node.target)
        for j, part in enumerate(parts[:-1]):
            partial = ".".join(parts[:j + 1])
            sub_qual = f"{prev}.{partial}" if prev else partial
            scopes.append(Scope((parent_key, partial), part, self._reserved(sub_qual), is_call=False))
        return scopes, parts[-1] if parts else None

    def _stack_scopes(self, stack: list[tuple[Any, Any]]) -> tuple[list[Scope], str, Any]:
        """The scopes of the module stack, the innermost module's path and its scope key."""
        scopes: list[Scope] = []
        prev, parent_key = "", ("root",)
        for key, value in stack:
            qual = value[0] if isinstance(value, tuple) else str(value)
            parts = self._relative(prev, qual)
            for j, part in enumerate(parts):
                is_last = j == len(parts) - 1
                partial = ".".join(parts[:j + 1])
                sub_qual = f"{prev}.{partial}" if prev else partial
                scope_key = key if is_last else (parent_key, partial)
                scopes.append(Scope(scope_key, part, self._reserved(sub_qual), is_call=is_last))
                if is_last:
                    parent_key = key
            prev = qual
        return scopes, prev, parent_key

    @staticmethod
    def _relative(prev: str, qual: str) -> list[str]:
        if not prev:
            return qual.split(".")
        if qual.startswith(prev + "."):
            return qual[len(prev) + 1:].split(".")
        return [qual.replace(".", "_")]  # a module reached from outside its parent: one name

    def _reserved(self, qual: str) -> frozenset[str]:
        """The children's names of module `qual`: a functional op in its block must not take one."""
        names = self.children.get(qual)
        if names is None:
            module = self.modules.get(qual)
            names = frozenset(_child_names(module)) if module is not None else frozenset()
            self.children[qual] = names
        return names


def _child_names(module: Any) -> list[str]:
    """`[name for name, _ in module.named_children()]`, without its generator: each child once, at
    its first name."""
    seen: set[int] = set()
    names = []
    for name, child in module._modules.items():
        if child is not None and id(child) not in seen:
            seen.add(id(child))
            names.append(name)
    return names


def op_name(node: Any, gm: Any) -> str:
    """What an op is, for messages and opaque nodes: `torch.nn.modules.conv.Conv2d`, `torch.erf`,
    `Tensor.relu`, `operator.add`."""
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        return f"{type(m).__module__}.{type(m).__qualname__}"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or str(target)
    if "_VariableFunctionsClass" in qual or not module:  # torch's builtins: torch.erf
        module, qual = module or "torch", getattr(target, "__name__", qual)
    if module in ("_operator", "operator"):
        return f"operator.{qual}"
    return f"{module}.{qual}" if module else qual


def base_name(node: Any) -> str:
    """A functional op's row name: the function's, method's or ATen op's (`ROW_NAMES`)."""
    target = node.target
    if node.op == "call_method":
        name = str(target)
    elif getattr(target, "overloadpacket", None) is not None:  # an ATen op: aten.conv2d.default
        name = target.overloadpacket.__name__
    else:
        name = getattr(target, "__name__", None) or str(target)
    name = name.rstrip("_") or "op"
    return ROW_NAMES.get(name, name)


# Row names of functional ops whose function name says less (`getitem` of a chunk) or differs from
# the module's (`conv2d` / Conv2d's `conv`).
ROW_NAMES = {"iadd": "add", "imul": "mul", "cat": "concat", "concatenate": "concat", "truediv": "div",
             "getitem": "chunk", "adaptive_avg_pool2d": "avgpool", "adaptive_max_pool2d": "maxpool",
             "max_pool2d": "maxpool", "avg_pool2d": "avgpool", "interpolate": "upsample", "conv2d": "conv",
             "batch_norm": "bn", "layer_norm": "norm", "group_norm": "norm", "linear": "fc",
             # ATen ops (the torch.export importer)
             "max_pool2d_with_indices": "maxpool", "_adaptive_avg_pool2d": "avgpool", "upsample_nearest2d": "upsample",
             "upsample_bilinear2d": "upsample", "conv_transpose2d": "conv_transpose", "convolution": "conv",
             "_convolution": "conv", "native_batch_norm": "bn", "_native_batch_norm_legit": "bn",
             "_native_batch_norm_legit_functional": "bn", "_native_batch_norm_legit_no_training": "bn",
             "native_layer_norm": "norm", "addmm": "fc", "mm": "fc", "matmul": "fc", "native_dropout": "dropout",
             "_softmax": "softmax", "slice": "chunk", "split_with_sizes": "chunk", "hardtanh": "hardtanh"}

