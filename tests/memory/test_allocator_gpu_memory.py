"""benchmarks/gpu_memory.py's CPU side (it has never run on CUDA; CI has no GPU): its arguments, and
the reserved / nvidia-smi table it prints from measurements, here made up, so that its first run
on a lent GPU does not fail on anything but CUDA itself."""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_memory.py"
MiB = 1 << 20


@pytest.fixture(scope="module")
def gm():
    spec = importlib.util.spec_from_file_location("gpu_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_fake_run_writes_the_table_and_its_summary(gm, tmp_path):
    assert gm.main(["--reserved", "--fake", "--arch", "resnet18", "--batches", "2", "3", "--dtype", "fp32", "bf16",
                    "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "gpu_reserved.md").read_text().splitlines()
    rows = [line for line in lines if line.startswith("| resnet18 |")]
    assert len(rows) == 4  # 1 net x 2 dtypes x 2 batches
    assert all(row.count("+4.8%") == 3 for row in rows)  # measured = modelled x 1.05: (1.05 - 1) / 1.05
    summary = [line for line in lines if line.startswith("| allocated |") or line.startswith("| nvidia-smi |")]
    assert summary == ["| allocated | 4 | 4.8% | 4.8% |", "| nvidia-smi | 4 | 4.8% | 4.8% |"]
    assert "modelled as h100" in lines[0] and "CUDA context: not measured (--fake)" in lines[0]


def test_defaults_cover_ten_nets_two_dtypes_two_batches(gm):
    assert len(gm.RESERVED_ARCHITECTURES) >= 10 and len(gm.RESERVED_BATCHES) == 2
    import cnncost
    for name in gm.RESERVED_ARCHITECTURES:
        cnncost.load(name)  # every default name is a built-in


def test_arguments_refused_or_needed(gm, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        gm.main(["--fake", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "--fake dry-runs --reserved only" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            gm.main(["--reserved", "--out", str(tmp_path)])
        assert "no CUDA device" in capsys.readouterr().err


def test_measured_table_from_made_up_measurements(gm, monkeypatch):
    """The CUDA path of `reserved_table` with CUDA's calls replaced: a device name, a context, a
    measurement function, one net out of memory, and a deadline that stops the rest."""
    monkeypatch.setattr(gm.torch.cuda, "get_device_name", lambda *a: "NVIDIA A100-SXM4-80GB")
    monkeypatch.setattr(gm, "cuda_context", lambda: 300 * MiB)
    calls = []

    def measure(arch, batch, dtype, optimizer):
        calls.append((arch, batch, dtype))
        if arch == "alexnet":
            raise torch.cuda.OutOfMemoryError("made up")
        return {"allocated": 200 * MiB, "reserved": 400 * MiB, "smi": 800 * MiB}
    args = argparse.Namespace(fake=False, gpu=None, optimizer="adam", arch=["resnet18", "alexnet"], dtype=["fp32"],
                              batches=[2], deadline=0)
    lines = gm.reserved_table(args, measure)
    assert "modelled as a100-80gb" in lines[0] and "300.0 MiB measured" in lines[0]
    assert calls == [("resnet18", 2, "fp32"), ("alexnet", 2, "fp32")]
    row = next(line for line in lines if line.startswith("| resnet18 |"))
    predicted = gm.predict_reserved("resnet18", 2, "fp32", "adam", "a100-80gb")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:6] == [f"{predicted.peak_allocated / MiB:,.1f}", "200.0",
                          f"{(200 * MiB - predicted.peak_allocated) / (200 * MiB):+.1%}"]
    assert cells[9:12] == [f"{predicted.nvidia_smi / MiB:,.1f}", "800.0",
                           f"{(800 * MiB - predicted.nvidia_smi) / (800 * MiB):+.1%}"]
    assert any("| alexnet | fp32 | 2 | out of memory" in line for line in lines)
    args.deadline = 1e-9  # past at once: nothing starts
    assert lines[-1] != (late := gm.reserved_table(args, measure))[-1] and "2 runs not started" in late[-1]


def test_profile_of_device_names(gm):
    assert [gm.gpu_profile_of(n) for n in ("NVIDIA H100 80GB HBM3", "NVIDIA H200", "NVIDIA A100-SXM4-40GB",
                                           "NVIDIA A100 80GB PCIe", "NVIDIA L4", "Tesla V100-SXM2-32GB", "other")] == \
        ["h100", "h200", "a100-40gb", "a100-80gb", "l4", "v100", "h100"]
    assert gm.rel_error(0, 0) == 0.0 and gm.rel_error(100, 90) == pytest.approx(0.1)
