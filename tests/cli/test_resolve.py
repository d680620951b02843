"""cnncost.resolve: which kind an architecture argument is, and the Net each kind gives."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.resolve import kind_of, resolve


def test_each_kind_of_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mynet.py").write_text("def build(): pass\n")
    assert kind_of(cnncost.load("alexnet")) == "net"
    assert kind_of("alexnet") == "builtin"
    assert kind_of("mynet.py:build") == "python"
    assert kind_of("model.onnx") == "onnx" and kind_of(Path("model.onnx")) == "onnx"
    assert kind_of("torchvision:resnet18") == "torch" and kind_of("timm:resnet50") == "torch"
    assert kind_of("package.module:build") == "torch"
    assert kind_of("net.yaml") == "spec" and kind_of("-") == "spec" and kind_of(Path("net")) == "spec"
    assert kind_of("sub/net") == "spec"
    assert kind_of(3) == "unknown"


def test_an_argument_of_no_kind_is_refused() -> None:
    with pytest.raises(CnnCostError, match=r"an architecture is a built-in name, a spec file, a Net, a torch.nn.Module \(cnncost.from_torch .*; got int"):
        resolve(3)
    with pytest.raises(CnnCostError, match="got int"):
        cnncost.load(3)


def test_a_spec_takes_input_where_it_has_none(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("name: tiny\nlayers: [{name: c, type: conv, out: 4, kernel: 3}]\n")
    assert resolve(spec, input=(3, 8, 8)).input == (3, 8, 8)
    assert resolve(str(spec), input=(3, 8, 8), import_input=(3, 16, 16)).input == (3, 8, 8)


def test_a_torch_module_is_imported_at_the_input_given() -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    assert kind_of(module) == "module"
    assert resolve(module, import_input=(3, 8, 8)).input == (3, 8, 8)
    assert cnncost.table(module, input=(3, 8, 8), batch=1).totals.params == 3 * 4 * 9 + 4


def test_a_built_in_name_loads_neither_pyspec_nor_the_importers() -> None:
    code = ("import sys; from cnncost.resolve import resolve; resolve('resnet18'); "
            "print(sorted(m for m in ('cnncost.pyspec', 'cnncost.importers', 'cnncost.spec', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
