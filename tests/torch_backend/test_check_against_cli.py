"""`cnncost check SPEC --against SOURCE` on the command line: exit 0 when the spec is the real
network, exit 1 naming the first layer when one channel count is changed."""
from __future__ import annotations

import sys
import textwrap

import pytest

pytest.importorskip("torch")

from cnncost.cli import main  # noqa: E402


def test_check_against_a_module(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "tinynet.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        def build():
            return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = tmp_path / "tiny.yaml"
    assert main(["import", "tinynet:build", "--input", "3x16x16", "-o", str(spec)]) == 0
    capsys.readouterr()
    assert main(["check", str(spec), "--against", "tinynet:build"]) == 0
    assert "matches" in capsys.readouterr().out
    spec.write_text(spec.read_text().replace("out: 8", "out: 9"))
    assert main(["check", str(spec), "--against", "tinynet:build"]) == 1
    out = capsys.readouterr().out
    assert "differs" in out and "layer '0'" in out and "9x16x16 in the spec, 8x16x16 in the reference" in out
    sys.modules.pop("tinynet", None)
