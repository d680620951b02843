"""The layer registry: `cnncost.layers.TYPES` (module -> spec type name -> class name) and the
`@register` classes of each module agree, and a family's module loads on first use only."""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import dataclasses
from dataclasses import dataclass

import pytest

import cnncost
import cnncost.layers as layers
from cnncost.layers import LAYER_TYPES, TYPES, Layer
from cnncost.layers.base import register


def test_every_module_registers_exactly_the_types_the_table_declares():
    for module_name, types in TYPES.items():
        module = importlib.import_module(f"cnncost.layers.{module_name}")
        registered = {name: cls.__name__ for name, cls in LAYER_TYPES.items() if cls.__module__ == module.__name__}
        assert registered == types, module_name


def test_every_module_of_the_package_with_a_registered_type_is_in_the_table():
    for info in pkgutil.iter_modules(layers.__path__):
        importlib.import_module(f"cnncost.layers.{info.name}")
    modules = {cls.__module__.rpartition(".")[2] for cls in LAYER_TYPES.values()
               if cls.__module__.startswith("cnncost.layers.")}
    assert modules <= set(TYPES)


def test_classes_are_the_registered_ones_by_name():
    for module_name, types in TYPES.items():
        for type_name, class_name in types.items():
            assert getattr(layers, class_name) is LAYER_TYPES[type_name] is getattr(cnncost, class_name)
    assert layers.ConcatMerge.__module__ == "cnncost.layers.merge"


def test_names_and_membership_import_nothing():
    code = ("import sys, cnncost.layers as L; n = len(L.LAYER_TYPES); assert 'matmul' in L.LAYER_TYPES; "
            "assert 'matmul' in list(L.LAYER_TYPES); print(n, 'cnncost.layers.attention' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(sum(len(t) for t in TYPES.values())), "False"]


def test_a_lookup_loads_only_its_family():
    code = ("import sys, cnncost; cnncost.layers.LAYER_TYPES['matmul']; "
            "print(sorted(m.rpartition('.')[2] for m in sys.modules if m.startswith('cnncost.layers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "attention" in out and "arith" not in out and "reshape" not in out


def test_a_class_that_declares_fields_must_be_a_dataclass():
    with pytest.raises(TypeError, match="declares fields"):
        @register("test_undecorated")
        class Undecorated(Layer):
            size: int = 3
    assert "test_undecorated" not in LAYER_TYPES


def test_a_subclass_without_fields_inherits_its_parents_dataclass():
    relu = cnncost.ReLU(name="r", inplace=False)
    assert not relu.inplace and relu == cnncost.ReLU(name="r", inplace=False) and "inplace=False" in repr(relu)
    assert relu.field_names() == ["name", "inputs", "inplace"]


def test_a_name_declared_in_another_module_is_refused():
    LAYER_TYPES.declare("cnncost.layers.act", ["test_declared"])
    try:
        with pytest.raises(ValueError, match="declared in cnncost.layers.act"):
            @register("test_declared")
            @dataclass(frozen=True, kw_only=True, eq=False, repr=False)
            class Elsewhere(Layer):
                pass
    finally:
        del LAYER_TYPES["test_declared"]
    assert "test_declared" not in LAYER_TYPES


def test_placed_is_replace_without_a_second_validation():
    conv = cnncost.Conv(out=8, kernel=3, stride=2)
    placed = conv.placed("c1", ("x",))
    assert placed == dataclasses.replace(conv, name="c1", inputs=("x",)) and placed is not conv
    assert conv.name is None and conv.inputs is None
    with pytest.raises(cnncost.SpecError, match="must be non-empty and contain no '.'"):
        conv.placed("a.b", None)
    with pytest.raises(cnncost.SpecError, match="field 'from' must be"):
        conv.placed("c", (1,))
