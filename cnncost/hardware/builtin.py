"""The built-in hardware profiles: datasheet figures as exact ints, each with its source.

Peaks are dense: where a datasheet prints only the 2:4 sparsity figure (marked `*`, "specifications
are one-half lower without sparsity"), the figure here is that one halved, and its source says so.
`vendor_name` is what `nvidia-smi` and `torch.cuda.get_device_name()` print for the part.
Memory: datasheet "GB" of GPU memory are binary (an A100 80GB has 81,920 MiB), so `80gb` is 80 GiB;
bandwidths are decimal (2,039 GB/s = 2,039 x 10^9 B/s), as datasheets mean them. The H200's "141GB"
is neither: its figure is the total memory CUDA reports (143,771 MiB, `H200_MEMORY_MIB`).
Interconnect: datasheets print NVLink and PCIe bandwidths as bidirectional totals (H100 SXM "NVLink
900GB/s", "PCIe Gen5 128GB/s"); the profiles hold half, per direction (`profile.py`).
"""
from __future__ import annotations

from typing import Any

from .profile import OP_CLASSES, HardwareProfile

GIB = 2**30


def tera(text: str) -> int:
    """'19.5' (TFLOPS, TB/s ...) -> 19_500_000_000_000, exactly."""
    whole, _, frac = text.partition(".")
    return int(whole) * 10**12 + (int(frac) * 10 ** (12 - len(frac)) if frac else 0)


def giga(text: str) -> int:
    return tera(text) // 1000


# --- defaults that are assumptions, not datasheet figures (calibrate measures them) ---

LAUNCH_NS = 5_000
LAUNCH_SOURCE = ("assumption: about 5 us per PyTorch eager CUDA op (host-side dispatch plus "
                 "cudaLaunchKernel); NVIDIA's 'Getting Started with CUDA Graphs' (developer.nvidia.com/blog/"
                 "cuda-graphs/) measures a few us per back-to-back small kernel before PyTorch's dispatcher "
                 "adds its own; `cnncost calibrate --device cuda` measures it")
ACHIEVABLE = {"matmul": 0.75, "conv": 0.6, "depthwise": 0.25, "vector": 0.5, "bandwidth": 0.8}
ACHIEVABLE_SOURCES = {
    "matmul": "assumption: large cuBLAS GEMMs reach roughly 70-90% of the dense tensor-core peak (NVIDIA, "
              "'Matrix Multiplication Background User's Guide', docs.nvidia.com/deeplearning/performance/"
              "dl-performance-matrix-multiplication/); 0.75 is the middle; calibrate measures it",
    "conv": "assumption: cuDNN convolutions of CNN layers (small channel counts, small maps) reach less of the "
            "peak than large GEMMs (NVIDIA, 'Convolutional Layers User's Guide', docs.nvidia.com/deeplearning/"
            "performance/dl-performance-convolutional/); calibrate measures it",
    "depthwise": "assumption: depthwise convolutions run on the vector units with little reuse and reach a small "
                 "fraction of their peak; they are usually bound by memory first",
    "vector": "assumption: elementwise and normalization kernels reach about half the vector peak when not "
              "bound by memory (they almost always are)",
    "bandwidth": "assumption: streaming kernels (copies, elementwise ops) typically reach 80-90% of the "
                 "datasheet bandwidth (STREAM/BabelStream-style copy benchmarks); calibrate measures it",
}

A100_DATASHEET = ("NVIDIA A100 Tensor Core GPU datasheet, https://www.nvidia.com/content/dam/en-zz/Solutions/"
                  "Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf")
A100_WHITEPAPER = ("NVIDIA A100 Tensor Core GPU Architecture whitepaper, Table 1 (Peak FP16/BF16 non-Tensor), "
                   "https://images.nvidia.com/aem-dam/en-zz/Solutions/data-center/nvidia-ampere-architecture-"
                   "whitepaper.pdf")
V100_DATASHEET = ("NVIDIA V100 Tensor Core GPU datasheet (SXM2 column), https://images.nvidia.com/content/"
                  "technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf")
H100_DATASHEET = ("NVIDIA H100 Tensor Core GPU datasheet, https://resources.nvidia.com/en-us-tensor-core/"
                  "nvidia-tensor-core-gpu-datasheet")
H100_WHITEPAPER = ("NVIDIA H100 Tensor Core GPU Architecture whitepaper, Table 3 (H100 SXM5: Peak FP16/BF16 "
                   "non-Tensor 133.8 TFLOPS), https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper")
H200_DATASHEET = "NVIDIA H200 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/h200/"
L4_DATASHEET = "NVIDIA L4 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/l4/"
L40S_DATASHEET = "NVIDIA L40S GPU datasheet, https://www.nvidia.com/en-us/data-center/l40s/"
T4_DATASHEET = "NVIDIA T4 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/tesla-t4/"
A10G_SPECS = ("no public NVIDIA datasheet (an AWS-only variant of the A10, in EC2 G5 instances): Baseten, "
              "'NVIDIA A10 vs A10G for ML model inference', spec table, https://www.baseten.co/blog/"
              "nvidia-a10-vs-a10g-for-ml-model-inference/ (secondary source)")
A10G_MEMORY = ("Amazon EC2 G5 instances, https://aws.amazon.com/ec2/instance-types/g5/ (24 GB per A10G); "
               "600 GB/s as Baseten's spec table gives it")
ADA_WHITEPAPER = ("NVIDIA Ada GPU Architecture whitepaper, Appendix A, Table 1 (GeForce RTX 4090; FP16/BF16 tensor "
                  "figures with FP32 accumulate, as PyTorch accumulates), https://images.nvidia.com/aem-dam/"
                  "Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf")
SPARSE = "; the datasheet's figure with sparsity ({}) halved, per its footnote"
A10_DATASHEET = "NVIDIA A10 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/products/a10-gpu/"
RTX_4090_SPECS = ("NVIDIA GeForce RTX 4090 specifications, https://www.nvidia.com/en-us/geforce/graphics-cards/"
                  "40-series/rtx-4090/")
PER_DIRECTION = " (bidirectional); per direction half: {} GB/s"
# the total memory CUDA reports for an H200 (torch.cuda.get_device_properties().total_memory; nvidia-smi's
# 'Memory-Usage ... / 143771MiB'): what the caching allocator can reserve, the datasheet's "141GB" rounded
H200_MEMORY_MIB = 143_771
H200_MEMORY_SOURCE = ("NVIDIA H200 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/h200/: "
                      "GPU memory 141GB HBM3e, rounded; the figure is the device's total memory as CUDA reports it, "
                      "143,771 MiB = 140.4 GiB = 150.8 GB (nvidia-smi on H200 SXM systems, driver 570.158.01, CUDA "
                      "12.8, public listings: 'Memory-Usage 0MiB / 143771MiB')")


def _link(source: str, figure: str, bidirectional_gb: int) -> tuple[int, str]:
    """A datasheet's bidirectional bandwidth (GB/s) as bytes/s per direction, with its source."""
    return bidirectional_gb * 10**9 // 2, f"{source}: {figure}" + PER_DIRECTION.format(bidirectional_gb // 2)


def _pcie(source: str, figure: str, generation: int) -> dict[str, tuple[int, str]]:
    """PCIe x16 of a generation: 16, 32, 64 GB/s per direction (datasheets: 32, 64, 128 GB/s both ways)."""
    both = {3: 32, 4: 64, 5: 128}[generation]
    return {"pcie_generation": (generation, f"{source}: {figure}"),
            "pcie_bandwidth": _link(source, figure, both)}


def _profile(name: str, vendor_name: str, *, matrix: dict[str, tuple[int, str]],
             vector: dict[str, tuple[int, str]], bandwidth: tuple[int, str], memory_gb: int,
             memory_source: str, links: dict[str, tuple[int, str]], notes: str = "",
             memory_bytes: int | None = None) -> HardwareProfile:
    """A datasheet GPU profile: each figure given with its source; `links`: the interconnect
    figures (`profile.LINKS`: value and source); `memory_bytes` where it is not `memory_gb` GiB."""
    sources: dict[str, Any] = {f"matrix.{d}": s for d, (_, s) in matrix.items()}
    sources.update({f"vector.{d}": s for d, (_, s) in vector.items()})
    sources["memory_bandwidth"] = bandwidth[1]
    sources["memory_bytes"] = (memory_source if memory_bytes is not None
                               else f"{memory_source} ({memory_gb} GB of GPU memory, binary: {memory_gb} GiB)")
    sources.update({k: s for k, (_, s) in links.items()})
    interconnect: dict[str, Any] = {k: v for k, (v, _) in links.items()}
    sources["launch_overhead_ns"] = LAUNCH_SOURCE
    sources.update({f"achievable.{c}": ACHIEVABLE_SOURCES[c] for c in OP_CLASSES})
    return HardwareProfile(
        name=name, vendor_name=vendor_name, kind="gpu",
        matrix={d: v for d, (v, _) in matrix.items()}, vector={d: v for d, (v, _) in vector.items()},
        memory_bandwidth=bandwidth[0], memory_bytes=memory_gb * GIB if memory_bytes is None else memory_bytes,
        launch_overhead_ns=LAUNCH_NS, achievable=dict(ACHIEVABLE), sources=sources, origin="datasheet", notes=notes,
        **interconnect)


def _sheet(source: str, figure: str, sparse: str | None = None) -> str:
    return f"{source}: {figure}" + (SPARSE.format(sparse) if sparse else "")


def _a100(memory_gb: int, bandwidth: str) -> HardwareProfile:
    def d(figure: str) -> str:
        return _sheet(A100_DATASHEET, figure)
    return _profile(
        f"a100-sxm4-{memory_gb}gb", f"NVIDIA A100-SXM4-{memory_gb}GB",
        matrix={"tf32": (tera("156"), d("TF32 Tensor Core 156 TFLOPS")),
                "fp16": (tera("312"), d("FP16 Tensor Core 312 TFLOPS")),
                "bf16": (tera("312"), d("BFLOAT16 Tensor Core 312 TFLOPS")),
                "int8": (tera("624"), d("INT8 Tensor Core 624 TOPS"))},
        vector={"fp32": (tera("19.5"), d("FP32 19.5 TFLOPS")),
                "fp16": (tera("78"), _sheet(A100_WHITEPAPER, "Peak FP16 TFLOPS (non-Tensor) 78")),
                "bf16": (tera("39"), _sheet(A100_WHITEPAPER, "Peak BF16 TFLOPS (non-Tensor) 39"))},
        bandwidth=(giga(bandwidth), d(f"GPU memory bandwidth {bandwidth} GB/s (SXM)")),
        memory_gb=memory_gb, memory_source=d(f"GPU memory {memory_gb}GB"),
        links={"nvlink_bandwidth": _link(A100_DATASHEET, "Interconnect NVIDIA NVLink 600GB/s (SXM)", 600),
               **_pcie(A100_DATASHEET, "Interconnect PCIe Gen4 64GB/s (SXM)", 4)})


def _v100(memory_gb: int) -> HardwareProfile:
    def d(figure: str) -> str:
        return _sheet(V100_DATASHEET, figure)
    return _profile(
        f"v100-sxm2-{memory_gb}gb", f"Tesla V100-SXM2-{memory_gb}GB",
        matrix={"fp16": (tera("125"), d("Tensor Performance 125 TFLOPS (FP16 inputs, FP32 accumulate)"))},
        vector={"fp32": (tera("15.7"), d("Single-Precision Performance 15.7 TFLOPS"))},
        bandwidth=(giga("900"), d("Memory Bandwidth 900 GB/s")),
        memory_gb=memory_gb, memory_source=d(f"GPU Memory {memory_gb} GB HBM2"),
        links={"nvlink_bandwidth": _link(V100_DATASHEET, "Interconnect Bandwidth NVLink 300 GB/s", 300),
               **_pcie(V100_DATASHEET, "Interconnect Bandwidth PCIe 32 GB/s (PCIe Gen3 x16, the host link of "
                       "the SXM2 module too)", 3)},
        notes="no BF16, TF32 or INT8 tensor cores (Volta)")


def _h100_sxm() -> HardwareProfile:
    def d(figure: str, sparse: str | None = None) -> str:
        return _sheet(H100_DATASHEET, f"H100 SXM {figure}", sparse)
    return _profile(
        "h100-sxm5-80gb", "NVIDIA H100 80GB HBM3",
        matrix={"tf32": (tera("494.5"), d("TF32 Tensor Core", "989 TFLOPS")),
                "fp16": (tera("989.5"), d("FP16 Tensor Core", "1,979 TFLOPS")),
                "bf16": (tera("989.5"), d("BFLOAT16 Tensor Core", "1,979 TFLOPS")),
                "int8": (tera("1979"), d("INT8 Tensor Core", "3,958 TOPS"))},
        vector={"fp32": (tera("67"), d("FP32 67 TFLOPS")),
                "fp16": (tera("133.8"), _sheet(H100_WHITEPAPER, "Peak FP16 TFLOPS (non-Tensor) 133.8")),
                "bf16": (tera("133.8"), _sheet(H100_WHITEPAPER, "Peak BF16 TFLOPS (non-Tensor) 133.8"))},
        bandwidth=(tera("3.35"), d("GPU memory bandwidth 3.35 TB/s")),
        memory_gb=80, memory_source=d("GPU memory 80GB"),
        links={"nvlink_bandwidth": _link(H100_DATASHEET, "H100 SXM Interconnect NVIDIA NVLink 900GB/s", 900),
               **_pcie(H100_DATASHEET, "H100 SXM Interconnect PCIe Gen5 128GB/s", 5)})


def _h100_pcie() -> HardwareProfile:
    def d(figure: str, sparse: str | None = None) -> str:
        return _sheet(H100_DATASHEET, f"H100 PCIe {figure}", sparse)
    return _profile(
        "h100-pcie-80gb", "NVIDIA H100 PCIe",
        matrix={"tf32": (tera("378"), d("TF32 Tensor Core", "756 TFLOPS")),
                "fp16": (tera("756.5"), d("FP16 Tensor Core", "1,513 TFLOPS")),
                "bf16": (tera("756.5"), d("BFLOAT16 Tensor Core", "1,513 TFLOPS")),
                "int8": (tera("1513"), d("INT8 Tensor Core", "3,026 TOPS"))},
        vector={"fp32": (tera("51"), d("FP32 51 TFLOPS"))},
        bandwidth=(tera("2"), d("GPU memory bandwidth 2TB/s")),
        memory_gb=80, memory_source=d("GPU memory 80GB"),
        # its NVLink bridge (600GB/s) joins pairs of cards only: a ring over more ranks crosses PCIe
        links=_pcie(H100_DATASHEET, "H100 PCIe Interconnect PCIe Gen5 128GB/s (its NVLink bridge, 600GB/s, joins "
                    "pairs of cards only: not used for a ring over more ranks)", 5))


def _h200() -> HardwareProfile:
    def d(figure: str, sparse: str | None = None) -> str:
        return _sheet(H200_DATASHEET, f"H200 SXM {figure}", sparse)
    return _profile(
        "h200-sxm-141gb", "NVIDIA H200",
        matrix={"tf32": (tera("494.5"), d("TF32 Tensor Core", "989 TFLOPS")),
                "fp16": (tera("989.5"), d("FP16 Tensor Core", "1,979 TFLOPS")),
                "bf16": (tera("989.5"), d("BFLOAT16 Tensor Core", "1,979 TFLOPS")),
                "int8": (tera("1979"), d("INT8 Tensor Core", "3,958 TOPS"))},
        vector={"fp32": (tera("67"), d("FP32 67 TFLOPS"))},
        bandwidth=(tera("4.8"), d("GPU memory bandwidth 4.8TB/s")),
        memory_gb=141, memory_source=H200_MEMORY_SOURCE, memory_bytes=H200_MEMORY_MIB * 2**20,
        links={"nvlink_bandwidth": _link(H200_DATASHEET, "H200 SXM Interconnect NVIDIA NVLink 900GB/s", 900),
               **_pcie(H200_DATASHEET, "H200 SXM Interconnect PCIe Gen5 128GB/s", 5)})


def _l4() -> HardwareProfile:
    def d(figure: str, sparse: str | None = None) -> str:
        return _sheet(L4_DATASHEET, figure, sparse)
    return _profile(
        "l4", "NVIDIA L4",
        matrix={"tf32": (tera("60"), d("TF32 Tensor Core", "120 TFLOPS")),
                "fp16": (tera("121"), d("FP16 Tensor Core", "242 TFLOPS")),
                "bf16": (tera("121"), d("BFLOAT16 Tensor Core", "242 TFLOPS")),
                "int8": (tera("242.5"), d("INT8 Tensor Core", "485 TOPS"))},
        vector={"fp32": (tera("30.3"), d("FP32 30.3 TFLOPS"))},
        bandwidth=(giga("300"), d("GPU memory bandwidth 300GB/s")),
        memory_gb=24, memory_source=d("GPU memory 24GB GDDR6"),
        links=_pcie(L4_DATASHEET, "Interconnect PCIe Gen4 x16 64GB/s", 4))


def _l40s() -> HardwareProfile:
    def d(figure: str, sparse: str | None = None) -> str:
        return _sheet(L40S_DATASHEET, figure, sparse)
    return _profile(
        "l40s", "NVIDIA L40S",
        matrix={"tf32": (tera("183"), d("TF32 Tensor Core", "366 TFLOPS")),
                "fp16": (tera("366.5"), d("FP16 Tensor Core", "733 TFLOPS")),
                "bf16": (tera("366.5"), d("BF16 Tensor Core", "733 TFLOPS")),
                "int8": (tera("733"), d("INT8 Tensor Core", "1,466 TOPS"))},
        vector={"fp32": (tera("91.6"), d("FP32 91.6 TFLOPS"))},
        bandwidth=(giga("864"), d("GPU memory bandwidth 864GB/s")),
        memory_gb=48, memory_source=d("GPU memory 48GB GDDR6 with ECC"),
        links=_pcie(L40S_DATASHEET, "Interconnect Interface PCIe Gen4 x16: 64GB/s bidirectional", 4))


def _t4() -> HardwareProfile:
    def d(figure: str) -> str:
        return _sheet(T4_DATASHEET, figure)
    return _profile(
        "t4", "Tesla T4",
        matrix={"fp16": (tera("65"), d("Mixed Precision (FP16/FP32) 65 TFLOPS")),
                "int8": (tera("130"), d("INT8 130 TOPS"))},
        vector={"fp32": (tera("8.1"), d("Single Precision 8.1 TFLOPS"))},
        bandwidth=(giga("320"), d("GPU memory bandwidth 320+ GB/s")),
        memory_gb=16, memory_source=d("GPU memory 16 GB GDDR6"),
        links=_pcie(T4_DATASHEET, "System Interface x16 PCIe Gen3, Interconnect Bandwidth 32 GB/sec", 3),
        notes="no BF16 or TF32 tensor cores (Turing); no sparsity figures")


def _a10g() -> HardwareProfile:
    def d(figure: str) -> str:
        return _sheet(A10G_SPECS, figure)
    return _profile(
        "a10g", "NVIDIA A10G",
        matrix={"tf32": (tera("35"), d("TF32 Tensor Core 35 TFLOPS")),
                "fp16": (tera("70"), d("FP16 Tensor Core 70 TFLOPS")),
                "bf16": (tera("70"), d("BF16 Tensor Core 70 TFLOPS"))},
        vector={"fp32": (tera("35"), d("FP32 35 TFLOPS"))},
        bandwidth=(giga("600"), _sheet(A10G_MEMORY, "memory bandwidth 600 GB/s")),
        memory_gb=24, memory_source=_sheet(A10G_MEMORY, "GPU memory 24 GB GDDR6"),
        links=_pcie(A10_DATASHEET, "Interconnect PCIe Gen4 64GB/s (the A10's; the A10G is taken alike)", 4),
        notes="AWS-only part without a public NVIDIA datasheet: figures from a secondary source; "
              "calibrate on a G5 instance to replace them")


def _rtx_4090() -> HardwareProfile:
    def d(figure: str) -> str:
        return _sheet(ADA_WHITEPAPER, figure)
    return _profile(
        "rtx-4090", "NVIDIA GeForce RTX 4090",
        matrix={"tf32": (tera("82.6"), d("Peak TF32 Tensor TFLOPS 82.6")),
                "fp16": (tera("165.2"), d("Peak FP16 Tensor TFLOPS with FP32 Accumulate 165.2")),
                "bf16": (tera("165.2"), d("Peak BF16 Tensor TFLOPS with FP32 Accumulate 165.2")),
                "int8": (tera("660.6"), d("Peak INT8 Tensor TOPS 660.6"))},
        vector={"fp32": (tera("82.6"), d("Peak FP32 TFLOPS (non-Tensor) 82.6")),
                "fp16": (tera("82.6"), d("Peak FP16 TFLOPS (non-Tensor) 82.6")),
                "bf16": (tera("82.6"), d("Peak BF16 TFLOPS (non-Tensor) 82.6"))},
        bandwidth=(giga("1008"), d("Memory Bandwidth 1008 GB/sec")),
        memory_gb=24, memory_source=d("Memory Size 24 GB GDDR6X"),
        links=_pcie(RTX_4090_SPECS, "PCI Express Gen 4 (x16; GeForce cards have no peer-to-peer access, so NCCL "
                    "passes through host memory, below this figure)", 4),
        notes="GeForce: FP16/BF16 tensor math with FP32 accumulate runs at half the FP16-accumulate rate")


_BUILDERS = (lambda: _a100(80, "2039"), lambda: _a100(40, "1555"), lambda: _v100(16), lambda: _v100(32),
             _h100_sxm, _h100_pcie, _h200, _l4, _l40s, _t4, _a10g, _rtx_4090)
BUILTIN: dict[str, HardwareProfile] = {p.name: p for p in (build() for build in _BUILDERS)}
