"""Speed of the memory engine's worst cases and of refusals that must never hang, in one run:

    python benchmarks/bench_guards.py [--repeat 3]

- the caching allocator's replay of 100,000 mixed allocations and frees (a step's events of a deep
  net at many moments);
- `fit(..., checkpoint=["auto"])` on resnet152 and densenet201 (the search over checkpoint plans);
- refusing a 600-byte YAML whose aliases would expand to 10^9 nodes (read as a spec file by `table`).

Nothing is asserted (the tests check what these return; speed is this script's job). Targets:
replay under 1 s, the automatic checkpoint fit a few seconds, the YAML refusal well under 1 s, on one
idle core.
"""
from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

from timing import best_of  # benchmarks/timing.py (scripts run with benchmarks/ on sys.path)


def replay_events(count: int = 100_000) -> list:
    """Allocations of ten size classes (512 B to 60 MB, off by a few bytes) and frees in a scattered
    order: two frees per allocation once blocks are live."""
    events, live, key = [], [], 0
    sizes = [512 * k for k in (1, 3, 17, 300, 2047, 2049, 9000, 20000, 50000, 120000)]
    for i in range(count):
        if i % 3 == 2 or not live:
            events.append(("alloc", key, sizes[(key * 7) % len(sizes)] + key % 500))
            live.append(key)
            key += 1
        else:
            events.append(("free", live.pop((i * 13) % len(live))))
    return events


def yaml_bomb(folder: pathlib.Path) -> pathlib.Path:
    levels = "".join(f"  - &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
    path = folder / "bomb.yaml"
    path.write_text("name: x\ninput: [3, 8, 8]\nnotes:\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                    + levels + "layers: [{type: relu}]\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import cnncost
    from cnncost.errors import CnnCostError
    from cnncost.memory.allocator import replay

    events = replay_events()
    seconds = best_of(args.repeat, lambda: replay(events), clock=time.process_time)
    print(f"allocator replay, {len(events):,} events: {seconds * 1e3:.0f} ms ({len(events) / seconds / 1e6:.2f} M events/s)")
    for arch in ("resnet152", "densenet201"):
        seconds = best_of(args.repeat, lambda: cnncost.fit(arch, "40GiB", checkpoint=["auto"]), clock=time.process_time)
        print(f"fit {arch} 40GiB checkpoint auto: {seconds:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = yaml_bomb(pathlib.Path(folder))

        def refuse() -> None:
            try:
                cnncost.table(str(path))
            except CnnCostError:
                return
            raise SystemExit("the YAML bomb was not refused")
        seconds = best_of(args.repeat, refuse, clock=time.process_time)
    print(f"YAML alias bomb (10^9 nodes in 600 bytes) refused in {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
