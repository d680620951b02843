"""The schemas of `cnncost hardware --format json` (hardware.files.profile_record: one profile, or
`profiles` for several) and of a hardware profile YAML file (hardware.files.read_profile; what
`cnncost calibrate --out FILE` writes), from the profile module's dtypes, units and op classes."""
from __future__ import annotations

from ..hardware.files import FIELDS, REQUIRED
from ..hardware.profile import DTYPES, KINDS, LINKS, OP_CLASSES, ORIGINS, PCIE_GENERATIONS, UNITS
from .common import COUNT, TEXT, VERSION, Schema, closed, document

FRACTION: Schema = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}


def _profile(rate: Schema, size: Schema, strict: bool) -> dict[str, Schema]:
    peaks = closed({dtype: rate for dtype in DTYPES}) | {"description": "ops/s, dense, per dtype"}
    fields = {"name": TEXT, "vendor_name": TEXT, "kind": {"enum": list(KINDS)}, "origin": {"enum": list(ORIGINS)},
              **{unit: peaks for unit in UNITS}, "memory_bandwidth": rate | {"description": "bytes/s"},
              "memory_bytes": size, "launch_overhead_ns": COUNT,
              "achievable": closed({c: FRACTION for c in OP_CLASSES}, list(OP_CLASSES) if strict else ()),
              "measured": {"type": "object", "additionalProperties": COUNT},
              "sources": {"type": "object", "additionalProperties": TEXT}, "notes": TEXT,
              **{key: rate | {"description": "bytes/s per direction per GPU (optional: several GPUs' "
                                                "communication)"} for key in LINKS if key != "pcie_generation"},
              "pcie_generation": {"enum": list(PCIE_GENERATIONS)}}
    assert set(fields) == set(FIELDS), "hardware.files.FIELDS changed: update the schema"
    return fields


def schema_hardware() -> Schema:
    one = _profile(COUNT, COUNT, strict=True)
    always = [key for key in one if key not in LINKS]  # the interconnect figures a profile has
    single = closed({"schema_version": VERSION, **one}, ["schema_version", *always])
    many = closed({"schema_version": VERSION, "profiles": {"type": "array", "items": closed(one, always)}},
                  ["schema_version", "profiles"])
    return document("cnncost hardware (JSON)", "cnncost hardware [NAME|FILE] --format json: one profile with "
                    "every figure and its source; several (a pattern, or none): `profiles`; docs/time.md",
                    {"oneOf": [single, many]})


def schema_profile() -> Schema:
    # a rate: an int, or text with an SI prefix as datasheets write it ('312T', '19.5 TFLOPS', '2039 GB/s')
    rate: Schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\s*\d"}]}
    size: Schema = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\s*\d"}],
                    "description": "bytes, or a size with a unit ('80GiB')"}
    return document("cnncost hardware profile (YAML)", "a hardware profile file: cnncost calibrate --out FILE "
                    "writes one, --hardware FILE reads one; docs/time.md",
                    closed(_profile(rate, size, strict=False), list(REQUIRED)))
