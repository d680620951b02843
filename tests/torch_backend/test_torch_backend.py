"""The torch backend: every layer type has a builder, every registered architecture's per-layer
shapes, params, MACs and FLOPs agree exactly with PyTorch, saved bytes are measured as autograd
keeps them, and `cnncost check` exits 1 on a mismatch."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="the torch backend needs PyTorch (pip install 'cnncost[torch]')")

import cnncost  # noqa: E402
from cnncost import Concat, Conv, Flatten, GlobalAvgPool, Linear, Net, ReLU, Residual, Side  # noqa: E402
from cnncost.cli import main  # noqa: E402
from cnncost.errors import CnnCostError  # noqa: E402
from cnncost.torch_backend import build, check  # noqa: E402
from cnncost.torch_backend.measure import saved_tensors  # noqa: E402


# Above this many MACs per image an architecture is checked at the smallest side in TEST_SIDES that
# it accepts: the same layers and formulas, a fraction of the time on CI's 2 cores.
# CNNCOST_TORCH_FULL=1 checks every architecture at its own input size (about 9 minutes on 2 cores).
FULL = os.environ.get("CNNCOST_TORCH_FULL") == "1"
TEST_MACS_LIMIT = 10**9
TEST_SIDES = (64, 80, 96, 112, 128, 160, 192)


def reduced_input(net: Net) -> tuple[int, ...]:
    if FULL or sum(leaf.macs for leaf in cnncost.compile(net).nodes) <= TEST_MACS_LIMIT:
        return net.input
    for side in TEST_SIDES:
        if side < min(net.input[1:]):
            try:
                cnncost.compile(net, (net.input[0], side, side))
                return (net.input[0], side, side)
            except CnnCostError:
                continue
    return net.input


@pytest.mark.parametrize("arch", [a.name for a in cnncost.list_archs()])
def test_architecture_agrees_exactly_per_layer(arch: str) -> None:
    net = cnncost.load(arch)
    result = check(net, batch=1, input=reduced_input(net), memory=False, init=False)
    assert not result.mismatches, "\n".join(f"{r.path} {r.quantity}: ours {r.ours}, torch {r.torch}"
                                            for r in result.mismatches[:20])
    analysis = cnncost.compile(net)
    assert {r.path for r in result.rows} == {leaf.path for leaf in analysis.nodes[1:]} | {"total"}


def test_leaf_module_paths_are_engine_paths() -> None:
    model = build("googlenet", init=False)
    leaves = {path for path, m in model.named_modules() if path and not list(m.children())}
    engine = {leaf.path for leaf in cnncost.compile(cnncost.load("googlenet")).nodes[1:]}
    assert leaves == engine  # merges are modules too: `inception3a.concat`
    assert "inception3a.branch3.conv" in leaves


def test_a_wrong_engine_formula_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    from cnncost.zoo import registry
    monkeypatch.setattr(Conv, "macs", lambda self, x, y: 1)
    monkeypatch.setattr(registry, "_BUILT", {})  # built-ins and their compiled graphs are cached: start afresh
    result = check("inception", batch=1, memory=False)
    wrong = {(r.path, r.quantity) for r in result.mismatches}
    assert ("module.branch2.conv", "macs") in wrong and ("module.branch2.conv", "flops") in wrong
    assert ("total", "macs") in wrong and not result.ok
    assert main(["check", "inception", "--batch", "1"]) == 1


def test_residual_side_and_odd_names_build() -> None:
    net = Net("odd", input=(4, 6, 6), layers=[
        Residual(name="train", layers=(Conv(name="type", out=8, kernel=3, padding=1),),
                 shortcut=(Conv(out=8, kernel=1, bias=False),), scale=0.5),
        Side(name="aux", layers=(GlobalAvgPool(), Flatten(), Linear(name="fc", out=3))),
        ReLU(name="forward"),
    ])
    model = build(net)
    outputs = model.forward_all(torch.randn(2, 4, 6, 6))
    assert [tuple(o.shape) for o in outputs] == [(2, 8, 6, 6), (2, 3)]
    assert "train.shortcut.conv0" in dict(model.named_modules())
    assert check(net, batch=2).ok


def test_saved_bytes_count_each_storage_once_and_attribute_it_to_the_saver() -> None:
    # Two convs on the same input both save it for their weight gradients: one storage, counted once,
    # charged to the first. ReLU (not in place) saves its own output.
    net = Net("two", input=(3, 8, 8), layers=[
        Conv(name="stem", out=4, kernel=1, bias=False),
        Concat(name="mix", branches=((Conv(name="a", out=2, kernel=3, bias=False),),
                                     (Conv(name="b", out=2, kernel=3, bias=False),))),
        ReLU(name="act", inplace=False),
    ])
    model = build(net)
    saved = saved_tensors(model, torch.randn(2, 3, 8, 8))
    fp32 = 4
    assert saved.by_path() == {"stem": 2 * 3 * 8 * 8 * fp32,          # the input, saved by stem
                               "mix.branch1.a": 2 * 4 * 8 * 8 * fp32,  # stem's output, saved by a and b
                               "act": 2 * 4 * 6 * 6 * fp32}
    assert saved.by_kind()["input"] == 2 * 3 * 8 * 8 * fp32
    assert saved.by_kind()["parameter"] == (4 * 3 + 2 * 2 * 4 * 9) * fp32
    assert saved.by_dtype() == {"float32": saved.total() + saved.by_kind()["parameter"]}


def test_bf16_autocast_saves_half_width_activations() -> None:
    result = check("inception", batch=1, dtype="bf16")
    assert result.ok
    dtypes = result.saved.by_dtype(("activation",))
    assert set(dtypes) == {"bfloat16"}
    assert result.saved.by_kind()["parameter-cast"] > 0  # autocast's bf16 copies of the conv weights


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv", "json"])
def test_cli_check_formats_exit_zero(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "inception", "--batch", "1", "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        data = json.loads(out)
        assert data["ok"] is True and data["rows"][0]["path"] == "module.branch1.conv"
    elif fmt == "csv":
        assert out.startswith("path,type,quantity,ours,torch,diff,rel_error,status\n")
    else:
        assert "all exact quantities agree" in out and "saved_bytes" in out


@pytest.mark.parametrize("argv", [["check", "no-such-net"],
                                  ["check", "inception", "--device", "cuda:99" if torch.cuda.is_available() else "cuda"]])
def test_cli_check_errors_exit_two(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available() and argv[-1].startswith("cuda"):
        pytest.skip("a CUDA device is present")
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("cnncost: error:")


def test_int8_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:  # not a choice on the command line
        main(["check", "inception", "--dtype", "int8"])
    assert exit_info.value.code == 2 and "invalid choice: 'int8'" in capsys.readouterr().err
    with pytest.raises(CnnCostError, match="cannot run dtype 'int8' in PyTorch"):  # nor in Python
        check("inception", dtype="int8")


def test_importing_cnncost_does_not_import_torch() -> None:
    code = "import sys, cnncost; cnncost.table('alexnet'); sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
