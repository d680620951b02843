"""The built-in hardware profiles: exact datasheet figures, consistent, each with its source."""
from __future__ import annotations

import re

import pytest

from cnncost.errors import CnnCostError
from cnncost.hardware import DTYPES, OP_CLASSES, HardwareProfile, builtin_profiles, load_profile

NAMES = ("a100-sxm4-80gb", "a100-sxm4-40gb", "v100-sxm2-16gb", "v100-sxm2-32gb", "h100-sxm5-80gb",
         "h100-pcie-80gb", "h200-sxm-141gb", "l4", "l40s", "t4", "a10g", "rtx-4090")
# datasheet memory of the parts whose name has no size in it
MEMORY_GB = {"l4": 24, "l40s": 48, "t4": 16, "a10g": 24, "rtx-4090": 24}
T = 10**12
# a few figures copied by hand from the datasheets (dense: sparsity figures halved)
DATASHEET = {
    ("a100-sxm4-80gb", "matrix", "bf16"): 312 * T, ("a100-sxm4-80gb", "matrix", "tf32"): 156 * T,
    ("a100-sxm4-80gb", "vector", "fp32"): 19_500_000_000_000, ("a100-sxm4-40gb", "matrix", "int8"): 624 * T,
    ("h100-sxm5-80gb", "matrix", "bf16"): 989_500_000_000_000, ("h100-sxm5-80gb", "matrix", "tf32"): 494_500_000_000_000,
    ("h100-pcie-80gb", "matrix", "fp16"): 756_500_000_000_000, ("h200-sxm-141gb", "matrix", "int8"): 1979 * T,
    ("v100-sxm2-16gb", "matrix", "fp16"): 125 * T, ("v100-sxm2-32gb", "vector", "fp32"): 15_700_000_000_000,
    ("l4", "matrix", "bf16"): 121 * T, ("l40s", "matrix", "fp16"): 366_500_000_000_000, ("t4", "matrix", "fp16"): 65 * T,
    ("rtx-4090", "matrix", "bf16"): 165_200_000_000_000, ("a10g", "vector", "fp32"): 35 * T,
}
BANDWIDTH = {"a100-sxm4-80gb": 2039, "a100-sxm4-40gb": 1555, "v100-sxm2-16gb": 900, "v100-sxm2-32gb": 900,
             "h100-sxm5-80gb": 3350, "h100-pcie-80gb": 2000, "h200-sxm-141gb": 4800, "l4": 300, "l40s": 864,
             "t4": 320, "a10g": 600, "rtx-4090": 1008}  # GB/s


def test_every_part_of_the_issue_is_built_in_under_the_vendors_name():
    assert tuple(builtin_profiles()) == NAMES
    for name, profile in builtin_profiles().items():
        assert profile.name == name and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
        assert profile.kind == "gpu" and profile.origin == "datasheet" and profile.vendor_name.startswith(("NVIDIA", "Tesla"))
        assert load_profile(name) is profile


@pytest.mark.parametrize("name", NAMES)
def test_figures_are_positive_exact_ints_and_consistent(name):
    profile = builtin_profiles()[name]
    for key in profile.figure_keys():
        value = profile.figure(key)
        assert type(value) is int and value > 0, key
    assert type(profile.launch_overhead_ns) is int and profile.launch_overhead_ns > 0
    for dtype in DTYPES:  # a tensor core is never slower than the vector units on the same dtype
        if dtype in profile.matrix and dtype in profile.vector:
            assert profile.matrix[dtype] >= profile.vector[dtype], dtype
    if "tf32" in profile.matrix:  # TF32 tensor math is never slower than fp32 on the CUDA cores
        assert profile.matrix["tf32"] >= profile.vector["fp32"]
    assert "fp32" in profile.vector and "fp32" not in profile.matrix  # fp32 has no tensor-core path
    for low, high in (("fp16", "int8"), ("tf32", "fp16"), ("tf32", "bf16")):
        if low in profile.matrix and high in profile.matrix:
            assert profile.matrix[high] >= profile.matrix[low]
    gb = int(re.search(r"(\d+)gb$", name).group(1)) if name.endswith("gb") else MEMORY_GB[name]
    # the H200's "141GB" is the total memory CUDA reports rounded: 143,771 MiB (nvidia-smi), not 141 GiB
    assert profile.memory_bytes == (143_771 * 2**20 if name == "h200-sxm-141gb" else gb * 2**30)
    assert profile.memory_bandwidth == BANDWIDTH[name] * 10**9
    assert set(profile.achievable) == set(OP_CLASSES) and all(0 < f <= 1 for f in profile.achievable.values())


def test_figures_match_the_datasheets():
    for (name, unit, dtype), value in DATASHEET.items():
        assert getattr(builtin_profiles()[name], unit)[dtype] == value, (name, unit, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_every_figure_has_its_source(name):
    profile = builtin_profiles()[name]
    assert profile.missing_sources() == []
    for key in profile.figure_keys():  # a datasheet figure names a document and where it is
        assert "http" in profile.sources[key] or "www." in profile.sources[key], key
    for key in ["launch_overhead_ns", *(f"achievable.{c}" for c in OP_CLASSES)]:
        assert profile.sources[key].startswith("assumption:"), key
    sparse = [k for k in profile.figure_keys() if "with sparsity" in profile.sources[k]]
    assert bool(sparse) == name.startswith(("h100", "h200", "l4")), sparse  # datasheets quoting sparsity only
    for key in sparse:  # the halved figure is the one the source quotes, over 2
        quoted = re.search(r"with sparsity \(([\d,.]+) T", profile.sources[key]).group(1).replace(",", "")
        assert profile.figure(key) * 2 == int(float(quoted) * T), key


def test_peak_falls_back_where_a_part_has_no_matrix_unit():
    v100 = builtin_profiles()["v100-sxm2-16gb"]
    assert v100.peak("fp16") == 125 * T
    assert v100.peak("fp32") == v100.peak("fp32", "vector") == 15_700_000_000_000  # no tensor-core fp32
    assert v100.peak("tf32", "vector") == v100.vector["fp32"]
    assert v100.peak("bf16") is None and v100.peak("int8", "vector") is None
    a100 = builtin_profiles()["a100-sxm4-80gb"]
    assert a100.peak("bf16") == 312 * T and a100.peak("bf16", "vector") == 39 * T
    assert a100.ridge_point("bf16") == 312 * T / (2039 * 10**9)
    assert a100.achievable_peak("bf16", "conv") == 312 * T * 0.6
    assert a100.achievable_peak("fp32", "depthwise") == 19_500_000_000_000 * 0.25
    assert a100.launch_overhead_seconds == 5e-6
    with pytest.raises(CnnCostError, match="unknown dtype"):
        a100.peak("fp8")


def test_a_profile_checks_its_fields():
    good = builtin_profiles()["l4"]
    fields = {f: getattr(good, f) for f in ("name", "vendor_name", "kind", "matrix", "vector", "memory_bandwidth",
                                             "memory_bytes", "launch_overhead_ns", "achievable", "sources",
                                             "pcie_generation", "pcie_bandwidth")}
    assert HardwareProfile(**fields) == good
    for change, message in (({"name": "L4 card"}, "field 'name'"), ({"kind": "tpu"}, "field 'kind'"),
                            ({"memory_bytes": 0}, "field 'memory_bytes'"), ({"memory_bandwidth": 1.5}, "memory_bandwidth"),
                            ({"matrix": {"fp8": 1}}, "field 'matrix.fp8'"), ({"vector": {"fp32": True}}, "vector.fp32"),
                            ({"achievable": {**good.achievable, "conv": 1.5}}, "achievable.conv"),
                            ({"achievable": {"matmul": 0.5}}, "achievable.conv': missing"),
                            ({"matrix": {}, "vector": {}}, "at least one peak"),
                            ({"pcie_generation": 2}, "field 'pcie_generation': expected one of 3, 4, 5, 6"),
                            ({"nvlink_bandwidth": 0}, "field 'nvlink_bandwidth'"),
                            ({"network_bandwidth": 12.5}, "field 'network_bandwidth'")):
        with pytest.raises(CnnCostError, match=re.escape(message)):
            HardwareProfile(**{**fields, **change})
    with pytest.raises(TypeError):
        good.matrix["bf16"] = 1  # read-only


# Interconnect per direction: half the bidirectional totals of the datasheets (A100: "NVLink 600GB/s, PCIe
# Gen4 64GB/s"; V100 SXM2: "NVLink 300 GB/s", "PCIe 32 GB/s"; H100 SXM and H200: "NVLink 900GB/s, PCIe Gen5
# 128GB/s"; T4: "x16 PCIe Gen3, 32 GB/sec"; L4, L40S: "PCIe Gen4 x16 64GB/s"); GB/s = 10^9 B/s
NVLINK_GB = {"a100-sxm4-80gb": 300, "a100-sxm4-40gb": 300, "v100-sxm2-16gb": 150, "v100-sxm2-32gb": 150,
             "h100-sxm5-80gb": 450, "h200-sxm-141gb": 450}
PCIE_GENERATION = {"a100-sxm4-80gb": 4, "a100-sxm4-40gb": 4, "v100-sxm2-16gb": 3, "v100-sxm2-32gb": 3,
                   "h100-sxm5-80gb": 5, "h100-pcie-80gb": 5, "h200-sxm-141gb": 5, "l4": 4, "l40s": 4, "t4": 3,
                   "a10g": 4, "rtx-4090": 4}


@pytest.mark.parametrize("name", NAMES)
def test_interconnect_figures_per_direction(name):
    profile = builtin_profiles()[name]
    assert profile.nvlink_bandwidth == (NVLINK_GB[name] * 10**9 if name in NVLINK_GB else None)
    generation = PCIE_GENERATION[name]
    assert profile.pcie_generation == generation
    assert profile.pcie_bandwidth == {3: 16, 4: 32, 5: 64}[generation] * 10**9  # x16, one direction
    assert profile.network_bandwidth is None  # a system's figure: --network-bandwidth or a profile file
    for key in ("nvlink_bandwidth", "pcie_bandwidth"):
        if getattr(profile, key) is not None:
            assert "per direction half" in profile.sources[key], key
