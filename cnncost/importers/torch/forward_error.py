"""Whether a module's own forward raises, so that a tracing failure is final at once (issue 21).

When torch.fx fails, the importer tries torch.export, which runs the same Python forward again,
slowly (seconds to tens of seconds for a large model) -- pointless where the forward itself raises
(`raise ValueError(...)` in the user's code, a shape mismatch). `raises_the_same` runs the forward
once eagerly on fake tensors (no data, no memory; parameters and buffers untouched) and says
whether it raises the very error fx met: the error is then the module's, not the tracer's, and no
other tracer can succeed.
"""
from __future__ import annotations

from typing import Any


def raises_the_same(module: Any, shape: Any, error: BaseException) -> bool:
    """True where `module(x)` for a float input of per-sample `shape` (batch 1) raises an exception
    of `error`'s type and first line of message (fx adds lines naming the node). False where it runs, fails otherwise (fake tensors cannot run
    some ops: then export may still succeed) or the input is not one plain tensor."""
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d > 0 for d in shape):
        return False
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from .guarded import first_line, restore_buffers, save_buffers
    import logging
    logger = logging.getLogger("torch._subclasses.fake_tensor")  # it logs a failing meta kernel's traceback
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    buffers = save_buffers(module)
    try:
        with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
            module(torch.empty((1, *shape)))  # a fake tensor: made inside the mode
    except Exception as eager:  # noqa: BLE001 - compared with fx's error below
        return type(eager) is type(error) and first_line(eager) == first_line(error)
    finally:
        restore_buffers(buffers)
        logger.setLevel(level)
    return False
