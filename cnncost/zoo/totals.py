"""Every built-in's totals per sample, shipped in `_totals.json` beside the name index (written
by `python -m cnncost.zoo.totals`, the index by `python -m cnncost.zoo.registry`; tests check
both are current), so that `cnncost list --format csv|json` and `cnncost.zoo_frame` give the
totals at any configuration without compiling 138 nets. Each summary figure is a function of the
per-sample sums of `cnncost.costs.Quantities` and of the configuration (batch, bytes per element,
parameter copies), so the sums are all a configuration needs: the same formulas `table` runs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..conventions import ACTIVATION_COUNTS, Options

TOTALS_FILE = Path(__file__).with_name("_totals.json")
SUMS = ("stored", "input", "params", "macs", "backward", "fixed_macs", "fixed_backward")


def per_sample_sums(name: str) -> dict[str, Any]:
    """An architecture's input and output shapes and, per activation rule, the sums over its
    nodes of each per-sample quantity (None where the net has none, as `node_costs` gives)."""
    from ..api import _compile, load
    from ..costs import node_costs
    graph = _compile(load(name), None, None)
    entry: dict[str, Any] = {"input": list(graph.nodes[0].output_shape),
                             "output": list(graph.output_shape)}
    for rule in ACTIVATION_COUNTS:
        quantities, unknown = node_costs(graph, Options(activations=rule))  # type: ignore[arg-type]
        if unknown is not None:  # a figure no formula gives: computed by `table` itself
            return {}
        entry[rule] = {key: None if getattr(quantities, key) is None else sum(getattr(quantities, key))
                       for key in SUMS}
    return entry


def shipped() -> dict[str, dict[str, Any]]:
    """The sums written with the package (empty if the file is missing or unreadable)."""
    try:
        data = json.loads(TOTALS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def totals_text(names: list[str]) -> str:
    """`_totals.json`'s content for these architectures (sorted, one per line: small diffs)."""
    lines = [f"{json.dumps(name)}: {json.dumps(per_sample_sums(name), sort_keys=True)}" for name in sorted(names)]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def summary_totals(sums: dict[str, Any], options: Options) -> dict[str, int]:
    """The summary figures (`cnncost.columns.summary_columns`) at a configuration, from one
    architecture's per-sample sums."""
    from ..columns import summary_columns
    from ..costs import Quantities
    quantities = Quantities(options.batch, options.bytes_per_element, options.param_copies,
                            **sums[options.activations])
    return {column.name: column.formula(quantities) for column in summary_columns()}


def write_totals() -> Path:
    """Rewrite `_totals.json` from every registered architecture."""
    from .registry import list_archs
    TOTALS_FILE.write_text(totals_text([arch.name for arch in list_archs()]), encoding="utf-8")
    return TOTALS_FILE


if __name__ == "__main__":  # python -m cnncost.zoo.totals: rewrite the shipped totals
    print(f"wrote {write_totals()}")
