"""Running a module to learn its graph: torch.fx tracing with retries (a module fx cannot trace
through becomes a leaf), one pass over the trace on fake tensors for every tensor's shape, and
keeping the module's buffers as they were."""
from __future__ import annotations

from typing import Any

from ...errors import CnnCostError
from .values import BATCH


def _leaf_classes() -> tuple[type, ...]:
    """Stochastic depth of torchvision and timm, when installed: layers, not code to trace into."""
    found: list[type] = []
    try:
        from torchvision.ops import StochasticDepth as TvStochasticDepth
        found.append(TvStochasticDepth)
    except Exception:  # noqa: BLE001 - torchvision absent or broken: nothing to add
        pass
    try:
        import sys
        if "timm" in sys.modules or _importable("timm"):
            from timm.layers import DropPath
            found.append(DropPath)
    except Exception:  # noqa: BLE001
        pass
    return tuple(found)


def _importable(name: str) -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def trace_module(module: Any, *, attempts: int = 50) -> tuple[Any, dict[str, str]]:
    """The torch.fx GraphModule of `module` (torch.nn modules and stochastic depth are leaves), and
    the modules fx could not trace through, each kept as a leaf with the reason: when tracing fails
    inside a module, that module becomes a leaf and tracing starts again."""
    import torch
    import torch.fx
    from ...torch_backend.own_modules import CenterCrop as CropModule, StochasticDepth as DropPathModule

    extra = _leaf_classes() + (DropPathModule, CropModule)
    untraceable: dict[str, str] = {}

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: torch.nn.Module, qualname: str) -> bool:
            if qualname in untraceable or isinstance(m, extra):
                return True
            return super().is_leaf_module(m, qualname)

    for _ in range(attempts):
        tracer = Tracer()
        try:
            graph = tracer.trace(module)
        except Exception as error:  # noqa: BLE001 - retried with the failing module as a leaf
            stack = [value[0] for value in getattr(tracer, "module_stack", {}).values()
                     if isinstance(value, tuple)]
            inner = next((q for q in reversed(stack) if q and q not in untraceable), None)
            if inner is None:
                raise
            untraceable[inner] = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}"
            continue
        return torch.fx.GraphModule(tracer.root, graph, type(module).__name__), untraceable
    raise CnnCostError(f"torch.fx cannot trace {type(module).__name__} (gave up after {attempts} modules)")


def record(gm: Any, x_shape: tuple[int, ...]) -> dict[Any, Any]:
    """Run the traced graph once and keep every node's result: on fake tensors (no data, no
    memory, the module's buffers untouched), else on a copy of the module with real tensors."""
    import torch
    import torch.fx

    results: dict[Any, Any] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            value = super().run_node(n)
            results[n] = value
            return value

    import logging
    log = logging.getLogger("torch._subclasses.fake_tensor")
    level = log.level
    log.setLevel(logging.CRITICAL)  # a failing meta kernel logs a traceback before raising
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode
        with FakeTensorMode(allow_non_fake_inputs=True):
            x = torch.empty(BATCH, *x_shape)
            Recorder(gm).run(x)
        return results
    except Exception:  # noqa: BLE001 - fake tensors cannot run every op: real ones can
        results.clear()
    finally:
        log.setLevel(level)
    import copy
    clone = copy.deepcopy(gm)
    with torch.no_grad():
        Recorder(clone).run(torch.randn(BATCH, *x_shape))
    return results


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def save_buffers(module: Any) -> list[tuple[Any, Any]]:
    """Copies of the module's buffers: a train-mode pass moves BatchNorm's running statistics."""
    return [(b, b.detach().clone()) for b in module.buffers()]


def restore_buffers(buffers: list[tuple[Any, Any]]) -> None:
    import torch
    with torch.no_grad():
        for b, copy in buffers:
            b.copy_(copy)
