"""Which spec row stands for which reference row, for `check --against`: by module path, then by
structure, then by order, never by execution order alone.

A spec may list its layers in another order than the model runs them (an FPN's laterals before its
top-down path) and name its functional ops its own way; what identifies a row is where it sits in
the graph. So rows pair, in turn, each step among the rows still unpaired:

1. by a strong structural key: type, output shape, params, MACs and, recursively, the keys of the
   rows it reads (the rows that are equal on both sides), the same path first;
2. by path (call suffixes `@k` ignored), when the types agree;
3. by a weak structural key: type and the weak keys of the rows it reads (a row whose figures
   differ still finds its counterpart, so the difference is reported at the right row);
4. what is left by order, aligned on type and output shape where the runs differ in length.

Rows with equal keys (parallel branches built alike) pair in their own order. Inputs are compared
as a multiset: `add(a, b)` is `add(b, a)`.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class RowPair:
    spec_path: str | None
    reference_path: str | None
    spec: dict[str, Any] | None
    reference: dict[str, Any] | None
    matched_by: str  # "path", "structure", "order" or "" (unmatched)


def structural_keys(rows: list[dict[str, Any]]) -> None:
    """Set each row's "strong" and "weak" keys from its type, figures and the rows it reads
    (`row["inputs"]`: indices of earlier rows, or negative for a network input)."""
    for row in rows:
        strong = sorted(rows[i]["strong"] if i >= 0 else hash(("input", i)) for i in row["inputs"])  # ints: sortable
        weak = sorted(rows[i]["weak"] if i >= 0 else hash(("input", i)) for i in row["inputs"])
        row["strong"] = hash((row["type"], row["shape"], row["params"], row["macs"], tuple(strong)))
        row["weak"] = hash((row["type"], tuple(weak)))


def match(spec: list[dict[str, Any]], ref: list[dict[str, Any]]) -> list[RowPair]:
    """Pairs in spec order; a reference row with no counterpart follows the pair of the reference
    row before it."""
    partner: dict[int, tuple[int, str]] = {}  # spec index -> (reference index, how)
    taken: set[int] = set()
    _pair_by(lambda r: (r["strong"], _plain_path(r["path"])), spec, ref, partner, taken, "path")
    _pair_by(lambda r: r["strong"], spec, ref, partner, taken, "structure")
    _pair_by(lambda r: (r["type"], _plain_path(r["path"])), spec, ref, partner, taken, "path")
    _pair_by(lambda r: r["weak"], spec, ref, partner, taken, "structure")
    rest_spec = [i for i in range(len(spec)) if i not in partner]
    rest_ref = [j for j in range(len(ref)) if j not in taken]
    leftover: list[int] = []
    for a, b in _align([spec[i] for i in rest_spec], [ref[j] for j in rest_ref]):
        if a is not None and b is not None:
            partner[rest_spec[a]] = (rest_ref[b], "order")
        elif b is not None:
            leftover.append(rest_ref[b])
    spec_of = {j: i for i, (j, _) in partner.items()}
    ordered: list[tuple[tuple[int, int, int], RowPair]] = []
    for i, row in enumerate(spec):
        if i in partner:
            j, how = partner[i]
            ordered.append(((i, 0, 0), RowPair(row["path"], ref[j]["path"], row, ref[j], how)))
        else:
            ordered.append(((i, 0, 0), RowPair(row["path"], None, row, None, "")))
    for j in leftover:
        before = max((k for k in spec_of if k < j), default=None)
        anchor = spec_of[before] if before is not None else -1
        ordered.append(((anchor, 1, j), RowPair(None, ref[j]["path"], None, ref[j], "")))
    return [pair for _, pair in sorted(ordered, key=lambda item: item[0])]


def _plain_path(path: str) -> str:
    """A path without its call suffixes (`relu@1` -> `relu`): two calls pair in order."""
    return ".".join(part.partition("@")[0] for part in path.split("."))


def _pair_by(key: Callable[[dict], Any], spec: list[dict], ref: list[dict], partner: dict[int, tuple[int, str]],
             taken: set[int], how: str) -> None:
    """Pair still unpaired rows with equal keys, in their own order within each key."""
    waiting: dict[Any, list[int]] = {}
    for j, row in enumerate(ref):
        if j not in taken:
            waiting.setdefault(key(row), []).append(j)
    for i, row in enumerate(spec):
        if i in partner:
            continue
        queue = waiting.get(key(row))
        if queue:
            j = queue.pop(0)
            partner[i] = (j, how)
            taken.add(j)


def _align(spec: list[dict], ref: list[dict]) -> list[tuple[int | None, int | None]]:
    """Index pairs by order; where the lengths differ, aligned on type and output shape."""
    if len(spec) == len(ref):
        return [(k, k) for k in range(len(spec))]
    sig = lambda r: (r["type"], r["shape"])  # noqa: E731
    matcher = difflib.SequenceMatcher(a=[sig(r) for r in spec], b=[sig(r) for r in ref], autojunk=False)
    out: list[tuple[int | None, int | None]] = []
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        n = min(i2 - i1, j2 - j1)
        out += [(i1 + k, j1 + k) for k in range(n)]
        out += [(i, None) for i in range(i1 + n, i2)]
        out += [(None, j) for j in range(j1 + n, j2)]
    return out
