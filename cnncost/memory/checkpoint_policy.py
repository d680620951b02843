"""Which regions `--checkpoint` names: block patterns and the policies over a chain of blocks.

- `A..B`: one region from block A's first row to block B's last (a run of consecutive blocks).
- `PATTERN`: every block whose path matches (fnmatch, as `--freeze`: 'layer2.1', 'layer3.*'); of
  nested matches only the outermost is checkpointed (PyTorch would recompute the inner one twice).
- `all[:STAGE]`, `every:K[:STAGE]`, `sqrt[:STAGE]`: policies over *the chain*: the blocks directly
  under the net's top level, where a block whose children are all blocks (a stage: resnet's
  `layer1`, densenet's `denseblock1`), or the only block of its level (a wrapper: densenet's
  `features`), stands for its child blocks, recursively; with `:STAGE` (a block
  path or pattern) the chain is built from the children of the matching blocks instead. `all`:
  every block of the chain; `every:K`: the 1st, (K+1)th, (2K+1)th...; `sqrt`: the chain cut into
  segments of ceil(sqrt(n)) consecutive blocks (Chen et al. 2016), each checkpointed as one region
  except the last (whose backward comes first: recomputing it saves nothing, as
  `torch.utils.checkpoint.checkpoint_sequential` leaves it).
- `auto` (fit only): `checkpoint_auto.py`.
"""
from __future__ import annotations

import fnmatch
from math import isqrt
from typing import Any, Sequence

from ..errors import CnnCostError
from .checkpoint import SEPARATOR

POLICIES = ("all", "every", "sqrt", "auto")


def _children(graph: Any, parent: Any) -> list[Any]:
    """The blocks directly under `parent` (None: the top level), in order."""
    blocks = graph.blocks
    if parent is None:
        inside = list(blocks)
        depth = 0
    else:
        inside = [b for b in blocks if b.path.startswith(parent.path + ".")]
        depth = parent.depth + 1
    return sorted((b for b in inside if b.depth == depth), key=lambda b: b.first)


def _covers_all(graph: Any, block: Any, children: list[Any]) -> bool:
    """Whether `block`'s nodes are exactly its child blocks' (no leaf of its own)."""
    return bool(children) and sum(c.stop - c.first for c in children) == block.stop - block.first


def _expand(graph: Any, blocks: list[Any]) -> list[Any]:
    out = []
    for b in blocks:
        kids = _children(graph, b)
        out.extend(_expand(graph, kids) if _covers_all(graph, b, kids) or (len(blocks) == 1 and kids) else [b])
    return out


def chain(graph: Any, stage: str | None = None) -> list[Any]:
    """The chain of blocks the policies act on (module docstring), in graph order."""
    if stage is None:
        return _expand(graph, _children(graph, None))
    parents = [b for b in graph.blocks if fnmatch.fnmatchcase(b.path, stage)]
    if not parents:
        raise CnnCostError(f"--checkpoint: no block matches the stage '{stage}'")
    out = []
    for p in sorted(parents, key=lambda b: b.first):
        if not any(q is not p and p.path.startswith(q.path + ".") for q in parents):
            out.extend(_children(graph, p))
    if not out:
        raise CnnCostError(f"--checkpoint: the stage '{stage}' has no blocks inside")
    return out


def _policy(graph: Any, spec: str) -> list[str] | None:
    """The regions of a policy spec, or None when `spec` is a pattern."""
    if SEPARATOR in spec:  # a run 'A..B', as sqrt writes them
        a, b = spec.split(SEPARATOR, 1)
        paths = {blk.path: blk for blk in graph.blocks}
        for end in (a, b):
            if end not in paths:
                matching(graph, end)  # the error, with a close path
                raise CnnCostError(f"--checkpoint '{spec}': '{end}' is a pattern; a run names two block paths")
        if paths[b].stop <= paths[a].first:
            raise CnnCostError(f"--checkpoint '{spec}': '{b}' comes before '{a}'")
        return [spec]
    head, _, rest = spec.partition(":")
    if head == "auto":
        raise CnnCostError("--checkpoint auto needs a memory budget: use it with fit")
    if head == "all":
        return [b.path for b in chain(graph, rest or None)]
    if head == "every":
        k_text, _, stage = rest.partition(":")
        if not k_text.isdigit() or int(k_text) < 1:
            raise CnnCostError(f"--checkpoint every:K needs a positive integer K, got '{spec}'")
        return [b.path for i, b in enumerate(chain(graph, stage or None)) if i % int(k_text) == 0]
    if head == "sqrt":
        blocks = chain(graph, rest or None)
        size = isqrt(len(blocks) - 1) + 1 if blocks else 1  # ceil(sqrt(n))
        runs = [blocks[i:i + size] for i in range(0, len(blocks), size)][:-1]
        return [r[0].path if len(r) == 1 else r[0].path + SEPARATOR + r[-1].path for r in runs]
    return None


def matching(graph: Any, pattern: str) -> list[str]:
    """The outermost blocks whose path matches `pattern`; an error naming a close path if none."""
    hits = [b for b in graph.blocks if fnmatch.fnmatchcase(b.path, pattern)]
    if not hits:
        import difflib
        close = difflib.get_close_matches(pattern, [b.path for b in graph.blocks], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else (
            f"; block paths look like '{graph.blocks[-1].path}'" if graph.blocks else "; this net has no blocks")
        raise CnnCostError(f"--checkpoint '{pattern}' matches no block{hint}")
    return [b.path for b in hits]


def marked(graph: Any) -> list[str]:
    """The blocks the spec marks `checkpoint: true`."""
    return [b.path for b in graph.blocks if b.checkpoint]


def resolve(graph: Any, specs: Sequence[str]) -> tuple[str, ...]:
    """The regions (block paths, 'A..B' runs) `specs` and the spec's marks name, outermost only, in
    graph order."""
    names: list[str] = marked(graph)
    for spec in specs:
        got = _policy(graph, spec)
        names.extend(matching(graph, spec) if got is None else got)
    spans = {b.path: (b.first, b.stop) for b in graph.blocks}

    def span(name: str) -> tuple[int, int]:
        if SEPARATOR in name:
            a, b = name.split(SEPARATOR, 1)
            return spans[a][0], spans[b][1]
        return spans[name]
    kept: list[tuple[int, int, str]] = []
    for first, stop, name in sorted({(*span(n), n) for n in names}, key=lambda t: (t[0], -t[1])):
        if kept and first < kept[-1][1]:
            if stop > kept[-1][1]:
                raise CnnCostError(f"--checkpoint: regions '{kept[-1][2]}' and '{name}' overlap")
            continue  # inside an outer region
        kept.append((first, stop, name))
    return tuple(name for _, _, name in kept)


def checkpoint_fields(graph: Any, specs: str | Sequence[str], save: str | Sequence[str] = ()) -> dict[str, Any]:
    """`Setup` fields for `--checkpoint` specs (and `--checkpoint-save` layer types) on `graph`:
    the regions they name, or those its blocks mark `checkpoint: true` ({} without any)."""
    specs = (specs,) if isinstance(specs, str) else tuple(specs)
    save = (save,) if isinstance(save, str) else tuple(save)
    if not specs and not any(b.checkpoint for b in graph.blocks):
        if save:
            raise CnnCostError("--checkpoint-save chooses what checkpointed regions keep: give --checkpoint too")
        return {}
    return {"checkpoint": resolve(graph, specs)} | ({"checkpoint_save": save} if save else {})
