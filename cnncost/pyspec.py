"""A spec as a Python function: `FILE.py:callable`, wherever a command takes a spec.

    cnncost table mynet.py:build            # build() returns a cnncost Net (or a torch nn.Module)
    cnncost fit  models/nets.py:Small.make --budget 24GB

The file is RUN as Python, with the rights of the user who runs cnncost: that is the point of this
form (the user named the file), and it is why a spec from elsewhere is better a YAML file, which
is only ever read as data. While the file runs, its folder is first on `sys.path`, so it may
import its neighbours.

`callable` (a dotted name inside the file: `build`, `Nets.small`) is called without arguments, or
with `input=(C, H, W)` when it takes an `input` parameter and the command was given `--input`.
It may return a `cnncost.Net`, or an `nn.Module`, which is imported as `cnncost import` would
(`cnncost.importers.from_torch`; needs torch) at `--input` or 3x224x224. A name that is already a
Net (or a module) is used as it is, without a call.

Every failure is one `SpecError` naming the file: missing, not a .py file, a syntax error, the
file raising while it runs, the callable missing (with the closest names), the callable raising
(the exception named: any type, SystemExit, GeneratorExit and BaseException subclasses included),
or a result of the wrong type. KeyboardInterrupt and `guard.Stopped` (SIGTERM, the time limit) pass
through, as they are not the spec's error; sys.stdout and sys.stderr are given back after its code
ran, whatever it did to them (`guard.own_streams`).
"""
from __future__ import annotations

import hashlib
import inspect
import os
import re
import stat
import sys
from typing import Any, Mapping

from .errors import CnnCostError, SpecError, escape
from .guard import Stopped, own_streams
from .net import Net, several_inputs

__all__ = ["is_python_spec", "split_python_spec", "load_python_spec", "load_python_object"]

_ATTR = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_PY_SPEC = re.compile(rf"(?P<file>.+\.py):(?P<attr>{_ATTR})", re.IGNORECASE | re.DOTALL)
_ANY_FILE = re.compile(rf"(?P<file>.+):(?P<attr>{_ATTR})", re.DOTALL)
MAX_PY_BYTES = 16 * 2**20


def split_python_spec(text: Any) -> tuple[str, str] | None:
    """(file, callable) for 'FILE.py:callable' (or 'FILE:callable' naming an existing file, so that a
    wrong suffix gets its own message), else None. Never raises."""
    if not isinstance(text, str) or len(text) > 4096 or "\x00" in text:
        return None
    match = _PY_SPEC.fullmatch(text)
    if match is None:
        match = _ANY_FILE.fullmatch(text)
        if match is None:
            return None
        try:
            if not os.path.isfile(match.group("file")):
                return None
        except (OSError, ValueError):
            return None
    return match.group("file"), match.group("attr")


def is_python_spec(text: Any) -> bool:
    """Whether an architecture argument is the `FILE.py:callable` form."""
    return split_python_spec(text) is not None


def load_python_spec(text: str, *, input: tuple[int, ...] | None = None, source: str | None = None,
                     allow_unknown: bool = False) -> Net:
    """Run FILE.py, call its `callable` and return the Net it builds (see the module's docstring);
    `allow_unknown` imports a module's unknown operations as opaque nodes, as `cnncost import`."""
    result, attr, path, where = _load(text, input, source)
    return _as_net(result, attr, input, path, where, allow_unknown)


def load_python_object(text: str, *, input: tuple[int, ...] | None = None, source: str | None = None) -> Any:
    """What FILE.py's `callable` gives, a Net or an nn.Module not yet imported (`check --against`
    runs the module itself); anything else is the same SpecError as `load_python_spec`'s."""
    result, attr, path, where = _load(text, input, source)
    return result if _is_module(result) else _as_net(result, attr, input, path, where)


def _load(text: str, input: tuple[int, ...] | None, source: str | None) -> tuple[Any, str, str, str]:
    parts = split_python_spec(text)
    if parts is None:
        raise SpecError(f"expected FILE.py:callable, got '{escape(text, 80)}'")
    path, attr = parts
    where = source or text
    if not path.lower().endswith(".py"):
        raise SpecError(f"a Python spec must be a .py file (FILE.py:{attr}), got '{escape(path, 80)}'",
                        source=where)
    module = _run_file(path, where)
    obj = _lookup(module, attr, path, where)
    return (_call(obj, attr, input, where) if _needs_call(obj) else obj), attr, path, where


def _run_file(path: str, where: str) -> Any:
    try:
        info = os.stat(path)
    except (OSError, ValueError) as error:
        problem = error.strerror.lower() if isinstance(error, OSError) and error.strerror else str(error)
        raise SpecError(f"cannot read Python spec: {problem}", source=where) from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError("cannot read Python spec: it is not a regular file", source=where)
    if info.st_size > MAX_PY_BYTES:
        raise SpecError(f"the Python spec is {info.st_size:,} bytes, above the {MAX_PY_BYTES:,}-byte limit",
                        source=where)
    try:
        with open(path, "rb") as handle:
            code_bytes = handle.read(MAX_PY_BYTES + 1)
    except OSError as error:
        raise SpecError(f"cannot read Python spec: {(error.strerror or str(error)).lower()}", source=where) from None
    absolute = os.path.abspath(path)
    name = "cnncost_pyspec_" + hashlib.sha1(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    try:
        code = compile(code_bytes, absolute, "exec")
    except SyntaxError as error:
        line = f" at line {error.lineno}" if error.lineno else ""
        raise SpecError(f"the Python spec has a syntax error{line}: {error.msg}", source=where) from None
    except (ValueError, UnicodeError) as error:  # NUL bytes, a bad encoding
        raise SpecError(f"the Python spec cannot be compiled: {error}", source=where) from None
    import types
    module = types.ModuleType(name)
    module.__file__ = absolute
    folder = os.path.dirname(absolute)
    sys.modules[name] = module  # dataclasses and pickling look the module up while it runs
    sys.path.insert(0, folder)
    try:
        with own_streams():
            exec(code, module.__dict__)  # noqa: S102  - the user named this file to be run
    except (KeyboardInterrupt, Stopped):  # Ctrl-C, SIGTERM, the time limit: not the spec's error
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit, GeneratorExit, its own BaseException
        sys.modules.pop(name, None)
        raise SpecError(f"running the Python spec raised {_exception(error)}", source=where) from None
    finally:
        _remove_path(folder)
    return module


def _remove_path(folder: str) -> None:
    try:
        sys.path.remove(folder)
    except ValueError:
        pass


def _exception(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {escape(text, 300)}" if text else type(error).__name__


def _lookup(module: Any, attr: str, path: str, where: str) -> Any:
    obj: Any = module
    walked: list[str] = []
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            if obj is module:
                names = [n for n in names if getattr(getattr(module, n), "__module__", None) == module.__name__
                         or isinstance(getattr(module, n), Net)]
            import difflib
            close = difflib.get_close_matches(part, names, n=3)
            owner = f"'{'.'.join(walked)}'" if walked else os.path.basename(path)
            hint = (f"; did you mean {', '.join(close)}?" if close else
                    (f"; it defines: {', '.join(sorted(names)[:10])}" if names else "; it defines no functions"))
            raise SpecError(f"{owner} has no '{part}'{hint}", source=where)
        obj = getattr(obj, part)
        walked.append(part)
    return obj


def _needs_call(obj: Any) -> bool:
    if isinstance(obj, Net) or _is_module(obj):
        return False
    return callable(obj)


def _call(obj: Any, attr: str, input: tuple[int, ...] | None, where: str) -> Any:
    kwargs: dict[str, Any] = {}
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        parameters = {}
    if input is not None and "input" in parameters:
        kwargs["input"] = input if several_inputs(input) else tuple(input)  # a mapping of named shapes stays one
    required = [p.name for p in parameters.values()
                if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                                      p.KEYWORD_ONLY) and p.name not in kwargs]
    if required:
        raise SpecError(f"'{attr}' must be callable without arguments; it requires {', '.join(required)}"
                        + (" (an 'input' parameter gets --input)" if "input" in required else ""), source=where)
    try:
        with own_streams():
            return obj(**kwargs)
    except CnnCostError as error:  # a Net that does not validate: keep cnncost's own message
        raise error.at(source=where) from None
    except (KeyboardInterrupt, Stopped):
        raise
    except BaseException as error:  # noqa: BLE001
        raise SpecError(f"'{attr}' raised {_exception(error)}", source=where) from None


def _is_module(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _as_net(result: Any, attr: str, input: tuple[int, ...] | None, path: str, where: str,
            allow_unknown: bool = False) -> Net:
    if isinstance(result, Net):
        import dataclasses
        return result if result.source else dataclasses.replace(result, source=where)
    if _is_module(result):
        from .importers.torch_trace import from_torch
        name = attr.rpartition(".")[2]
        shape = input if input is not None and several_inputs(input) else tuple(input) if input else (3, 224, 224)  # several: by the forward's
        return from_torch(result, shape, name=name, allow_unknown=allow_unknown)
    raise SpecError(f"'{attr}' returned {_kind(result)}, not a cnncost Net (or a torch nn.Module)", source=where)


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"
