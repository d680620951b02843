"""`HardwareProfile`: what a machine can do, as the roofline time model reads it.

Every rate and size is an exact int: ops/s for peaks, bytes/s for bandwidth, bytes for memory,
nanoseconds for the per-kernel launch overhead. Peaks are dense (never the 2:4 sparsity figures
datasheets print with an asterisk), per dtype, for two kinds of unit:

- `matrix`: tensor cores (GPU) or whatever runs matmuls and convs fastest (a CPU's SIMD/AMX);
- `vector`: the CUDA cores / SIMD lanes that run elementwise ops, norms, pooling, depthwise convs
  (and, on a GPU, fp32 matmuls when TF32 is off).

`achievable` holds the fraction of a peak each op class reaches in practice (assumptions for the
datasheet profiles, measured for calibrated ones); `sources` names where each figure comes from.

Interconnect (optional; several GPUs' communication, `cnncost.timing.communication`): bandwidths
in bytes/s **per direction** per GPU, half the bidirectional totals NVIDIA's datasheets print (H100
SXM "NVLink 900GB/s" -> 450 GB/s each way), because a ring collective sends and receives at once and
NCCL's bus bandwidth is compared with one direction's: `nvlink_bandwidth` (GPU to GPU through NVLink
and NVSwitch), `pcie_generation` and `pcie_bandwidth` (x16), `network_bandwidth` (between nodes,
per GPU: a system figure, rarely a part's).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ..errors import CnnCostError, escape

DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")
UNITS = ("matrix", "vector")
# op class -> which figure its fraction applies to
OP_CLASSES = {
    "matmul": "matrix peak (linear, matmul, attention)",
    "conv": "matrix peak (dense and grouped convolutions)",
    "depthwise": "vector peak (depthwise convolutions)",
    "vector": "vector peak (elementwise, norms, pooling, softmax)",
    "bandwidth": "memory bandwidth (every op's bytes)",
}
KINDS = ("gpu", "cpu")
ORIGINS = ("datasheet", "calibrated", "user")
FIGURES = ("memory_bandwidth", "memory_bytes")  # datasheet figures besides the peaks
LINKS = ("nvlink_bandwidth", "pcie_generation", "pcie_bandwidth", "network_bandwidth")  # optional interconnect
PCIE_GENERATIONS = (3, 4, 5, 6)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def _problem(where: str, text: str) -> CnnCostError:
    return CnnCostError(f"field '{where}': {text}")


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _problem(where, f"expected a positive whole number, got {escape(repr(value), 60)}")
    if value < 1:
        raise _problem(where, f"expected a positive whole number, got {value}")
    return value


def _frozen(mapping: Mapping[str, Any], order: tuple[str, ...] | None) -> Mapping[str, Any]:
    """A read-only copy, keys in the canonical order (so equal profiles print alike)."""
    keys = [k for k in order if k in mapping] if order else sorted(mapping)
    return MappingProxyType({k: mapping[k] for k in keys})


@dataclass(frozen=True)
class HardwareProfile:
    """One machine's figures; see the module docstring and docs/time.md."""

    name: str                              # lower case with dashes: a100-sxm4-80gb
    vendor_name: str                       # as the vendor writes it: NVIDIA A100-SXM4-80GB
    kind: str                              # gpu or cpu
    matrix: Mapping[str, int] = field(hash=False)   # dtype -> dense peak ops/s of the matrix units
    vector: Mapping[str, int] = field(hash=False)   # dtype -> peak ops/s of the vector units
    memory_bandwidth: int                  # bytes/s (datasheet: decimal GB/s)
    memory_bytes: int                      # bytes (GPU memory "GB" is binary: 80GB = 80 GiB)
    launch_overhead_ns: int                # per kernel (op) issued
    achievable: Mapping[str, float] = field(hash=False)  # op class -> fraction of its peak, (0, 1]
    sources: Mapping[str, str] = field(hash=False)       # figure key -> where it comes from
    origin: str = "datasheet"              # datasheet, calibrated or user
    measured: Mapping[str, int] = field(default_factory=dict, hash=False)  # calibrate's raw figures
    notes: str = ""
    # interconnect, bytes/s per direction per GPU (None: not known; see the module docstring)
    nvlink_bandwidth: int | None = None
    pcie_generation: int | None = None
    pcie_bandwidth: int | None = None      # x16
    network_bandwidth: int | None = None   # between nodes, per GPU

    def __post_init__(self) -> None:
        for key in ("name", "vendor_name", "kind", "origin", "notes"):
            if not isinstance(getattr(self, key), str):
                raise _problem(key, f"expected text, got {escape(repr(getattr(self, key)), 60)}")
        if not _NAME.fullmatch(self.name):
            raise _problem("name", f"'{escape(self.name, 60)}' is not lower case letters, digits and dashes "
                           "(up to 100 characters), like a100-sxm4-80gb")
        if not self.vendor_name.strip():
            raise _problem("vendor_name", "must not be empty")
        if self.kind not in KINDS:
            raise _problem("kind", f"expected one of {', '.join(KINDS)}, got '{escape(self.kind, 40)}'")
        if self.origin not in ORIGINS:
            raise _problem("origin", f"expected one of {', '.join(ORIGINS)}, got '{escape(self.origin, 40)}'")
        for unit in UNITS:
            peaks = getattr(self, unit)
            if not isinstance(peaks, Mapping):
                raise _problem(unit, "expected a mapping of dtype to ops/s")
            for dtype, value in peaks.items():
                if dtype not in DTYPES:
                    raise _problem(f"{unit}.{escape(dtype, 40)}", f"unknown dtype; dtypes: {', '.join(DTYPES)}")
                _positive_int(f"{unit}.{dtype}", value)
            object.__setattr__(self, unit, _frozen(peaks, DTYPES))
        if not self.matrix and not self.vector:
            raise _problem("matrix", "a profile needs at least one peak (matrix or vector, per dtype)")
        for key in ("memory_bandwidth", "memory_bytes", "launch_overhead_ns"):
            _positive_int(key, getattr(self, key))
        for key in LINKS:
            if getattr(self, key) is not None:
                _positive_int(key, getattr(self, key))
        if self.pcie_generation is not None and self.pcie_generation not in PCIE_GENERATIONS:
            raise _problem("pcie_generation", f"expected one of {', '.join(map(str, PCIE_GENERATIONS))}, "
                           f"got {self.pcie_generation}")
        if not isinstance(self.achievable, Mapping):
            raise _problem("achievable", "expected a mapping of op class to a fraction")
        for op_class, value in self.achievable.items():
            if op_class not in OP_CLASSES:
                raise _problem(f"achievable.{escape(op_class, 40)}",
                               f"unknown op class; classes: {', '.join(OP_CLASSES)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise _problem(f"achievable.{op_class}",
                               f"expected a fraction in (0, 1], got {escape(repr(value), 60)}")
        missing = [c for c in OP_CLASSES if c not in self.achievable]
        if missing:
            raise _problem(f"achievable.{missing[0]}", "missing (every op class needs a fraction: "
                           f"{', '.join(OP_CLASSES)})")
        object.__setattr__(self, "achievable", _frozen({k: float(v) for k, v in self.achievable.items()},
                                                        tuple(OP_CLASSES)))
        for label, mapping, check in (("sources", self.sources, str), ("measured", self.measured, int)):
            if not isinstance(mapping, Mapping):
                raise _problem(label, "expected a mapping")
            for key, value in mapping.items():
                if not isinstance(key, str) or not key:
                    raise _problem(label, f"a key must be text, got {escape(repr(key), 60)}")
                if check is str and (not isinstance(value, str) or not value.strip()):
                    raise _problem(f"{label}.{escape(key, 60)}", "expected a non-empty text")
                if check is int:
                    _positive_int(f"{label}.{escape(key, 60)}", value)
            object.__setattr__(self, label, _frozen(mapping, None))

    # --- what the time model reads ---

    def peak(self, dtype: str, unit: str = "matrix") -> int | None:
        """Peak ops/s of `unit` for `dtype`, or None where the part has none.

        A dtype without matrix units runs its matmuls on the vector units (fp32 with TF32 off, or
        fp16 on a V100's CUDA cores), so `matrix` falls back to `vector`; TF32 is a matrix-only
        math mode over fp32 storage, so `vector` tf32 is the fp32 figure."""
        if dtype not in DTYPES or unit not in UNITS:
            raise CnnCostError(f"unknown dtype or unit '{escape(dtype, 20)}', '{escape(unit, 20)}'; "
                               f"dtypes: {', '.join(DTYPES)}; units: {', '.join(UNITS)}")
        if unit == "matrix" and dtype in self.matrix:
            return self.matrix[dtype]
        return self.vector.get("fp32" if dtype == "tf32" else dtype)

    def achievable_peak(self, dtype: str, op_class: str) -> float | None:
        """Ops/s an op class is expected to reach: its unit's peak times its fraction."""
        unit = "matrix" if OP_CLASSES[op_class].startswith("matrix") else "vector"
        peak = self.peak(dtype, unit)
        return None if peak is None else peak * self.achievable[op_class]

    @property
    def launch_overhead_seconds(self) -> float:
        return self.launch_overhead_ns / 1e9

    def ridge_point(self, dtype: str, unit: str = "matrix") -> float | None:
        """Ops per byte where compute time equals memory time (the roofline's knee)."""
        peak = self.peak(dtype, unit)
        return None if peak is None else peak / self.memory_bandwidth

    # --- figures and their sources ---

    def figure_keys(self) -> list[str]:
        """Every datasheet figure of the profile: 'matrix.bf16', 'vector.fp32', 'memory_bandwidth', ...,
        then the interconnect figures it has."""
        return ([f"{unit}.{d}" for unit in UNITS for d in getattr(self, unit)] + list(FIGURES)
                + [k for k in LINKS if getattr(self, k) is not None])

    def figure(self, key: str) -> int:
        unit, _, dtype = key.partition(".")
        return getattr(self, unit)[dtype] if dtype else getattr(self, key)

    def missing_sources(self) -> list[str]:
        """Figures (datasheet figures, the launch overhead, each achievable fraction) without a source."""
        keys = [*self.figure_keys(), "launch_overhead_ns", *(f"achievable.{c}" for c in OP_CLASSES)]
        return [k for k in keys if k not in self.sources]
