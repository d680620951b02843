"""The tools' counts: each tool's `Convention` (its rule per layer type, in `counting/<tool>.py`)
run over a graph. `cnncost.counting` exposes this module's names, loaded on first use."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, cast

from .allops import ALLOPS
from .convention import ZERO, Convention
from .flopcounter import FLOPCOUNTER, FLOPCOUNTER_TRAIN
from .fvcore import FVCORE
from .names import TOOL_NAMES
from .impl import Impl, eval_visible
from .profiles import PROFILES, Profile, impls
from .ptflops import PTFLOPS
from .ptflops_aten import PTFLOPS_ATEN
from .thop import THOP
from .torchinfo import TORCHINFO
from .torchinfo import sizes as torchinfo_footer
from .torchscan import TORCHSCAN, TORCHSCAN_MACS
from .torchvision import TORCHVISION
from .training import Training, frozen_mask, frozen_nodes, needs_grad, param_split, training

if TYPE_CHECKING:
    from ..graph import Graph

__all__ = ["TOOLS", "Count", "ops", "tool_params", "param_split", "torchinfo_sizes", "training", "Training",
           "profile_for", "implementations", "frozen_nodes", "needs_grad", "Profile", "Impl", "describe"]

_CONVENTIONS = {convention.name: convention for convention in (
    FLOPCOUNTER, TORCHVISION, FVCORE, PTFLOPS, PTFLOPS_ATEN, THOP, TORCHINFO, TORCHSCAN, TORCHSCAN_MACS,
    FLOPCOUNTER_TRAIN, ALLOPS)}
# In the order counting.names lists them (the command line's choices): a name there without a
# convention here fails at import.
TOOLS: dict[str, Convention] = {name: _CONVENTIONS[name] for name in TOOL_NAMES}
ALIASES = {"ptflops_aten": "ptflops-aten", "torchscan_macs": "torchscan-macs", "fcm": "flopcounter",
           "flop_counter": "flopcounter", "flopcountermode": "flopcounter", "all-ops": "allops",
           "flopcounter_train": "flopcounter-train"}


@dataclass(frozen=True)
class Count:
    """A tool's count per node (graph order; node 0 is the input) and in total, whole batch."""

    tool: str
    unit: str
    batch: int
    per_node: tuple[int, ...]
    profile: str | None = None

    @property
    def total(self) -> int:
        return sum(self.per_node)


def tool_name(tool: str) -> str:
    name = ALIASES.get(str(tool).lower(), str(tool).lower())
    if name not in TOOLS:
        from ..errors import CnnCostError
        from ..layers.base import suggest
        raise CnnCostError(f"unknown tool '{tool}'" + suggest(str(tool), TOOLS))
    return name


def profile_for(graph: Graph, profile: Profile | str | None = None) -> Profile | None:
    """The architecture's implementation profile: given, named, or looked up by the net's name."""
    if isinstance(profile, Profile):
        return profile
    return PROFILES.get(profile if profile is not None else graph.name)


def _visible(graph: Graph, chosen: Profile | None) -> tuple[bool, ...]:
    if chosen is not None and chosen.side_runs_in_eval:
        return (True,) * len(graph.nodes)
    return eval_visible(graph)


def _feeds_main_output(graph: Graph) -> tuple[bool, ...]:
    """Nodes the main output depends on: all a traced forward keeps (a model's forward returns its
    main output; other sinks are dead code to the tracer)."""
    live = [False] * len(graph.nodes)
    live[graph.outputs[0]] = True
    for i in range(len(graph.nodes) - 1, -1, -1):
        if live[i]:
            for j in graph.nodes[i].inputs:
                live[j] = True
    return tuple(live)


def implementations(graph: Graph, profile: Profile | str | None = None) -> tuple[Impl | None, ...]:
    return impls(graph, profile_for(graph, profile))


def ops(graph: Graph, tool: str, batch: int = 1, profile: Profile | str | None = None,
        frozen: Iterable[str] | tuple[bool, ...] = ()) -> Count:
    """What `tool` counts for each node and in total on a forward pass of a batch-`batch` input
    (whole-batch work), in its own unit. Eval mode: auxiliary classifiers (`side` blocks) count 0,
    except for flopcounter-train (a training step, which runs them). `frozen` matters only to
    flopcounter-train (no weight gradient for frozen layers)."""
    name = tool_name(tool)
    chosen = profile_for(graph, profile)
    convention = TOOLS[name]
    if convention is FLOPCOUNTER_TRAIN:  # its rules say which types count; the counts are training()'s
        step = training(graph, batch, frozen, convention="flopcounter").training
        counted = [convention.rule_for(node.layer) is not ZERO for node in graph.nodes[1:]]
        per_node = (0,) + tuple(value if count else 0 for value, count in zip(step[1:], counted))
        return Count(name, convention.unit, batch, per_node, chosen.name if chosen else None)
    visible = _visible(graph, chosen)
    if convention.traced:  # a JIT trace drops what the returned output does not need
        live = _feeds_main_output(graph)
        visible = tuple(v and f for v, f in zip(visible, live))
    kinds = cast("tuple[Impl, ...]", impls(graph, chosen))  # None for the input node (index 0) only
    ops = [0] + [convention.node_ops(node, impl, batch) if seen else 0
                 for node, impl, seen in zip(graph.nodes[1:], kinds[1:], visible[1:])]
    return Count(name, convention.unit, batch, tuple(ops), chosen.name if chosen else None)


def tool_params(graph: Graph, tool: str, profile: Profile | str | None = None,
                frozen: Iterable[str] | tuple[bool, ...] = ()) -> int:
    """The parameter count the tool prints: ptflops and torchinfo's "Trainable params" leave out
    frozen ones; thop leaves out what its hooks do not see (see thop.py); the others count all."""
    name = tool_name(tool)
    frozen = frozen_mask(graph, frozen)
    rule = TOOLS[name].params
    if rule is None:
        return sum(node.params for node in graph.nodes)
    chosen = profile_for(graph, profile)
    kinds, visible = impls(graph, chosen), _visible(graph, chosen)
    return sum(rule(node, impl, seen, not frozen[i])
               for i, (node, impl, seen) in enumerate(zip(graph.nodes, kinds, visible)))


def torchinfo_sizes(graph: Graph, batch: int = 1, profile: Profile | str | None = None,
                    bytes_per_element: int = 4) -> dict[str, Any]:
    """torchinfo's "Input size", "Forward/backward pass size", "Params size" and "Estimated Total
    Size", in bytes (MB = 10^6 bytes there); see torchinfo.py."""
    chosen = profile_for(graph, profile)
    return torchinfo_footer(graph, impls(graph, chosen), _visible(graph, chosen), batch, bytes_per_element)


def describe(tool: str) -> str:
    """The tool's documented rules (its module's docstring)."""
    return TOOLS[tool_name(tool)].doc.strip()
