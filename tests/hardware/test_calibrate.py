"""`cnncost calibrate` on a tiny budget writes a profile that loads back (no timed assertions)."""
from __future__ import annotations

import pytest

from cnncost.cli import main
from cnncost.hardware import OP_CLASSES, load_profile, profile_yaml
from cnncost.hardware.calibrate import REDUCTION_CHANNELS

torch = pytest.importorskip("torch")


def test_calibrate_on_a_tiny_budget_writes_a_loadable_profile(tmp_path, capsys):
    out = tmp_path / "cpu.yaml"
    assert main(["calibrate", "--out", str(out), "--budget-seconds", "2", "--name", "this-cpu"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("this-cpu: ") and shown.rstrip().endswith(f"Wrote {out}")
    profile = load_profile(out)
    assert profile.name == "this-cpu" and profile.kind == "cpu" and profile.origin == "calibrated"
    assert out.read_text() == profile_yaml(profile, header=out.read_text().splitlines()[0][2:])  # exact round trip
    assert load_profile(str(out)) == profile
    measured = profile.measured
    convs = [f"conv.fp32.k{9 * c}" for c in REDUCTION_CHANNELS]
    for key in ("launch_ns", "launch_train_ns", "copy", "matmul.fp32.large", "matmul.fp32.small", "conv.fp32.large",
                "conv.fp32.small", "depthwise.fp32", "depthwise_grad.fp32", "maxpool.fp32", "batchnorm.fp32",
                "batchnorm_grad.fp32", "conv_net.fp32", "conv_grad.fp32", "conv.fp32.m32", "conv.fp32.m128",
                "conv_call_ns", *convs):
        assert type(measured[key]) is int and measured[key] > 0, key
        assert profile.sources[f"measured.{key}"].startswith("cnncost calibrate on CPU"), key
    # the peaks are the best measured kernel, so every fraction is at most 1
    assert profile.matrix["fp32"] == max(measured[k] for k in ("matmul.fp32.large", "conv.fp32.large", *convs))
    assert profile.vector["fp32"] == profile.matrix["fp32"]
    assert profile.achievable["matmul"] == measured["matmul.fp32.large"] / profile.matrix["fp32"]
    # the launch overhead: a tiny op's in a training step (forward and backward)
    assert profile.memory_bandwidth == measured["copy"] and profile.launch_overhead_ns == measured["launch_train_ns"]
    assert profile.achievable["bandwidth"] == 1.0 and all(0 < profile.achievable[c] <= 1 for c in OP_CLASSES)
    assert profile.memory_bytes > 2**20 and profile.missing_sources() == []
    if "bf16" in profile.matrix:
        assert profile.matrix["bf16"] == max(measured[k] for k in ("matmul.bf16.large", "conv.bf16.large",
                                                                   *(f"conv.bf16.k{9 * c}" for c in REDUCTION_CHANNELS)))


def test_calibrate_refuses_what_it_cannot_do(tmp_path, capsys):
    if not torch.cuda.is_available():
        assert main(["calibrate", "--out", str(tmp_path / "gpu.yaml"), "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "PyTorch sees no CUDA device" in err
        assert not (tmp_path / "gpu.yaml").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", "--out", str(tmp_path / "x.yaml"), "--budget-seconds", "0"])
    assert exit_info.value.code == 2 and "expected seconds above 0 and at most 3600" in capsys.readouterr().err
    assert main(["calibrate", "--out", str(tmp_path / "no" / "dir.yaml")]) == 2  # at once, before measuring
    assert capsys.readouterr().err == (f"cnncost: error: {tmp_path / 'no' / 'dir.yaml'}: cannot write the profile: "
                                       f"no folder {tmp_path / 'no'}\n")


def test_the_cache_flush_is_half_the_last_level_cache(tmp_path):
    from cnncost.hardware.calibrate import _flush_bytes
    for name, level, size in (("index0", 1, "32K"), ("index2", 2, "1024K"), ("index3", 3, "32768K")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "level").write_text(f"{level}\n")
        (tmp_path / name / "size").write_text(f"{size}\n")
    (tmp_path / "uevent").write_text("")
    assert _flush_bytes(str(tmp_path)) == 16 * 2**20  # the level-3 cache's 32 MiB, halved
    (tmp_path / "index3" / "size").write_text("garbled\n")  # unreadable: the next level down
    assert _flush_bytes(str(tmp_path)) == 512 * 2**10
    assert _flush_bytes(str(tmp_path / "missing")) == 16 * 2**20  # nothing said: 32 MiB assumed
