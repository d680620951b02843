"""A command's architecture argument -> a Net, through `cnncost.resolve`, remembering what the
error boundary names in a message: the argument (`args._source`), whether it is a file
(`args._is_file`: an error in it is about that file) and whether it is a built-in name
(`args._builtin`: `sweep --width` rebuilds a built-in family by name)."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import SpecError
from ..reading import STDIN
from .progress import stage

SPEC_FILES = ("python", "spec")  # a failure to read one is about the file
MODEL_FILES = ("onnx", "torch")  # an importer names the model in its own errors; a later error names it
READING = {"builtin": "building", "python": "running the Python spec", "torch": "tracing the model",
           "onnx": "reading the ONNX model"}  # the progress line's stage while an argument becomes a Net


def resolve_arch(args: argparse.Namespace, arch: str) -> Any:
    """The Net of `arch`. A model is imported at its own input, and the command's --input then
    applies to the Net as to any spec; --input fills in a YAML spec without `input:` and reaches a
    Python spec's callable when it takes `input`. '-' (stdin) can be read once per command."""
    from ..resolve import kind_of, resolve
    args._source = "<stdin>" if arch == STDIN else arch
    kind = kind_of(arch)
    args._is_file, args._builtin = kind in SPEC_FILES, kind == "builtin"
    if arch == STDIN:
        if getattr(args, "_stdin_used", False):
            raise SpecError("'-' (stdin) can be given only once")
        args._stdin_used = True
    stage(READING.get(kind, "reading the spec") + (f" {arch}" if getattr(args, "archs", None) else ""))
    net = resolve(arch, input=_given_input(args), allow_unknown=getattr(args, "allow_unknown", False),
                  max_bytes=getattr(args, "max_spec_bytes", None), max_yaml_nodes=getattr(args, "max_yaml_nodes", None))
    args._is_file = args._is_file or kind in MODEL_FILES
    stage("computing")
    return net


def _given_input(args: argparse.Namespace) -> Any:
    """The command's --input: a shape, several (a mapping of named shapes or a tuple of shapes),
    sweep's list: its first full shape, or None."""
    value = getattr(args, "input", None)
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, tuple)), None)
    return value if isinstance(value, (tuple, dict)) else None
