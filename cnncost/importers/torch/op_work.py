"""The MACs of computing a tensor from parameters (`constants._evaluate`), counted once per kind of
call within one import: FlopCounterMode, and the backward passes `constants._gradient_macs` runs,
cost most of such a computation (Swin V2's position-bias MLP in every block: a third of the
import). A call like one counted before (the same torch function, method or torch.nn module
configuration, on tensors of the same shapes, dtypes, strides and gradient needs, with equal
other arguments) has the same counts: FlopCounterMode's formulas read only these. Calls whose
counts could depend on more (a Python function or module from outside torch) are always counted."""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable

_COUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # import -> {(key, what): count}


def counter(imp: Any, node: Any, args: Any, kwargs: Any) -> Any:
    """A FlopCounterMode for this call, or where a call of the same key was counted in this import,
    a stand-in that gives that count (`get_total_flops`) without counting."""
    key = _key(imp, node, args, kwargs)
    counts = _COUNTS.setdefault(imp, {})
    if key is not None and (key, "flops") in counts:
        return _Known(counts[(key, "flops")])
    counting = _counting_class()(display=False)
    counting.noted = (counts, key)
    return counting


@functools.cache
def _counting_class() -> type:
    from torch.utils.flop_counter import FlopCounterMode

    class Counting(FlopCounterMode):
        """FlopCounterMode that notes its count under its call's key when the call ran."""

        noted: tuple[dict, Any] = ({}, None)

        def __exit__(self, *exc: Any) -> Any:
            done = super().__exit__(*exc)
            counts, key = self.noted
            if key is not None and exc[0] is None:
                counts[(key, "flops")] = self.get_total_flops()
            return done

    return Counting


def gradient_macs(imp: Any, node: Any, args: Any, kwargs: Any, value: Any,
                  count: Callable[..., tuple[int, int]]) -> tuple[int, int]:
    """`count(imp, node, args, kwargs, value)` (constants._gradient_macs), once per key."""
    key = _key(imp, node, args, kwargs)
    counts = _COUNTS.setdefault(imp, {})
    if key is None:
        return count(imp, node, args, kwargs, value)
    if (key, "gradients") not in counts:
        counts[(key, "gradients")] = count(imp, node, args, kwargs, value)
    return counts[(key, "gradients")]


class _Known:
    """A counter's stand-in that knows the count."""

    def __init__(self, flops: int) -> None:
        self.flops = flops

    def __enter__(self) -> "_Known":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def get_total_flops(self) -> int:
        return self.flops


def _key(imp: Any, node: Any, args: Any, kwargs: Any) -> Any:
    """What the counts of this call depend on; None where they may depend on more."""
    import torch

    def signature(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return ("tensor", tuple(v.shape), tuple(v.stride()), v.dtype, v.requires_grad, v.is_leaf)
        if v is None or type(v) in (bool, int, float, str) or isinstance(v, (torch.dtype, torch.device)):
            return v
        if type(v) in (list, tuple, torch.Size):
            return (type(v).__name__, *(signature(item) for item in v))
        if type(v) is slice:
            return ("slice", signature(v.start), signature(v.stop), signature(v.step))
        if type(v) is dict and all(type(k) is str for k in v):
            return ("dict", *((k, signature(item)) for k, item in v.items()))
        raise TypeError(type(v).__name__)

    if node.op == "call_module":
        m = imp.gm.get_submodule(node.target)
        if not type(m).__module__.startswith("torch.nn.modules") or m._forward_hooks or m._forward_pre_hooks \
                or next(m.children(), None) is not None:  # a container's counts depend on its children
            return None
        what: Any = (type(m), m.extra_repr(), m.training,
                     tuple((n, signature(t)) for n, t in (*m.named_parameters(), *m.named_buffers())))
    elif node.op == "call_method":
        what = ("method", node.target)
    else:
        module = getattr(node.target, "__module__", None) or ""
        if not (module.startswith("torch") or module in ("_operator", "operator")):
            return None
        what = node.target
    try:
        return what, signature(args), signature(kwargs)
    except TypeError:
        return None
