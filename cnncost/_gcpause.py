"""`paused_gc`: the cyclic garbage collector off while a large, cycle-free structure is built (a
report of 70,000 rows, a trace, a step timeline): its passes over every live object otherwise cost
as much as the building itself. A module of its own so that a plain table imports nothing else."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc() -> Iterator[None]:
    """Collector off inside, restored on exit whatever happens (nested uses are fine)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
