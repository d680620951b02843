"""One device choice: a built-in GPU's time profile picks the allocator profile of the same card
(`cnncost.hardware.device`); `--gpu` alone still works and must agree with `--hardware`."""
from __future__ import annotations

import pytest

import cnncost
from cnncost.errors import CnnCostError
from cnncost.hardware import builtin_profiles, load_profile
from cnncost.hardware.device import (
    ALLOCATOR_OF,
    HARDWARE_OF,
    allocator_for,
    device_choice,
)
from cnncost.memory.reserved import DEVICES


def test_each_mapping_names_the_same_card_both_ways():
    names = set(builtin_profiles())
    for hardware, gpu in ALLOCATOR_OF.items():
        assert hardware in names and gpu in DEVICES
        # the same memory size: the time profile's figure and the allocator profile's, exactly
        assert load_profile(hardware).memory_bytes == DEVICES[gpu].memory, hardware
    for gpu, hardware in HARDWARE_OF.items():
        assert ALLOCATOR_OF[hardware] == gpu
    assert set(HARDWARE_OF) == set(DEVICES)  # every --gpu name has its --hardware name


def test_the_h200_memory_is_what_cuda_reports():
    # nvidia-smi on H200 SXM systems: 'Memory-Usage 0MiB / 143771MiB' (the datasheet's "141GB" rounded)
    assert load_profile("h200-sxm-141gb").memory_bytes == DEVICES["h200"].memory == 143_771 * 2**20


def test_the_choice():
    assert allocator_for("a100-sxm4-40gb") == "a100-40gb" and allocator_for(load_profile("l4")) == "l4"
    assert allocator_for("t4") is None and allocator_for("some/file.yaml") is None
    assert device_choice(None, "h200-sxm-141gb") == "h200" and device_choice("v100", None) == "v100"
    assert device_choice("A100-40GB", "a100-sxm4-40gb") == "A100-40GB" and device_choice(None, "t4") is None
    with pytest.raises(CnnCostError, match="--gpu h100 and --hardware a100-sxm4-40gb name different cards.*"
                                           "--gpu h100 is --hardware h100-sxm5-80gb"):
        device_choice("h100", "a100-sxm4-40gb")


def test_table_and_fit_model_the_card_hardware_names():
    report = cnncost.table("resnet18", batch=8, memory="autograd", hardware="a100-sxm4-40gb")
    assert report.gpu.name == "NVIDIA A100 40GB" and report.timing.hardware == "a100-sxm4-40gb"
    assert cnncost.table("resnet18", batch=8, memory="autograd", hardware="t4").gpu.name == DEVICES["h100"].name
    assert cnncost.table("resnet18", batch=8, memory="autograd", gpu="l4").gpu.name == "NVIDIA L4"
    fitted = cnncost.fit("resnet18", "8 GB", hardware="rtx-4090", budget_of="nvidia-smi")
    plain = cnncost.fit("resnet18", "8 GB", gpu="rtx4090", budget_of="nvidia-smi")
    assert fitted.batch == plain.batch  # the nvidia-smi figure of the same card bounds both
    with pytest.raises(CnnCostError, match="name different cards"):
        cnncost.fit("resnet18", "8 GB", hardware="rtx-4090", gpu="h100")
