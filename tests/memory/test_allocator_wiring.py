"""The caching allocator model wired into the outputs (issue 19 item 6): `table --memory autograd`
on cuda shows the modelled reserved bytes and nvidia-smi figure next to the allocated peak (text and
JSON, labelled as modelled), the GPU profile is configurable, and `fit --budget-of` bounds the
figure asked for. No GPU: the figures are the model's own (`reserved_bytes`), checked for how they
reach the outputs and for the relations between them."""
from __future__ import annotations

import json
import random

import pytest

import cnncost
from cnncost.cli import main
from cnncost.memory import Precision, Setup, step_memory, trace
from cnncost.memory.allocator import replay
from cnncost.memory.reserved import DEVICES, STATUS, gpu_profile, reserved_bytes

MiB = 1 << 20


def run(capsys, *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_peaks_only_replay_gives_the_full_replays_peaks():
    rng = random.Random(19)
    for _ in range(30):
        events, live, key = [], [], 0
        for _ in range(400):
            if live and rng.random() < 0.45:
                events.append(("free", live.pop(rng.randrange(len(live)))))
            else:
                events.append(("alloc", key, rng.choice((1, 700, 4096, MiB, MiB + 1, 3 * MiB, 12 * MiB + 5))))
                live.append(key)
                key += 1
        for split in (None, 8 * MiB):
            full, fast = replay(events, split), replay(events, split, record=False)
            assert (fast.peak_allocated, fast.peak_requested, fast.peak_reserved, fast.peak_reserved_at,
                    fast.small_segments, fast.large_segments) == (
                full.peak_allocated, full.peak_requested, full.peak_reserved, full.peak_reserved_at,
                full.small_segments, full.large_segments)


def test_table_json_carries_the_modelled_figures(capsys):
    record = json.loads(run(capsys, "table", "resnet18", "--memory", "autograd", "--batch", "32", "--dtype", "bf16",
                            "--format", "json"))
    step = record["training_step"]
    expected = reserved_bytes(step_memory(trace(cnncost.load("resnet18"), precision=Precision("bf16")), Setup("adam")),
                              32, "h100")
    assert step["reserved_bytes"] == expected.peak_reserved
    assert step["nvidia_smi_bytes"] == expected.peak_reserved + 512 * MiB == expected.nvidia_smi
    assert step["allocator_allocated_bytes"] == expected.peak_allocated
    assert step["reserved_status"] == STATUS == "modelled; measured on CUDA: not yet"
    assert step["gpu"] == DEVICES["h100"].name and step["cuda_context_bytes"] == 512 * MiB
    # what the step's tensors ask for <= the allocator's blocks <= its segments
    assert step["peak_bytes"] <= step["allocator_allocated_bytes"] <= step["reserved_bytes"] < step["nvidia_smi_bytes"]
    # resnet18's fc: cuBLAS (32 MiB on capability 9.0) and cuBLASLt (1 MiB) workspaces, two threads
    assert step["workspace_bytes"] == 2 * (32 + 1) * MiB


def test_table_text_shows_them_labelled_and_the_profile_options_change_them(capsys):
    text = run(capsys, "table", "resnet18", "--memory", "autograd", "--batch", "32")
    line = next(line for line in text.splitlines() if line.startswith("CUDA reserved"))
    assert "[modelled; measured on CUDA: not yet]" in line and "nvidia-smi:" in line
    base = json.loads(run(capsys, "table", "resnet18", "--memory", "autograd", "--batch", "32", "--format", "json"))
    other = json.loads(run(capsys, "table", "resnet18", "--memory", "autograd", "--batch", "32", "--format", "json",
                           "--gpu", "a100-80gb", "--cuda-context", "300MiB", "--cudnn-workspace", "4MiB"))
    b, o = base["training_step"], other["training_step"]
    assert o["cuda_context_bytes"] == 300 * MiB and o["gpu"] == DEVICES["a100-80gb"].name
    # capability 8.0: cuBLAS's default workspace is 8 MiB + 128 KiB (and cuBLASLt 1 MiB), plus one cuDNN workspace
    assert o["workspace_bytes"] == 2 * (8 * MiB + 128 * 1024 + MiB) + 4 * MiB
    assert o["nvidia_smi_bytes"] == o["reserved_bytes"] + 300 * MiB
    assert b["peak_bytes"] == o["peak_bytes"]  # the allocated model does not depend on the GPU


def test_no_device_figures_off_cuda_or_under_the_lecture_rule(capsys):
    cpu = json.loads(run(capsys, "table", "resnet18", "--memory", "autograd", "--device", "cpu", "--format", "json"))
    assert "reserved_bytes" not in cpu["training_step"]
    assert "CUDA reserved" not in run(capsys, "table", "resnet18", "--memory", "autograd", "--device", "cpu")
    assert cnncost.table("resnet18").device_memory() is None


def test_bad_profiles_are_refused_in_one_line(capsys):
    assert main(["table", "resnet18", "--memory", "autograd", "--gpu", "x100"]) != 0
    assert "unknown GPU profile 'x100'; known: h100" in capsys.readouterr().err
    with pytest.raises(cnncost.CnnCostError, match="CUDA context"):
        gpu_profile("h100", context=-1)


@pytest.mark.parametrize("budget_of", ["reserved", "nvidia-smi"])
def test_fit_bounds_the_figure_asked_for(budget_of):
    result = cnncost.fit("resnet18", "6GB", dtype="bf16", budget_of=budget_of)
    step = step_memory(trace(cnncost.load("resnet18"), precision=Precision("bf16")), Setup("adam"))

    def figure(batch: int) -> int:
        r = reserved_bytes(step, batch, "h100")
        return r.peak_reserved if budget_of == "reserved" else r.nvidia_smi
    assert figure(result.batch) <= 6 * 10**9 < figure(result.batch + 1)
    assert result.budget_of == budget_of and result.device.status == STATUS
    allocated = cnncost.fit("resnet18", "6GB", dtype="bf16")
    assert allocated.budget_of == "allocated" and allocated.peak_bytes <= 6 * 10**9
    assert allocated.device == reserved_bytes(step, allocated.batch, "h100")  # the figures at its batch, as table's
    assert result.batch < allocated.batch  # segments and the context cost room


def test_fit_cli_budget_of(capsys):
    out = json.loads(run(capsys, "fit", "resnet18", "--budget", "6GB", "--dtype", "bf16", "--budget-of", "nvidia-smi",
                         "--format", "json"))
    assert out["budget_of"] == "nvidia-smi" and out["training_step"]["nvidia_smi_bytes"] <= 6 * 10**9
    assert out["training_step"]["reserved_status"] == STATUS
    plain = json.loads(run(capsys, "fit", "resnet18", "--budget", "6GB", "--dtype", "bf16", "--format", "json"))
    assert plain["budget_of"] == "allocated" and plain["training_step"]["peak_bytes"] <= 6 * 10**9
    table = json.loads(run(capsys, "table", "resnet18", "--batch", str(plain["batch"]), "--dtype", "bf16",
                           "--memory", "autograd", "--format", "json"))
    assert table["training_step"] == plain["training_step"]  # reserved and nvidia-smi at fit's batch included
    text = run(capsys, "fit", "resnet18", "--budget", "6GB", "--dtype", "bf16", "--budget-of", "reserved")
    assert "(bounding the reserved bytes, modelled; measured on CUDA: not yet)" in text.splitlines()[0]
    assert main(["fit", "resnet18", "--budget", "6GB", "--mode", "inference", "--budget-of", "reserved"]) != 0
    assert "models a plain training step on cuda" in capsys.readouterr().err
