"""Every layer type has a rule in every pass: the memory model, the torch build, the receptive
field, the implementation the counters see, and each peer tool's convention. A layer type is an
op schema (`cnncost/layers/`); each pass keeps its rules in a table keyed by the layer class, in
its own package. These tests name every (type, pass) pair without a rule, and show that a type
without rules is a named error in each pass, never a silent 0."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

import cnncost
from cnncost import Net
from cnncost.counting.impl import DEFAULT
from cnncost.counting.tools import TOOLS
from cnncost.errors import CnnCostError
from cnncost.layers import LAYER_TYPES, Block, Concat, ConcatMerge, Layer
from cnncost.memory.rules import RULES as MEMORY_RULES
from cnncost.receptive.rules import RULES as RECEPTIVE_RULES

PEER_TOOLS = ("flopcounter", "flopcounter-train", "torchvision", "fvcore", "ptflops", "ptflops-aten", "thop",
              "torchinfo", "torchscan", "torchscan-macs", "allops")


def passes() -> dict[str, tuple[dict, str]]:
    """pass name -> (its class-keyed table, where that table is defined)."""
    out = {"memory model": (MEMORY_RULES, "cnncost.memory.rules.RULES"),
           "receptive field": (RECEPTIVE_RULES, "cnncost.receptive.rules.RULES"),
           "implementation": (DEFAULT, "cnncost.counting.impl.DEFAULT")}
    try:
        from cnncost.torch_backend.layer_modules import MODULES
    except ImportError:  # pragma: no cover  (no torch)
        pass
    else:
        out["torch build"] = (MODULES, "cnncost.torch_backend.layer_modules.MODULES")
    for tool in PEER_TOOLS:
        convention = TOOLS[tool]
        out[f"{tool} convention"] = (convention.rules, convention.home)
    return out


def leaf_types() -> dict[str, type[Layer]]:
    """Every registered leaf type, and the leaf forms blocks lower into that are not registered
    under a name of their own (a concat's merge row: `type: concat` is the Concat block)."""
    leaves = {name: cls for name, cls in LAYER_TYPES.items() if isinstance(cls, type) and issubclass(cls, Layer)}
    leaves["concat (merge row)"] = ConcatMerge
    return leaves


def missing_rules() -> list[str]:
    pairs = []
    for name, cls in sorted(leaf_types().items()):
        for pass_name, (table, home) in passes().items():
            if cls not in table:
                pairs.append(f"({name}, {pass_name}): add {cls.__module__}.{cls.__qualname__} to {home}")
    return pairs


def test_every_layer_type_has_a_rule_in_every_pass() -> None:
    missing = missing_rules()
    assert not missing, "layer types without a rule:\n" + "\n".join(missing)


def test_the_types_and_passes_checked() -> None:
    leaves = leaf_types()
    assert {"opaque", "shared", "reshape", "conv", "add", "mul", "concat (merge row)"} <= set(leaves)
    assert type(Concat(inputs=("a", "b")).leaf_form()) is ConcatMerge  # the one block leaf form
    assert not [n for n, c in LAYER_TYPES.items() if not issubclass(c, (Layer, Block))]
    import importlib.util
    with_torch = importlib.util.find_spec("torch") is not None  # the torch build's table needs torch
    assert len(passes()) == 3 + with_torch + len(PEER_TOOLS)
    assert set(PEER_TOOLS) == set(TOOLS)


@pytest.mark.parametrize("pass_name", sorted(passes()))
def test_removing_a_rule_is_named(pass_name: str, monkeypatch) -> None:
    """The completeness check fails, naming the pair, when one rule is taken out of a table."""
    table, home = passes()[pass_name]
    victim = next(cls for cls in leaf_types().values() if cls in table)
    monkeypatch.delitem(table, victim)
    missing = missing_rules()
    assert missing and all(f", {pass_name}): add {victim.__module__}.{victim.__qualname__} to {home}" in line
                           for line in missing), missing


@dataclass(frozen=True, kw_only=True)
class Unruled(Layer):
    """A layer type with a schema and no rule in any pass."""

    def out_shape(self, x):
        return x


@pytest.fixture
def unruled_net():
    Unruled.type_name = "unruled"
    return Net("n", input=(3, 4, 4), layers=[Unruled(name="u")])


def test_the_schema_alone_gives_the_engine_counts(unruled_net) -> None:
    assert cnncost.table(unruled_net).rows[1].name == "u"  # shape and counts come from the schema


@pytest.mark.parametrize("tool", PEER_TOOLS)
def test_a_type_without_a_counting_rule_is_a_named_error(unruled_net, tool: str) -> None:
    from cnncost.counting import ops
    graph = cnncost.compile(unruled_net)
    with pytest.raises(CnnCostError, match="layer type 'unruled' has no (counting rule for|implementation rule)"):
        ops(graph, tool, profile="cnncost")


def test_a_type_without_memory_or_receptive_rules_is_a_named_error(unruled_net) -> None:
    from cnncost.memory import Precision, trace
    with pytest.raises(CnnCostError, match=r"layer 'u' \(unruled\): layer type 'unruled' has no memory rule; "
                                           r"add its class to cnncost\.memory\.rules\.RULES"):
        trace(unruled_net, precision=Precision("fp32"))
    with pytest.raises(CnnCostError, match=r"layer 'u' \(unruled\): layer type 'unruled' has no receptive-field rule"):
        cnncost.receptive_field(unruled_net)


def test_a_type_without_a_torch_module_is_a_named_error(unruled_net) -> None:
    pytest.importorskip("torch")
    from cnncost.torch_backend import build
    with pytest.raises(CnnCostError, match=r"layer 'u' \(unruled\): layer type 'unruled' has no torch module"):
        build(unruled_net)


def test_flopcounter_train_counts_exactly_the_matmuls_training_counts() -> None:
    """flopcounter-train's rules say which types count; the counts are `training()`'s, which
    counts the matmul-like types and the work types do once per forward: the two must name the
    same types."""
    from cnncost.counting.flopcounter import TRAIN_RULES, step
    from cnncost.layers import LAYER_TYPES
    from cnncost.layers.base import Layer
    counted = {cls.type_name for cls, rule in TRAIN_RULES.items() if rule is step}
    assert counted == {name for name, cls in LAYER_TYPES.items() if getattr(cls, "matmul_like", False)
                       or getattr(cls, "macs_per_forward", Layer.macs_per_forward) is not Layer.macs_per_forward}
    # fixed: a conv with buffer weights; computed: what making c does once per forward
    assert counted == {"conv", "conv_transpose", "linear", "matmul", "attention", "fixed", "computed"}
