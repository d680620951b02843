"""What the device holds for a training step: the caching allocator's reserved bytes (`allocator.py`
replayed over `alloc_events.py`'s sequence, cuBLAS and cuDNN workspaces included) plus the CUDA
context: a predicted `torch.cuda.max_memory_reserved` and nvidia-smi figure.

Every figure here is modelled; measured on CUDA: not yet (`STATUS`). Sources:
- cuBLAS workspace: aten/src/ATen/cuda/CublasHandlePool.cpp (`parseChosenWorkspaceSize`):
  CUBLAS_WORKSPACE_CONFIG is a list of ":SIZE:COUNT" pairs, SIZE in KiB, the workspace their sum of
  SIZE x COUNT; unset, ":4096:8" (32 MiB) on compute capability 9.0 (H100, H200) and ":4096:2:16:8"
  (8 MiB + 128 KiB) elsewhere. It is allocated through the caching allocator, once per (cuBLAS
  handle, stream): one for the forward thread and one for autograd's backward thread.
- cuBLASLt workspace (same file, `getCUDABlasLtWorkspaceSize`): CUBLASLT_WORKSPACE_SIZE KiB,
  default 1024, at most the cuBLAS workspace; allocated once per handle like the cuBLAS one.
- cuDNN convolution workspaces depend on the algorithm cuDNN picks at run time: an option
  (`conv_workspace`, default 0: not modelled).
- CUDA context (driver state and the kernels of the CUDA libraries loaded, lazily since CUDA 11.7):
  PyTorch forum reports put it at "~700+ MB depending on the CUDA version and device"
  (discuss.pytorch.org "High gpu memory overhead", "What is the reason for pytorch's GPU memory
  floor", 723 MiB) before lazy loading; with lazy loading a few hundred MiB. Default 512 MiB for
  every device, configurable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import CnnCostError
from ..hardware.builtin import H200_MEMORY_MIB
from .alloc_events import allocation_events
from .allocator import replay
from .setup import Setup
from .step import StepMemory

STATUS = "modelled; measured on CUDA: not yet"
MiB = 1 << 20
DEFAULT_CONTEXT = 512 * MiB
CUBLASLT_DEFAULT = 1024 * 1024   # CUBLASLT_WORKSPACE_SIZE's default, 1024 KiB


@dataclass(frozen=True)
class Device:
    """A GPU profile as the model needs it: its memory, its compute capability (which picks cuBLAS's
    default workspace), the CUDA context's bytes (modelled) and the cuDNN workspace around each
    convolution (bytes; 0: not modelled, the algorithm cuDNN picks decides it at run time)."""

    name: str
    memory: int
    capability: tuple[int, int]
    context: int = DEFAULT_CONTEXT
    conv_workspace: int = 0


DEVICES = {
    "h100": Device("NVIDIA H100 80GB HBM3", 80 * 1024 * MiB, (9, 0)),
    "h200": Device("NVIDIA H200", H200_MEMORY_MIB * MiB, (9, 0)),  # the total CUDA reports (hardware.builtin)
    "a100-80gb": Device("NVIDIA A100 80GB", 80 * 1024 * MiB, (8, 0)),
    "a100-40gb": Device("NVIDIA A100 40GB", 40 * 1024 * MiB, (8, 0)),
    "l4": Device("NVIDIA L4", 24 * 1024 * MiB, (8, 9)),
    "rtx4090": Device("NVIDIA GeForce RTX 4090", 24 * 1024 * MiB, (8, 9)),
    "v100": Device("Tesla V100 32GB", 32 * 1024 * MiB, (7, 0)),
}
DEFAULT_DEVICE = "h100"


def gpu_profile(name: str | None = None, context: int | None = None, conv_workspace: int | None = None) -> Device:
    """The profile `name` of `DEVICES` (None: the default, an H100), with its CUDA context and cuDNN
    workspace replaced where given (bytes)."""
    key = DEFAULT_DEVICE if name is None else name.lower()
    if key not in DEVICES:
        raise CnnCostError(f"unknown GPU profile '{name}'; known: {', '.join(DEVICES)}")
    for what, value in (("the CUDA context", context), ("the cuDNN workspace", conv_workspace)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise CnnCostError(f"{what} is a number of bytes >= 0, got {value!r}")
    device = DEVICES[key]
    return replace(device, context=device.context if context is None else context,
                   conv_workspace=device.conv_workspace if conv_workspace is None else conv_workspace)


def cublas_workspace(config: str | None, capability: tuple[int, int]) -> int:
    """Bytes of one cuBLAS workspace under CUBLAS_WORKSPACE_CONFIG `config` (None: unset).
    ':4096:8' = 8 x 4096 KiB = 32 MiB; ':16:8' = 128 KiB; ':4096:2:16:8' = 8 MiB + 128 KiB. A
    config without any ':SIZE:COUNT' pair falls back to the default, as PyTorch does (with a
    warning)."""
    default = 4096 * 1024 * 8 if capability == (9, 0) else 4096 * 1024 * 2 + 16 * 1024 * 8
    if config is None:
        return default
    pairs = re.findall(r":([0-9]+):([0-9]+)", config)
    if not pairs:
        return default
    return sum(int(size) * 1024 * int(count) for size, count in pairs)


@dataclass(frozen=True)
class Reserved:
    """The device memory of a training step at one batch (bytes; `STATUS`: modelled, not measured).

    peak_requested: the most the step's tensors and workspaces ask for at once (event by event);
    peak_allocated: the same in allocator blocks (512 B rounding, unsplit blocks): a predicted
      `torch.cuda.max_memory_allocated`;
    peak_reserved: the allocator's segments at their peak (they are never returned): a predicted
      `torch.cuda.max_memory_reserved`; peak_reserved_at: the moment it is first reached
      ("step S, PHASE", or "setup");
    fragmentation: peak_reserved - peak_allocated;
    workspaces: the cuBLAS and cuBLASLt workspaces made (two handles: forward and backward
      threads; held for the whole run) plus one cuDNN workspace where convolutions get one;
    context: the CUDA context; nvidia_smi: peak_reserved + context, what nvidia-smi shows for the
      process at the peak;
    small_segments, large_segments: segments reserved (small: 2 MiB each)."""

    batch: int
    device: str
    peak_requested: int
    peak_allocated: int
    peak_reserved: int
    peak_reserved_at: str
    fragmentation: int
    workspaces: int
    context: int
    nvidia_smi: int
    small_segments: int
    large_segments: int
    status: str = STATUS


def reserved_bytes(step: StepMemory, batch: int, device: str | Device = DEFAULT_DEVICE,
                   cublas_config: str | None = None, cublaslt_workspace: int = CUBLASLT_DEFAULT,
                   conv_workspace: int | None = None, context: int | None = None, steps: int = 2,
                   max_split_size: int | None = None) -> Reserved:
    """Replay `steps` training steps of `step` (`step_memory(trace, Setup(optimizer))`, device cuda) at
    `batch` through the caching allocator model and add the CUDA context. `device`: a name of
    `DEVICES` or a `Device`; `cublas_config`: CUBLAS_WORKSPACE_CONFIG (None: PyTorch's default for
    the device); `conv_workspace`: bytes of cuDNN workspace around each convolution (None: the
    device's, 0: none); `context`: the CUDA context's bytes (None: the device's); `max_split_size`:
    the allocator option max_split_size_mb, in bytes (None: unset)."""
    spec = DEVICES[device] if isinstance(device, str) else device
    blas = cublas_workspace(cublas_config, spec.capability)
    lt = min(cublaslt_workspace, blas)
    conv = spec.conv_workspace if conv_workspace is None else conv_workspace
    seq = allocation_events(step, batch, steps, blas_workspace=blas, conv_workspace=conv, blaslt_workspace=lt)
    result = replay(seq.events, max_split_size, record=False)
    held = context if context is not None else spec.context
    return Reserved(batch, spec.name, result.peak_requested, result.peak_allocated, result.peak_reserved,
                    seq.where(result.peak_reserved_at), result.peak_reserved - result.peak_allocated,
                    seq.workspaces, held, result.peak_reserved + held, result.small_segments,
                    result.large_segments)


def modelled_for(step: StepMemory) -> bool:
    """Whether the allocator model applies to `step`: a training step on CUDA of the plain setup
    (the allocation events follow the plain step's timeline; checkpointing, accumulation, freezing
    and sharding change it, and are not replayed yet)."""
    return (step.mode == "train" and step.trace.precision.device == "cuda"
            and step.setup == Setup(step.optimizer, "train"))


def device_memory(step: StepMemory, batch: int, device: Device) -> Reserved | None:
    """`reserved_bytes` on the GPU profile `device`, or None where the model does not apply."""
    return reserved_bytes(step, batch, device) if modelled_for(step) else None


def device_record(r: Reserved) -> dict:
    """The JSON fields of `training_step` (docs/output.md): what the caching allocator reserves at
    its peak (a predicted torch.cuda.max_memory_reserved), what nvidia-smi shows (reserved + the
    CUDA context), the allocator's allocated peak in blocks, the workspaces and context counted,
    the GPU profile, where reserved bytes peak, and that all of this is modelled."""
    return {"reserved_bytes": r.peak_reserved, "nvidia_smi_bytes": r.nvidia_smi,
            "allocator_allocated_bytes": r.peak_allocated, "workspace_bytes": r.workspaces,
            "cuda_context_bytes": r.context, "gpu": r.device, "reserved_peak_at": r.peak_reserved_at,
            "reserved_status": r.status}
