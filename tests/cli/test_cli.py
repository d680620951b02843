"""The command line: outputs, exit codes, and one-line errors without tracebacks."""
import json
import subprocess
import sys

import pytest

from cnncost.cli import main
from cold_process import cold_run  # tests/support


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_text(capsys):
    code, out, _ = run(capsys, "table", "alexnet")
    assert code == 0
    assert "conv1" in out and "34,944" in out and "batch 128, fp32" in out


def test_table_json_options(capsys):
    code, out, _ = run(capsys, "table", "vgg16", "--batch", "256", "--dtype", "bf16", "--optimizer", "adamw",
                       "--format", "json", "--depth", "0")
    data = json.loads(out)
    assert code == 0 and (data["batch"], data["dtype"], data["optimizer"], data["depth"]) == (256, "bf16", "adamw", 0)
    assert [layer["name"] for layer in data["layers"]][:3] == ["input", "stage1", "stage2"]


def test_table_input_override(capsys):
    code, out, _ = run(capsys, "table", "vgg16", "--input", "3x64x64", "--format", "json")
    data = json.loads(out)
    assert data["layers"][0]["output_shape"] == [3, 64, 64]


@pytest.mark.parametrize("fmt,marker", [("markdown", "|"), ("csv", "name,type"), ("html", "<table "),
                                        ("latex", "\\begin{tabular}")])
def test_table_formats(capsys, fmt, marker):
    code, out, _ = run(capsys, "table", "alexnet", "--format", fmt)
    assert code == 0 and marker in out


def test_list_and_pattern(capsys):
    code, out, _ = run(capsys, "list", "vgg1*")
    assert code == 0 and "vgg16" in out and "alexnet" not in out


def test_spec_prints_loadable_yaml(capsys, tmp_path):
    code, out, _ = run(capsys, "spec", "alexnet")
    path = tmp_path / "copy.yaml"
    path.write_text(out)
    code2, out2, _ = run(capsys, "table", str(path), "--format", "json")
    assert code == code2 == 0 and json.loads(out2)["total"]["params"] == 62_378_344


def test_unknown_architecture_suggests(capsys):
    code, _, err = run(capsys, "table", "vgg61")
    assert code == 2
    assert err.startswith("cnncost: error: unknown architecture 'vgg61'; did you mean ") and "vgg16" in err


def test_bad_spec_is_one_line_exit_2(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ninput: [3, 8, 8]\nlayers:\n  - {name: c, type: conv, out: 4, kernel: 3, groups: 3}\n")
    code, _, err = run(capsys, "table", str(path))
    assert code == 2
    assert err.strip().splitlines() == [f"cnncost: error: {path}: layer 'c' (conv): out channels 4 not divisible "
                                        "by groups=3"]


def test_bad_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["table", "alexnet", "--batch", "0"])
    assert exit_info.value.code == 2


def test_real_process_no_traceback_and_no_heavy_imports(tmp_path):
    # A cold process: errors are one line, and pandas/torch are never imported for a table.
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninput: [3, 8, 8]\nlayers: [{name: c, type: qqqq}]\n")
    probe = ("import sys; from cnncost.cli import main; code = main(sys.argv[1:]); "
             "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'numpy') if m in sys.modules]; "
             "print('HEAVY', heavy, file=sys.stderr); sys.exit(code)")
    ok = subprocess.run([sys.executable, "-c", probe, "table", "googlenet"], capture_output=True, text=True)
    assert ok.returncode == 0 and "HEAVY []" in ok.stderr
    failed = subprocess.run([sys.executable, "-c", probe, "table", str(bad)], capture_output=True, text=True)
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr
    assert failed.stderr.splitlines()[0] == (f"cnncost: error: {bad}: layer 'c': unknown layer type 'qqqq'; "
                                             "allowed: " + failed.stderr.split("allowed: ")[1].splitlines()[0])


def test_cold_table_of_a_python_family_loads_only_what_it_prints_with():
    # The cold path (issue 12's 5x target): a built-in Python family needs no YAML parser, no peer
    # tool's counting rules, no importer; each of these was imported once.
    modules = ("yaml", "cnncost.counting.tools", "cnncost.importers.torch_trace", "cnncost.importers.onnx_graph",
               "cnncost.safe_yaml")
    assert cold_run(["table", "resnet152"], modules)[0] == []
    assert "cnncost.counting.tools" in cold_run(["table", "resnet18", "--count-as", "fvcore"], modules)[0]


def test_cold_table_loads_only_the_layer_families_its_net_uses():
    # issue 18 added ~40 layer types: the registry loads a family's module on first use, and the
    # text table needs neither json nor html
    families = ("attention", "arith", "imported", "reshape", "scale", "inputs")
    modules = ["cnncost.layers." + f for f in families] + ["json", "html"]
    assert cold_run(["table", "resnet152"], modules)[0] == []
    loaded, out = cold_run(["table", "resnet152", "--format", "json"], modules)
    assert "json" in loaded and out.startswith("{")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("cnncost ")


def test_fit_exits_1_when_nothing_fits_and_warns_about_headroom(capsys):
    code, out, _ = run(capsys, "fit", "alexnet", "--memory", "100MiB")
    assert code == 1 and out.startswith("alexnet: not even batch 1 fits in budget 100 MiB = 104,857,600 B")
    code, out, _ = run(capsys, "fit", "alexnet", "--memory", "8GiB")
    assert code == 0 and "No headroom is included for the CUDA context" in out
    code, _, err = run(capsys, "fit", "alexnet", "--memory", "80")
    assert code == 2 and "with a unit" in err


def test_autograd_memory_table_shows_saved_bytes_not_the_lecture_columns(capsys):
    code, out, _ = run(capsys, "table", "alexnet", "--memory", "autograd")
    assert code == 0 and "saved MiB" in out and "act. MiB" not in out and "memory MiB" not in out
    assert "(autograd; the lecture's rule says 1.75 GiB)" in out.splitlines()[0]
    code, _, err = run(capsys, "table", "alexnet", "--memory", "autograd", "--activations", "lecture")
    assert code == 2 and "use one or the other" in err


@pytest.mark.parametrize("shape", ["3xax3", "x", "3x64xx64"])
def test_input_option_needs_a_shape(capsys, shape):
    with pytest.raises(SystemExit) as exit_info:
        main(["table", "alexnet", "--input", shape])
    assert exit_info.value.code == 2
    assert "expected a shape like 3x224x224" in capsys.readouterr().err


@pytest.mark.parametrize("shape", ["3x64x64x2", "3x2x2x64x64"])
def test_input_option_takes_any_rank_and_the_first_layer_judges_it(capsys, shape):
    """--input parses shapes of any rank (issue 18); alexnet's first conv (11x11) refuses these."""
    code, _, err = run(capsys, "table", "alexnet", "--input", shape)
    assert code == 2 and err.startswith("cnncost: error: specs/alexnet.yaml: layer 'conv1' (conv): ")
    assert len(err.strip().splitlines()) == 1


def test_builtin_spec_errors_name_the_spec_not_site_packages(capsys):
    code, _, err = run(capsys, "table", "alexnet", "--input", "3x32x32")
    assert code == 2 and err.startswith("cnncost: error: specs/alexnet.yaml: layer 'pool5' (maxpool)")


def test_dtype_aliases(capsys):
    code, out, _ = run(capsys, "table", "alexnet", "--dtype", "half", "--format", "json")
    assert code == 0 and json.loads(out)["dtype"] == "fp16"
