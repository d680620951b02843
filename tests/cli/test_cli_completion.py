"""`cnncost completion bash|zsh|fish`, and the cold path that must not load it."""
import shutil
import subprocess

import pytest

from cnncost.cli import build_parser, main
from cold_process import cold_run  # tests/support


def _script(capsys, shell):
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_names_commands_options_and_architectures(capsys, shell):
    text = _script(capsys, shell)
    for word in ("table", "fit", "compare", "sweep", "completion", "--budget", "--format", "resnet50", "vgg16"):
        if shell == "fish" and word.startswith("--"):
            word = "-l " + word[2:]  # fish: complete -l budget
        assert word in text, word


def _bash(script, words, tmp_path):
    path = tmp_path / "c.bash"
    path.write_text(script)
    cword = len(words) - 1
    quoted = " ".join("'" + w + "'" for w in words)
    probe = f"source {path}; COMP_WORDS=({quoted}); COMP_CWORD={cword}; _cnncost; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_script_is_valid_and_completes(capsys, tmp_path):
    script = _script(capsys, "bash")
    path = tmp_path / "c.bash"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    assert _bash(script, ["cnncost", "ta"], tmp_path) == ["table"]
    assert _bash(script, ["cnncost", "co"], tmp_path) == ["compare", "completion"]
    assert "resnet50" in _bash(script, ["cnncost", "table", "resnet5"], tmp_path)
    assert _bash(script, ["cnncost", "fit", "vgg16", "--bu"], tmp_path) == ["--budget", "--budget-of"]
    assert _bash(script, ["cnncost", "table", "x", "--format", "cs"], tmp_path) == ["csv"]
    assert _bash(script, ["cnncost", "completion", "f"], tmp_path) == ["fish"]
    assert "--memory" not in _bash(script, ["cnncost", "fit", "x", "--"], tmp_path)  # deprecated: hidden


@pytest.mark.skipif(shutil.which("zsh") is None, reason="needs zsh")
def test_zsh_script_parses(capsys, tmp_path):
    path = tmp_path / "_cnncost"
    path.write_text(_script(capsys, "zsh"))
    assert subprocess.run(["zsh", "-n", str(path)], capture_output=True).returncode == 0


def test_unknown_shell_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["completion", "powershell"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_every_subcommand_is_in_the_scripts():
    from cnncost.cli.completion_script import commands_of, script
    names = [c.name for c in commands_of(build_parser())]
    assert {"table", "fit", "list", "spec", "compare", "check", "sweep", "import", "completion"} <= set(names)
    assert all(name in script("fish", build_parser()) for name in names)


def test_cold_table_loads_none_of_the_new_modules():
    modules = ("cnncost.cli.completion_script", "cnncost.pyspec", "cnncost.units", "yaml", "pandas", "numpy", "torch")
    assert cold_run(["table", "resnet152"], modules)[0] == []
