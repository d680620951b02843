"""One device choice: a built-in GPU's time profile (`--hardware NAME`) also picks the allocator
profile of the same card (`cnncost.memory.reserved`: reserved and nvidia-smi figures), so a table
or a fit models one GPU for both time and memory. `--gpu NAME` (the allocator profile alone) still
works; it is deprecated in favour of `--hardware` (`HARDWARE_OF` says which name it maps to)."""
from __future__ import annotations

from typing import Any

from ..errors import CnnCostError

# built-in time profile -> allocator profile of the same card (same memory size and compute capability)
ALLOCATOR_OF = {"h100-sxm5-80gb": "h100", "h100-pcie-80gb": "h100", "h200-sxm-141gb": "h200",
                "a100-sxm4-80gb": "a100-80gb", "a100-sxm4-40gb": "a100-40gb", "l4": "l4", "rtx-4090": "rtx4090",
                "v100-sxm2-32gb": "v100"}
HARDWARE_OF = {"h100": "h100-sxm5-80gb", "h200": "h200-sxm-141gb", "a100-80gb": "a100-sxm4-80gb",
               "a100-40gb": "a100-sxm4-40gb", "l4": "l4", "rtx4090": "rtx-4090", "v100": "v100-sxm2-32gb"}


def allocator_for(hardware: Any) -> str | None:
    """The allocator profile of a time profile (a name, or a `HardwareProfile`); None where the card
    has none (a CPU, a file's own profile, a GPU the allocator model does not list)."""
    name = hardware if isinstance(hardware, str) else getattr(hardware, "name", None)
    return ALLOCATOR_OF.get(name.lower()) if isinstance(name, str) else None


def device_choice(gpu: str | None, hardware: Any) -> str | None:
    """The allocator profile a table or fit uses: `gpu` where given (it must name the same card as
    `hardware`), else the one `hardware` maps to (None: the default)."""
    mapped = allocator_for(hardware) if hardware is not None else None
    if gpu is None:
        return mapped
    if mapped is not None and gpu.lower() != mapped:
        raise CnnCostError(f"--gpu {gpu} and --hardware {hardware} name different cards: give --hardware alone "
                           f"(it picks the card for both time and memory; --gpu {gpu} is --hardware "
                           f"{HARDWARE_OF.get(gpu.lower(), '?')})")
    return gpu
