"""Issue 21's fuzz targets, one per class of failure the second campaign found; run by
`python benchmarks/fuzz_cli.py --targets N` and by tests/cli/test_fuzz_cli.py.

Real processes (`python -m cnncost.cli`: exit statuses, signals, closed descriptors and Python's
own flush at exit are what is tested):
- `pyspec`: a generated Python spec whose code raises any exception type (BaseException
  subclasses, GeneratorExit, SystemExit, KeyboardInterrupt), closes or replaces sys.stdout /
  sys.stderr, sleeps or loops (under --timeout 1), at import or in the callable;
- `write`: a table written to /dev/full, a closed descriptor, a pipe closed early, /dev/null;
- `special-file`: a spec that is /dev/null, /dev/zero, /dev/urandom, a directory, a FIFO without a
  writer, a symlink loop, a /proc file.
In-process (`cnncost.cli.main`):
- `onnx`: a small ONNX model with one random contradiction (weights vs kernel, channels, bias,
  groups; attribute lengths vs rank; an output nobody makes; an initializer vs its declared
  input; a pool, a Gemm, a batch norm that do not fit): refused naming the node; unbroken: imported;
- `csv-names`: random names (control characters, quotes, commas, formula starts) read back
  exactly by csv.reader (control characters as their visible escapes);
- `deprecated`: `fit --memory S` answers as `--budget` with S's units read as binary.

Each returns (class, detail): "ok", or a failure class ("traceback", "bad-output", "hang",
"accepted", "mismatch") with what was seen.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
TINY_NET = ("import cnncost\nfrom cnncost.layers import Conv, ReLU\n\n"
            "def _net():\n    return cnncost.Net('tiny', (3, 8, 8), [Conv(out=4, kernel=3, name='c'), ReLU(name='r')])\n")
PROCESS_LIMIT_S = 60.0


def _process(argv: list[str], *, stdout: Any = subprocess.PIPE, shell_suffix: str | None = None,
             timeout: float = PROCESS_LIMIT_S, cwd: str | None = None) -> tuple[int | None, bytes, bytes, float]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    environment.pop("CNNCOST_DEBUG", None)
    command = [sys.executable, "-m", "cnncost.cli", *argv]
    start = time.perf_counter()
    try:
        if shell_suffix is not None:
            import shlex
            line = " ".join(shlex.quote(part) for part in command) + " " + shell_suffix
            done = subprocess.run(line, shell=True, executable="/bin/bash", stdout=stdout, stderr=subprocess.PIPE,
                                  env=environment, timeout=timeout, cwd=cwd)
        else:
            done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, env=environment, timeout=timeout,
                                  cwd=cwd)
    except subprocess.TimeoutExpired:
        return None, b"", b"", time.perf_counter() - start
    return done.returncode, done.stdout or b"", done.stderr, time.perf_counter() - start


def _one_line(err: bytes) -> str | None:
    """What is wrong with stderr of a failed command, or None (one `cnncost: error:` line)."""
    text = err.decode("utf-8", "replace")
    if "Traceback" in text or "Exception ignored" in text:
        return "traceback"
    lines = text.split("\n")
    if len(lines) != 2 or lines[1] or not lines[0].startswith("cnncost: error: "):
        return "bad-output"
    return None


# --- real processes ---

_RAISES = ["raise ValueError('v')", "raise RuntimeError('r')", "raise GeneratorExit('g')", "raise SystemExit(3)",
           "raise SystemExit('text')", "raise SystemExit()", "raise KeyboardInterrupt",
           "raise Custom('c')", "raise MemoryError()", "raise RecursionError('deep')", "1 / 0",
           "raise StopIteration", "raise OSError(28, 'No space left on device')", "import nonexistent_module_xyz"]
_TAMPER = ["sys.stdout.close()", "sys.stderr.close()", "sys.stdout.close(); sys.stderr.close()",
           "sys.stdout = None", "sys.stderr = None", "sys.stdout = io.StringIO()", "sys.stdout = sys.stderr = None"]
_WAITS = ["time.sleep(30)", "while True:\n        pass",
          "while True:\n        try:\n            time.sleep(0.05)\n        except BaseException:\n            pass"]


def pyspec_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    roll = rng.random()
    where = rng.choice(["call", "import"])
    if roll < 0.55:
        action, expected = rng.choice(_RAISES), {2}
        if "KeyboardInterrupt" in action:
            expected = {130}
    elif roll < 0.85:
        action, expected = rng.choice(_TAMPER), {0}
    else:
        action, expected = rng.choice(_WAITS), {2}
    body = f"    {action}\n    return _net()\n"
    source = ("import io, sys, time\n" + TINY_NET + "\nclass Custom(BaseException):\n    pass\n\n"
              + ("def build():\n" + body if where == "call" else
                 "def _top():\n" + body.replace("return _net()", "pass") + "\n_top()\n\ndef build():\n    return _net()\n"))
    path = workdir / f"spec_{rng.randrange(10**9)}.py"
    path.write_text(source)
    fmt = rng.choice(["text", "csv", "json", "markdown"])
    code, out, err, seconds = _process(["table", f"{path}:build", "--format", fmt, "--timeout", "2"])
    shown = f"{where}: {action!r} -> exit {code}, {seconds:.1f} s, stderr {err[:300]!r}"
    if code is None:
        return "hang", shown
    if code not in expected:
        return "bad-output", shown
    if code == 0:
        if err or not out.strip():
            return "bad-output", shown
        return "ok", shown
    problem = _one_line(err)
    return (problem, shown) if problem else ("ok", shown)


def write_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    arch = rng.choice(["alexnet", "vgg16", "resnet18", "googlenet"])
    fmt = rng.choice(["text", "csv", "json", "html", "latex", "markdown"])
    sink = rng.choice(["full", "closed", "pipe", "null"])
    argv = ["table", arch, "--format", fmt]
    if sink == "full":
        with open("/dev/full", "wb") as full:
            code, _, err, seconds = _process(argv, stdout=full)
        expected = 2
    elif sink == "closed":
        code, _, err, seconds = _process(argv, stdout=None, shell_suffix=">&-")
        expected = 2
    elif sink == "pipe":
        count = rng.choice([1, 10, 100, 1000])
        code, _, err, seconds = _process(argv, shell_suffix=f"| head -c {count} >/dev/null; exit ${{PIPESTATUS[0]}}")
        expected = 0
    else:
        with open(os.devnull, "wb") as null:
            code, _, err, seconds = _process(argv, stdout=null)
        expected = 0
    shown = f"{' '.join(argv)} > {sink}: exit {code}, stderr {err[:300]!r}"
    if code is None:
        return "hang", shown
    if code != expected:
        return "bad-output", shown
    if expected == 0:
        return ("ok", shown) if not err else ("bad-output", shown)
    problem = _one_line(err)
    if problem:
        return problem, shown
    return ("ok", shown) if b"cannot write the output" in err else ("bad-output", shown)


def special_file_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    kind = rng.choice(["null", "zero", "urandom", "folder", "fifo", "loop", "proc"])
    if kind == "fifo":
        path = workdir / f"fifo{rng.randrange(10**9)}"
        os.mkfifo(path)
    elif kind == "loop":
        path = workdir / f"loop{rng.randrange(10**9)}.yaml"
        os.symlink(path, path)
    elif kind == "folder":
        path = workdir
    else:
        path = Path({"null": "/dev/null", "zero": "/dev/zero", "urandom": "/dev/urandom",
                     "proc": "/proc/self/status"}[kind])
    code, out, err, seconds = _process([rng.choice(["table", "spec", "fit"]), str(path), "--budget", "1GiB"]
                                       if rng.random() < 0.2 else ["table", str(path)], timeout=30)
    shown = f"{kind} ({path}): exit {code}, {seconds:.1f} s, stderr {err[:300]!r}"
    if code is None:
        return "hang", shown
    if code != 2 or out:
        return "bad-output", shown
    problem = _one_line(err)
    return (problem, shown) if problem else ("ok", shown)


# --- in process ---

def _main(argv: list[str]) -> tuple[int, str, str]:
    from cnncost.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    return code, out.getvalue(), err.getvalue()


_ONNX_BREAKS = ["kernel", "channels", "bias", "strides", "pads", "dilations", "group", "ghost-output",
                "initializer", "pool-kernel", "gemm", "batchnorm", None]


def _onnx_model(rng: random.Random, broken: str | None) -> tuple[Any, str]:
    from onnx import TensorProto, helper
    c_in, c_out, k = rng.choice([1, 3, 4]), rng.choice([4, 8]), rng.choice([1, 3])
    spatial = 16

    def tensor(name: str, dims: tuple[int, ...]) -> Any:
        size = 1
        for d in dims:
            size *= d
        return helper.make_tensor(name, TensorProto.FLOAT, list(dims), [0.0] * size)

    w = (c_out, c_in, k, k)
    attrs: dict[str, Any] = {"kernel_shape": [k, k], "pads": [k // 2] * 4}
    bias = c_out
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_in, spatial, spatial])]
    node_name = "conv_under_test"
    if broken == "kernel":
        w = (c_out, c_in, k + 2, k + 2)
    elif broken == "channels":
        w = (c_out, c_in + rng.randint(1, 3), k, k)
    elif broken == "bias":
        bias = c_out + rng.randint(1, 5)
    elif broken == "strides":
        attrs["strides"] = [1] * rng.choice([1, 3, 6])
    elif broken == "pads":
        attrs["pads"] = [0] * rng.choice([2, 3, 6])
    elif broken == "dilations":
        attrs["dilations"] = [1] * rng.choice([1, 3])
    elif broken == "group":
        attrs["group"] = 3 if c_out % 3 else 5
    inits = [tensor("w", w), tensor("b", (bias,))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name=node_name, **attrs),
             helper.make_node("Relu", ["y"], ["z"], name="act")]
    out_dims = [1, c_out, spatial, spatial]
    final = "z"
    if broken == "initializer":
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [c_out, c_in, k + 1, k + 1]))
        node_name = "'w'"
    elif broken == "pool-kernel":
        nodes.append(helper.make_node("MaxPool", ["z"], ["p"], name="pool_under_test", kernel_shape=[2] * rng.choice([1, 3])))
        final, out_dims, node_name = "p", [1, c_out, 8, 8], "pool_under_test"
    elif broken == "gemm":
        nodes += [helper.make_node("Flatten", ["z"], ["f"], name="flat"),
                  helper.make_node("Gemm", ["f", "fw", "fb"], ["o"], name="gemm_under_test", transB=1)]
        inits += [tensor("fw", (10, c_out * spatial * spatial + rng.randint(1, 9))), tensor("fb", (10,))]
        final, out_dims, node_name = "o", [1, 10], "gemm_under_test"
    elif broken == "batchnorm":
        nodes.append(helper.make_node("BatchNormalization", ["z", "s", "bb", "m", "v"], ["n"], name="bn_under_test"))
        inits += [tensor("s", (c_out,)), tensor("bb", (c_out,)), tensor("m", (c_out + 1,)), tensor("v", (c_out,))]
        final, node_name = "n", "bn_under_test"
    elif broken == "ghost-output":
        final, node_name = "ghost", "ghost"
        if rng.random() < 0.5:
            nodes = []
    outputs = [helper.make_tensor_value_info(final, TensorProto.FLOAT, out_dims)]
    graph = helper.make_graph(nodes, "fuzzed", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), node_name


def onnx_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    import onnx
    broken = rng.choice(_ONNX_BREAKS)
    model, node = _onnx_model(rng, broken)
    path = workdir / "fuzzed.onnx"
    onnx.save(model, str(path))
    code, out, err = _main(["table", str(path), "--format", rng.choice(["text", "json", "csv"])])
    shown = f"break {broken}: exit {code}, stderr {err[:300]!r}"
    if broken is None:
        return ("ok", shown) if code == 0 and not err else ("bad-output", shown)
    if code == 0:
        return "accepted", shown
    if code != 2 or out or err.count("\n") != 1 or not err.startswith("cnncost: error: "):
        return "bad-output", shown
    return ("ok", shown) if node in err or "not a valid ONNX model" in err else ("bad-output", shown)


def _random_name(rng: random.Random) -> str:
    alphabet = "ab,\"'=+-@ \t\r\n\x00\x1b\x7f\u202e\u2028\u00e9\u4e2d;|<>&\\"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def csv_names_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    from cnncost.errors import escape
    names: list[str] = []
    while len(names) < rng.randint(1, 8):
        name = _random_name(rng)
        if name.strip() and name not in names and "." not in name:
            names.append(name)
    layers = "\n".join(f"  - {{name: {json.dumps(n)}, type: relu}}" for n in names)
    path = workdir / "names.yaml"
    path.write_text(f"name: n\ninput: [3, 4, 4]\nlayers:\n{layers}\n", encoding="utf-8")
    code, out, err = _main(["table", str(path), "--format", "csv"])
    shown = f"names {names!r}: exit {code}, stderr {err[:200]!r}"
    if code == 2:  # a name the spec refuses (duplicates after normalising, reserved...): one line is fine
        return ("ok", shown) if err.count("\n") == 1 and err.startswith("cnncost: error: ") else ("bad-output", shown)
    if code != 0:
        return "bad-output", shown
    if any(ord(ch) < 32 and ch != "\n" or 0x7f <= ord(ch) <= 0x9f or ch in "\u202e\u2028" for ch in out):
        return "bad-output", shown + "; a raw control character"
    read = [row[0] for row in csv.reader(io.StringIO(out))][2:-1]
    return ("ok", shown) if read == [escape(n) for n in names] else ("mismatch", shown + f"; read back {read!r}")


def deprecated_target(rng: random.Random, workdir: Path) -> tuple[str, str]:
    number = rng.choice(["1", "2", "8", "0.5", "16", "80", "1.25"])
    unit = rng.choice(["kB", "MB", "GB", "TB", "gb", "Mb", "GiB", "MiB"])
    binary = {"kb": "KiB", "mb": "MiB", "gb": "GiB", "tb": "TiB"}.get(unit.lower(), unit)
    old = _main(["fit", "alexnet", "--memory", number + unit, "--format", "json"])
    new = _main(["fit", "alexnet", "--budget", number + binary, "--format", "json"])
    shown = f"--memory {number}{unit} vs --budget {number}{binary}: exits {old[0]}, {new[0]}"
    if old[0] != new[0] or old[1] != new[1]:
        return "mismatch", shown
    if "keeps its old meaning" not in old[2]:
        return "bad-output", shown + f"; note {old[2][:200]!r}"
    return "ok", shown


TARGETS: dict[str, Callable[[random.Random, Path], tuple[str, str]]] = {
    "pyspec": pyspec_target, "write": write_target, "special-file": special_file_target,
    "onnx": onnx_target, "csv-names": csv_names_target, "deprecated": deprecated_target,
}
IN_PROCESS = ("onnx", "csv-names", "deprecated")


def run_targets(counts: dict[str, int], seed: int, workdir: Path) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Run counts[name] cases of each target; per target the outcome classes, and the failures."""
    results: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    for name, count in counts.items():
        classes: dict[str, int] = {}
        for i in range(count):
            rng = random.Random(f"{seed}:{name}:{i}")
            try:
                cls, detail = TARGETS[name](rng, workdir)
            except Exception as error:  # noqa: BLE001 - the harness reports what escaped
                cls, detail = "traceback", f"{type(error).__name__}: {error}"
            classes[cls] = classes.get(cls, 0) + 1
            if cls != "ok":
                failures.append(f"{name} case {i}: {cls}: {detail}")
        results[name] = classes
    return results, failures
