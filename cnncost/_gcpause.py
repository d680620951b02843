"""`paused_gc`: the cyclic garbage collector off while a large, cycle-free structure is built (a
report of 70,000 rows, a trace, a step timeline): its passes over every live object otherwise cost
as much as the building itself. A module of its own so that a plain table imports nothing else."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_gc(collect_young: bool = False) -> Iterator[None]:
    """Collector off inside, restored on exit whatever happens (nested uses are fine).
    `collect_young`: on exit, collect the youngest generation at once (what was made inside and is
    garbage: a trace's cycles), which leaves the collector's counts where its own first automatic
    pass would not: that pass, after a long pause, often became a full collection of the
    process's heap (torch's few hundred thousand objects: 10-40 ms)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            if collect_young:
                gc.collect(0)
