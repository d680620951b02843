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

`resolve_sized` is the Python API's door (`load`, `table`, `compare`, `fit`, `sweep`, the receptive
field): the Net and the input and batch of the call, torchinfo's (B, C, H, W) and `input_size` read.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

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
        module, default, name = (arch, DEFAULT_INPUT, None) if kind == "module" else resolve_module(arch)
        return _traced(module, import_input, default, name, allow_unknown, train)
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


def _traced(module: Any, shape: Any, default: Any, name: str | None, allow_unknown: bool = False,
            train: bool = True) -> Net:
    """A torch module traced at `shape` (None: `default`); several inputs (a list, or the forward's
    argument names -> shapes) go as they are."""
    from .importers.torch_trace import from_torch
    return from_torch(module, shape if shape is not None else default, name=name, allow_unknown=allow_unknown,
                      train=train)


class Sized(NamedTuple):
    """An API call's model and input: the Net, the per-sample input to compile it at (None: its own)
    and the batch that input carried (torchinfo's (B, C, H, W), `input_size`; None: none given)."""

    net: Net
    input: Any
    batch: int | None


def resolve_sized(arch: Any, *, input: Any = None, input_size: Sequence[int] | None = None,
                  batch: int | None = None) -> Sized:
    """The Net of `arch` (any argument `resolve` takes) and the input and batch of an API call
    (`cnncost.load`, `table`, `fit`, `sweep`, `receptive_field`; `compare` through `table`).

    `input` is per sample, as everywhere in cnncost: (3, 224, 224) or '3x224x224'; several inputs
    as `resolve` takes them. Two spellings carry the batch, as torchinfo's `input_size` does:
    `input_size=(B, C, H, W)` (any rank: the first size is the batch; a `batch` also given must
    agree), and, where no `batch` is given, `input` of four ints where the model takes a C x H x W
    image: a Net, built-in or spec whose own input has three sizes, a torch module without a 3-D
    layer (Conv3d, ...: four sizes are then its C x D x H x W), a torch source likewise, an ONNX file
    whose input has three sizes per sample. With a `batch`, `input` is one sample whatever its
    rank (the first layer judges it, as on the command line). The model is imported at the
    per-sample shape. Callers without a batch (`load`, `fit`, the receptive field) drop it."""
    kind = kind_of(arch)
    if isinstance(input, str) and kind not in ("net", "unknown"):  # a Net reads a text shape itself
        input = _parsed(input)
    if input_size is not None:
        if input is not None:
            raise SpecError("give input (per sample) or input_size (with the batch first, as torchinfo's), not both")
        sizes = _sizes(input_size)
        return _agreed(resolve(arch, input=sizes[1:], import_input=sizes[1:]), sizes, batch)
    if batch is not None or not _four_sizes(input):
        return Sized(resolve(arch, input=input, import_input=input), input, batch)
    sizes = tuple(int(v) for v in input)
    if kind in ("module", "torch"):
        from .importers.sources import DEFAULT_INPUT, resolve_module
        module, default, name = (arch, DEFAULT_INPUT, None) if kind == "module" else resolve_module(arch)
        image = not isinstance(default, list) and len(default) == 3 and not _has_3d_layer(module)
        return (Sized(_traced(module, sizes[1:], default, name), sizes[1:], sizes[0]) if image
                else Sized(_traced(module, sizes, default, name), sizes, None))
    if kind == "onnx":
        own = resolve(arch)
        if len(own.input) != 3:
            return Sized(resolve(arch, import_input=sizes), sizes, None)
        return Sized(own if own.input == sizes[1:] else resolve(arch, import_input=sizes[1:]), sizes[1:], sizes[0])
    net = resolve(arch, input=input)  # a spec without `input:` takes these four sizes as its own
    image = len(net.input) == 3 and not net.more_inputs
    return Sized(net, sizes[1:], sizes[0]) if image else Sized(net, sizes, None)


def _agreed(net: Net, sizes: tuple[int, ...], batch: int | None) -> Sized:
    """The Net at input_size's sizes[1:], batch sizes[0]: a batch also given must be the same."""
    if batch is not None and batch != sizes[0]:
        raise SpecError(f"input_size {sizes} carries batch {sizes[0]} (torchinfo's), but batch={batch!r} "
                        f"was given too: give the batch once, or the input per sample, {sizes[1:]}")
    return Sized(net, sizes[1:], sizes[0])


def _four_sizes(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 4 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)


def _sizes(value: Any) -> tuple[int, ...]:
    """input_size: the batch and a per-sample shape, positive ints."""
    if isinstance(value, str):
        value = _parsed(value)
    if (not isinstance(value, (tuple, list)) or len(value) < 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise SpecError(f"input_size is the batch and then the shape of one sample, positive ints like "
                        f"(1, 3, 224, 224), got {value!r}")
    return tuple(value)


def _parsed(text: str) -> Shape:
    from .shapes import parse_shape
    try:
        return parse_shape(text)
    except ValueError as error:  # the same error as Net.with_input gives
        raise SpecError(f"input must be like (3, 224, 224) or '3x224x224': {error}") from None


def _has_3d_layer(module: Any) -> bool:
    """A module with a volumetric layer (Conv3d, BatchNorm3d, MaxPool3d, ...) takes C x D x H x W samples."""
    return any(type(m).__name__.endswith("3d") for m in module.modules())


def _is_module(value: Any) -> bool:
    """An nn.Module, without importing torch (a module exists only once torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)
