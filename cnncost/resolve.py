"""One architecture argument -> one Net, for the Python API, every command and `check --against`.

An argument is, tested in this order:

- a `Net` (used as it is) or a torch `nn.Module` (traced: `cnncost.importers.torch_trace`);
- `FILE.py:callable`: a Python spec, run (`cnncost.pyspec`);
- a `.onnx` file (`cnncost.importers.onnx_graph`);
- a torch source, `torchvision:NAME`, `timm:NAME` or `package.module:callable` (not an existing
  file): the module `cnncost.importers.sources` builds, traced;
- a YAML spec: a path, or `-` for stdin (`cnncost.spec`, read within the limits of `cnncost.reading`);
- else a built-in name (`cnncost.zoo.registry`).

Two inputs, because an import and a spec take one differently: `input` fills in a YAML spec
without an `input:` key and reaches a Python spec's callable when it takes `input`; `import_input`
is the size a model is imported at (None: the model's own, torchvision's crop size, the ONNX
file's, else 3x224x224). The command line imports at the model's own size and applies --input to
the Net afterwards, as to any spec; the Python API and `cnncost import` import at the size given.
Nothing heavy is imported before the branch that needs it.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from .errors import SpecError
from .net import Net, several_inputs
from .shapes import Shape

KINDS = ("net", "module", "python", "onnx", "torch", "spec", "builtin")
ONNX_SUFFIX = ".onnx"


def kind_of(arch: Any) -> str:
    """Which of `KINDS` an argument is (see the module); anything else is "unknown". Never raises."""
    if isinstance(arch, Net):
        return "net"
    if _is_module(arch):
        return "module"
    if isinstance(arch, os.PathLike):
        return "onnx" if os.fspath(arch).lower().endswith(ONNX_SUFFIX) else "spec"
    if not isinstance(arch, str):
        return "unknown"
    if ":" in arch:  # pyspec and the importers load only for the arguments that may need them
        from .pyspec import is_python_spec
        if is_python_spec(arch):
            return "python"
    if arch.lower().endswith(ONNX_SUFFIX):
        return "onnx"
    if ":" in arch:
        from .importers.sources import is_torch_source
        if is_torch_source(arch):
            return "torch"
    from .reading import is_spec_path
    return "spec" if is_spec_path(arch) else "builtin"


def resolve(arch: Any, *, input: Shape | None = None, import_input: Shape | None = None,
            allow_unknown: bool = False, train: bool = True, max_bytes: int | None = None,
            max_yaml_nodes: int | None = None) -> Net:
    """The Net an architecture argument stands for (see the module). `allow_unknown` keeps an
    imported operation cnncost does not know as an opaque node; `train` traces a torch model in
    training mode; `max_bytes` and `max_yaml_nodes` bound a YAML spec (`cnncost.reading`)."""
    kind = kind_of(arch)
    if kind == "net":
        return arch
    if kind == "python":
        from .pyspec import load_python_spec
        return load_python_spec(arch, input=input, allow_unknown=allow_unknown)
    if kind == "onnx" and several_inputs(import_input):
        raise SpecError("an ONNX model is imported at one input shape; several inputs (NAME=SHAPE, or --input "
                        "given more than once) apply to a torch model, a spec, a Python spec or a built-in")
    if kind in ("module", "torch"):
        from .importers.sources import DEFAULT_INPUT, resolve_module
        from .importers.torch_trace import from_torch
        module, default, name = (arch, DEFAULT_INPUT, None) if kind == "module" else resolve_module(arch)
        # several inputs (a list, or the forward's argument names -> shapes) go as they are
        shape = import_input if import_input is not None else default
        return from_torch(module, shape, name=name, allow_unknown=allow_unknown, train=train)
    if kind == "onnx":
        from .importers.onnx_graph import from_onnx
        shape = tuple(int(v) for v in import_input) if import_input is not None else None
        return from_onnx(os.fspath(arch), allow_unknown=allow_unknown, input=shape)
    if kind == "spec":
        from .spec import load_spec
        text = arch if isinstance(arch, os.PathLike) else str(arch)
        return load_spec(text, max_bytes=max_bytes, max_nodes=max_yaml_nodes, input=input)
    if kind == "builtin":
        from .zoo.registry import get_arch
        return get_arch(arch)
    from .errors import CnnCostError
    what = f"the class {arch.__name__}, not a model" if isinstance(arch, type) else type(arch).__name__
    raise CnnCostError(f"an architecture is a built-in name, a spec file, a Net, a torch.nn.Module (cnncost.from_torch "
                       f"imports one with its options), an ONNX file or a torch source such as 'torchvision:resnet18'; "
                       f"got {what}")


def _is_module(value: Any) -> bool:
    """An nn.Module, without importing torch (a module exists only once torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)
