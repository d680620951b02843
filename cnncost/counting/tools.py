"""The tools' counts (`cnncost.counting` re-exports this module's names, loaded on first use)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from . import (allops, flopcounter, fvcore, profiles, ptflops, ptflops_aten, thop, torchinfo, torchscan,
               torchvision)
from .impl import Impl, eval_visible, impls
from .profiles import Profile
from .training import Training, frozen_nodes, needs_grad, param_split, training

if TYPE_CHECKING:
    from ..graph import Graph

__all__ = ["TOOLS", "Count", "ops", "tool_params", "param_split", "torchinfo_sizes", "training", "Training",
           "profile_for", "implementations", "frozen_nodes", "needs_grad", "Profile", "Impl", "describe"]


class _TorchscanMacs:
    NAME = "torchscan-macs"
    UNIT = "torchscan module-formula MACs"
    MEASURED = "torchscan 0.2.0 crawl_module(model, (C,H,W))['totals']['macs']"
    __doc__ = torchscan.__doc__
    node_ops = staticmethod(torchscan.node_macs)


class _FlopcounterTrain:
    NAME = "flopcounter-train"
    UNIT = "FLOPs (2 per multiply-accumulate), forward + backward of one training step"
    MEASURED = ("torch 2.14.1 FlopCounterMode around model.train()(x) and loss.backward(), "
                "loss = sum of every output's sum")
    __doc__ = training.__doc__


# Tools in the order the docs list them. flopcounter-train and torchscan-macs are the tools' second figures.
TOOLS: dict[str, Any] = {module.NAME: module for module in (
    flopcounter, torchvision, fvcore, ptflops, ptflops_aten, thop, torchinfo, torchscan)}
TOOLS["torchscan-macs"] = _TorchscanMacs
TOOLS["flopcounter-train"] = _FlopcounterTrain
TOOLS["allops"] = allops
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
    return profiles.get(profile if profile is not None else graph.name)


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
    if name == "flopcounter-train":
        step = training(graph, batch, frozen, convention="flopcounter")
        return Count(name, TOOLS[name].UNIT, batch, step.training, chosen.name if chosen else None)
    module = TOOLS[name]
    visible = _visible(graph, chosen)
    if getattr(module, "TRACED", False):  # a JIT trace drops what the returned output does not need
        live = _feeds_main_output(graph)
        visible = tuple(v and f for v, f in zip(visible, live))
    kinds = impls(graph, chosen)
    per_node = [0] + [module.node_ops(node, impl, batch) if seen else 0
                      for node, impl, seen in zip(graph.nodes[1:], kinds[1:], visible[1:])]
    return Count(name, module.UNIT, batch, tuple(per_node), chosen.name if chosen else None)


def tool_params(graph: Graph, tool: str, profile: Profile | str | None = None,
                frozen: Iterable[str] | tuple[bool, ...] = ()) -> int:
    """The parameter count the tool prints: ptflops and torchinfo's "Trainable params" leave out
    frozen ones; thop leaves out what its hooks do not see (see thop.py); the others count all."""
    name = tool_name(tool)
    frozen = tuple(frozen)
    if not frozen or not isinstance(frozen[0], bool):
        frozen = frozen_nodes(graph, frozen)  # type: ignore[arg-type]
    module = TOOLS[name]
    rule = getattr(module, "params", None)
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
    return torchinfo.sizes(graph, impls(graph, chosen), _visible(graph, chosen), batch, bytes_per_element)


def describe(tool: str) -> str:
    """The tool's documented rules (its module's docstring)."""
    return (TOOLS[tool_name(tool)].__doc__ or "").strip()
