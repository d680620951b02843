"""A layer type is an op schema in one class (shape and count formulas); each pass keeps its rule
for it in its own table (tests/layers/test_completeness.py names a missing one). These tests check
the schema's own methods, that a missing rule is a named error, and show a new type defined in a
test, with one entry per pass table, working end to end."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

import cnncost
from cnncost import Conv, Net, ReLU
from cnncost.errors import CnnCostError
from cnncost.layers import LAYER_TYPES, Block, ConcatMerge, Layer
from cnncost.layers.base import register
from cnncost.memory import Precision, trace

LEAF_TYPES = sorted([name for name, cls in LAYER_TYPES.items() if issubclass(cls, Layer)]) + ["concat-merge"]


def leaf_class(type_name: str) -> type[Layer]:
    return ConcatMerge if type_name == "concat-merge" else LAYER_TYPES[type_name]


@pytest.mark.parametrize("type_name", LEAF_TYPES)
def test_multi_input_types_define_their_shape(type_name: str) -> None:
    cls = leaf_class(type_name)
    if cls.arity is None:
        assert cls.merge_shape is not Layer.merge_shape, f"'{type_name}' reads several tensors: define merge_shape"
    else:
        assert cls.out_shape is not Layer.out_shape, f"'{type_name}' has no out_shape()"


@pytest.mark.parametrize("type_name", sorted(n for n, c in LAYER_TYPES.items() if issubclass(c, Block)))
def test_every_block_type_lowers(type_name: str) -> None:
    assert LAYER_TYPES[type_name].lower is not Block.lower, f"block type '{type_name}' has no lower()"


def test_a_layer_without_a_memory_rule_is_a_named_error() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Unruled(Layer):
        def out_shape(self, x):
            return x
    Unruled.type_name = "unruled"
    net = Net("n", input=(3, 4, 4), layers=[Unruled(name="u")])
    assert cnncost.table(net).rows[1].name == "u"  # counts need no rule
    with pytest.raises(CnnCostError, match=r"layer 'u' \(unruled\): layer type 'unruled' has no memory rule"):
        trace(net, precision=Precision("fp32"))


@dataclass(frozen=True, kw_only=True)
class Square(Layer):
    """x * x: the op schema (shape and counts); its memory rule and torch module are below."""

    tabulated = False

    def out_shape(self, x):
        return x


def square_memory(layer, x, xs, y, b):
    b.save(x)  # d(x^2)/dx = 2x needs the input
    return b.like(x)


def square_module(layer, x):
    from torch import nn

    class SquareModule(nn.Module):
        def forward(self, t):
            return t * t
    return SquareModule()


@pytest.fixture
def square_registered():
    from cnncost.memory.rules import RULES as MEMORY
    register("test_square")(Square)
    MEMORY[Square] = square_memory
    tables = [MEMORY]
    try:
        from cnncost.torch_backend.layer_modules import MODULES
    except ImportError:  # no torch: the torch check is skipped
        pass
    else:
        MODULES[Square] = square_module
        tables.append(MODULES)
    yield
    del LAYER_TYPES["test_square"]
    for table in tables:
        del table[Square]


def test_a_new_layer_type_with_its_pass_rules_works_everywhere(square_registered) -> None:
    spec = cnncost.parse_spec("name: sq\ninput: [3, 8, 8]\nlayers:\n"
                              "  - {name: c, type: conv, out: 4, kernel: 3}\n  - {name: s, type: test_square}\n")
    assert [r.type for r in cnncost.table(spec).rows] == ["input", "conv", "test_square"]
    saved = trace(spec, precision=Precision("fp32", "cpu")).saved_by_path()
    assert saved["s"].per_sample == 4 * 6 * 6 * 4
    pytest.importorskip("torch")
    from cnncost.torch_backend import check
    result = check(spec, batch=2, device="cpu")
    assert result.ok
    assert result.total("saved_bytes").ours == result.total("saved_bytes").torch


def test_conv_relu_reference_still_resolves_from_layers() -> None:
    assert LAYER_TYPES["conv"] is Conv and LAYER_TYPES["relu"] is ReLU
