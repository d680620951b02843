"""The one timing rule of the benchmarks: the best of `repeat` calls (the least disturbed by a busy
machine), optionally after an untimed warm-up call and with untimed work before each call."""
from __future__ import annotations

import time
from typing import Callable


def best_of(repeat: int, func: Callable[[], object], before: Callable[[], object] | None = None,
            warm_up: bool = False, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds of the fastest of `repeat` calls of func; `before` runs untimed before each call;
    `clock` time.process_time for CPU time (what a machine shared with other work inflates least)."""
    if warm_up:
        func()  # imports, caches, first-call dispatch
    times = []
    for _ in range(repeat):
        if before:
            before()
        start = clock()
        func()
        times.append(clock() - start)
    return min(times)
