"""What one import has charged already: the storages computed tensors saved (counted once), the
MACs of making them (counted once), the model's own parameters' and buffers' storages, and the
nodes that hold the batch size; kept per walk (`constants` reads and updates them)."""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, TypedDict


def batch_nodes_of(imp: Any) -> set:
    return _state(imp).batch_nodes


@dataclass
class _State:
    """What one import keeps about its computed tensors: the storages counted as saved already,
    the model's own parameters' and buffers' storages, the nodes that hold the batch size."""

    model: set
    charged: set = field(default_factory=set)
    charged_work: set = field(default_factory=set)  # the nodes whose MACs a row counts already
    batch_nodes: set = field(default_factory=set)
    alive: list = field(default_factory=list)  # the computed values read so far (`charged_storages`)


_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(imp: Any) -> _State:
    found = _STATES.get(imp)
    if found is None:
        root = getattr(imp, "model_root", imp.root)  # a spliced call's walk: the whole model's
        model = {storage_of(t)[0] for t in (*root.parameters(), *root.buffers())}
        found = _STATES[imp] = _State(model)
    return found


class WorkOnce(TypedDict):
    """`work_once`'s fields of a `computed` row."""
    macs_once: int
    input_grad_macs_once: int
    weight_grad_macs_once: int


def work_once(imp: Any, c: Any) -> WorkOnce:
    """The `computed` row's fields for the MACs of making c that no row counts yet (charged now)."""
    charged = _state(imp).charged_work
    new = [k for k in c.work if k not in charged]
    charged.update(new)
    totals = [sum(c.work[k][i] for k in new) for i in range(3)]
    return {"macs_once": totals[0], "input_grad_macs_once": totals[1], "weight_grad_macs_once": totals[2]}


def storage_of(t: Any) -> tuple[Any, int]:
    storage = t.untyped_storage()
    return (storage.data_ptr(), str(t.device)), storage.nbytes()


def model_storages(imp: Any) -> set:
    """The storages of the model's parameters and buffers (saved, they are not activations)."""
    return _state(imp).model


def charged_storages(imp: Any, c: Any) -> set:
    """The storages of computed tensors counted as saved in this import; c is kept alive with them."""
    _state(imp).alive.append(c)  # a freed storage's address could be a later tensor's: keys stay unique
    return _state(imp).charged
