"""`cnncost hardware [NAME|FILE|PATTERN]`: the built-in hardware profiles and their key figures;
one profile (a name or a YAML file) with every figure and its source.

A command of its own rather than `cnncost list --hardware`: `list` is about architectures (its
pattern, --batch, --dtype and --optimizer mean nothing for a GPU), and a profile file is shown
the same way as a built-in one."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnCostError
from .options import add_format

PEAK_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")
FOOTER = ("Dense peaks in T(FL)OP/s (int8: TOPS), no sparsity: the matrix units (tensor cores) where the part has "
          "them for the dtype, else the vector units; - where it has neither. GB/s = 10^9 B/s; GiB = 2^30 B. "
          "NVLink: GB/s per direction (half the datasheets' bidirectional figure); PCIe: generation, x16. "
          "cnncost hardware NAME shows every figure with its source.")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("hardware", help="hardware profiles (GPUs, a calibrated CPU) for step time",
                                 description="The built-in hardware profiles with their dense peaks, bandwidth and "
                                 "memory; with a NAME or a YAML profile FILE, every figure of it with its source "
                                 "(see docs/time.md).")
    parser.add_argument("profile", nargs="?", default=None, metavar="NAME|FILE|PATTERN",
                        help="a built-in name, a YAML profile (cnncost calibrate --out FILE) or a shell pattern "
                             "('h100*'); none: every built-in profile")
    add_format(parser, "text", "json")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> str:
    from ..hardware.files import builtin_profiles, load_profile
    wanted = args.profile
    if wanted is None or any(c in wanted for c in "*?["):
        import fnmatch
        profiles = [p for n, p in builtin_profiles().items() if wanted is None or fnmatch.fnmatchcase(n, wanted)]
        if not profiles:
            raise CnnCostError(f"no built-in hardware matches '{wanted}'; built-in: {', '.join(builtin_profiles())}")
        return _json(profiles, many=True) if args.format == "json" else _table(profiles)
    if args.profile.lower().endswith((".yaml", ".yml")):
        args._source, args._is_file = args.profile, True
    profile = load_profile(wanted)
    return _json([profile], many=False) if args.format == "json" else _detail(profile)


def _peak(profile: Any, dtype: str) -> int | None:
    return profile.matrix.get(dtype) or profile.vector.get(dtype)


def _tera(value: int | None) -> str:
    from ..formatting import fixed
    return "-" if value is None else fixed(value, 10**12, 1)


def _table(profiles: list[Any]) -> str:
    from tabulate import tabulate

    from ..formatting import fixed
    from ..outputs.comm_time import gigabytes
    rows = [[p.name, p.vendor_name, *(_tera(_peak(p, d)) for d in PEAK_DTYPES),
             gigabytes(p.memory_bandwidth), fixed(p.memory_bytes, 2**30, 0),
             "-" if p.nvlink_bandwidth is None else fixed(p.nvlink_bandwidth, 10**9, 0),
             "-" if p.pcie_generation is None else f"Gen{p.pcie_generation}"] for p in profiles]
    table = tabulate(rows, headers=("name", "part", *PEAK_DTYPES, "GB/s", "GiB", "NVLink", "PCIe"), tablefmt="simple",
                     colalign=("left", "left", *("right",) * (len(PEAK_DTYPES) + 4)), disable_numparse=True)
    return f"{table}\n\n{FOOTER}"


def _detail(profile: Any) -> str:
    from tabulate import tabulate

    from ..formatting import fixed, grouped
    from ..hardware.profile import OP_CLASSES
    rows = []
    for key in profile.figure_keys():
        value = profile.figure(key)
        shown = (f"{fixed(value, 2**30, 2)} GiB" if key == "memory_bytes"
                 else f"{fixed(value, 10**12, 3)} TB/s" if key == "memory_bandwidth"
                 else f"Gen{value} x16" if key == "pcie_generation"
                 else f"{fixed(value, 10**9, 1)} GB/s each way" if key.endswith("_bandwidth")
                 else f"{fixed(value, 10**12, 1)} {'TOPS' if key.endswith('int8') else 'TFLOPS'}")
        rows.append([key, grouped(value), shown, profile.sources.get(key, "")])
    rows.append(["launch_overhead_ns", grouped(profile.launch_overhead_ns),
                 f"{fixed(profile.launch_overhead_ns, 1000, 1)} us", profile.sources.get("launch_overhead_ns", "")])
    rows += [[f"achievable.{c}", f"{profile.achievable[c]:.3g}", f"of the {OP_CLASSES[c].split(' (')[0]}",
              profile.sources.get(f"achievable.{c}", "")] for c in OP_CLASSES]
    rows += [[f"measured.{k}", grouped(v), "", profile.sources.get(f"measured.{k}", "")]
             for k, v in profile.measured.items()]
    head = f"{profile.name}: {profile.vendor_name} ({profile.kind}, {profile.origin})"
    notes = f"\nNotes: {profile.notes}" if profile.notes else ""
    return (f"{head}{notes}\n\n" + tabulate(rows, headers=("figure", "value", "", "source"), tablefmt="simple",
                                            colalign=("left", "right", "left", "left"), disable_numparse=True))


def _json(profiles: list[Any], many: bool) -> str:
    from ..conventions import SCHEMA_VERSION
    from ..formatting import dumps
    from ..hardware.files import profile_record
    records = [profile_record(p) for p in profiles]
    return dumps({"schema_version": SCHEMA_VERSION, "profiles": records} if many
                 else {"schema_version": SCHEMA_VERSION, **records[0]})
