"""Profiles by name or from a YAML file, and a profile written back as YAML (exactly).

`load_profile(NAME|FILE)`: a built-in name (`cnncost hardware` lists them) or a YAML profile,
read with the project's safe loader; a bad file is one `CnnCostError` line naming the file, the
field and the problem. Built-in names never import yaml (the command line's cold path).
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping

from ..errors import CnnCostError, escape
from .profile import DTYPES, LINKS, OP_CLASSES, UNITS, HardwareProfile

FIELDS = ("name", "vendor_name", "kind", "origin", "matrix", "vector", "memory_bandwidth", "memory_bytes",
          "launch_overhead_ns", "achievable", "sources", "measured", "notes", *LINKS)
REQUIRED = ("name", "vendor_name", "kind", "memory_bandwidth", "memory_bytes")
_SUFFIXES = (".yaml", ".yml")
# '312T', '19.5 TFLOPS', '2039 GB/s', '3.35TB/s': SI prefixes, decimal as datasheets mean them
_RATE = re.compile(r"\s*(\d{1,30})(?:\.(\d{1,30}))?\s*([kKMGTP]?)\s*(?:FLOPS|FLOP/s|OPS|OP/s|B/s|B|/s)?\s*", re.IGNORECASE)
_PREFIX = {"": 0, "k": 3, "m": 6, "g": 9, "t": 12, "p": 15}


def builtin_profiles() -> dict[str, HardwareProfile]:
    from .builtin import BUILTIN
    return BUILTIN


def load_profile(name_or_path: str | os.PathLike[str] | HardwareProfile) -> HardwareProfile:
    """A built-in profile by name, or a YAML profile file (a path, or a name ending .yaml/.yml)."""
    if isinstance(name_or_path, HardwareProfile):
        return name_or_path
    if isinstance(name_or_path, os.PathLike):
        return read_profile(os.fspath(name_or_path))
    if not isinstance(name_or_path, str):
        raise CnnCostError(f"a hardware profile is a name or a file, got {type(name_or_path).__name__}")
    text = name_or_path
    if text.lower().endswith(_SUFFIXES) or os.sep in text or (os.altsep and os.altsep in text):
        return read_profile(text)
    builtin = builtin_profiles()
    if text in builtin:
        return builtin[text]
    if os.path.isfile(text):
        return read_profile(text)
    raise CnnCostError(unknown_message(text, builtin))


def unknown_message(text: str, builtin: Mapping[str, HardwareProfile]) -> str:
    import difflib
    close = difflib.get_close_matches(text.lower(), list(builtin), n=3, cutoff=0.5)
    near = [n for n in builtin if text.lower() and text.lower() in n]
    hint = sorted(set(near + close), key=list(builtin).index)
    return (f"unknown hardware '{escape(text, 60)}'" + (f" (did you mean {', '.join(hint)}?)" if hint else "")
            + f"; built-in: {', '.join(builtin)}; or a YAML profile file (`cnncost calibrate --out FILE` "
            "measures this machine's)")


def read_profile(path: str) -> HardwareProfile:
    """A YAML profile file; every problem is one line naming the file."""
    from ..reading import read_spec_text
    from ..safe_yaml import load_yaml
    try:
        data = load_yaml(read_spec_text(path), path)
    except CnnCostError as error:
        raise error.at(source=path)  # noqa: B904  (the caught error itself, re-raised)
    except OSError as error:
        raise CnnCostError(f"cannot read the profile: {error.strerror or error}", source=path) from None
    try:
        return profile_from_data(data)
    except CnnCostError as error:
        raise error.at(source=path)  # noqa: B904  (the caught error itself, re-raised)


def profile_from_data(data: Any) -> HardwareProfile:
    """A profile from plain data (a YAML document's mapping), checked field by field."""
    if not isinstance(data, dict):
        raise CnnCostError(f"a hardware profile is a mapping of fields ({', '.join(REQUIRED)}, ...), "
                           f"got {type(data).__name__}")
    for key in data:
        if key not in FIELDS:
            raise CnnCostError(f"field '{escape(key, 60)}': unknown field; fields: {', '.join(FIELDS)}")
    for key in REQUIRED:
        if key not in data:
            raise CnnCostError(f"field '{key}': missing (required: {', '.join(REQUIRED)})")
    if "matrix" not in data and "vector" not in data:
        raise CnnCostError("field 'matrix': missing (a profile needs matrix or vector peaks, dtype -> ops/s)")
    from .builtin import ACHIEVABLE, ACHIEVABLE_SOURCES, LAUNCH_NS, LAUNCH_SOURCE
    fields: dict[str, Any] = {k: data[k] for k in ("name", "vendor_name", "kind", "notes") if k in data}
    fields["origin"] = data.get("origin", "user")
    for unit in UNITS:
        fields[unit] = {d: rate(f"{unit}.{d}", v) for d, v in _mapping(unit, data.get(unit) or {}).items()}
    fields["memory_bandwidth"] = rate("memory_bandwidth", data["memory_bandwidth"])
    fields["memory_bytes"] = _size("memory_bytes", data["memory_bytes"])
    fields["launch_overhead_ns"] = data.get("launch_overhead_ns", LAUNCH_NS)
    achievable = _mapping("achievable", data.get("achievable") or {})
    fields["achievable"] = {**ACHIEVABLE, **{k: _fraction(f"achievable.{k}", v) for k, v in achievable.items()}}
    sources = dict(_mapping("sources", data.get("sources") or {}))
    if "launch_overhead_ns" not in data:  # a default names where it comes from
        sources.setdefault("launch_overhead_ns", "default: " + LAUNCH_SOURCE)
    for op_class in OP_CLASSES:
        if op_class not in achievable:
            sources.setdefault(f"achievable.{op_class}", "default: " + ACHIEVABLE_SOURCES[op_class])
    fields["sources"] = sources
    fields["measured"] = _mapping("measured", data.get("measured") or {})
    for key in LINKS:  # optional interconnect figures (an older profile has none: communication is not timed)
        if data.get(key) is not None:
            fields[key] = data[key] if key == "pcie_generation" else rate(key, data[key])
    return HardwareProfile(**fields)


def _mapping(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CnnCostError(f"field '{where}': expected a mapping, got {escape(repr(value), 60)}")
    for key in value:
        if not isinstance(key, str):
            raise CnnCostError(f"field '{where}': a key must be text, got {escape(repr(key), 60)}")
    return value


def rate(where: str, value: Any) -> int:
    """An exact int from 312000000000000, 3.12e14 (a whole number), '312T', '19.5 TFLOPS', '2039 GB/s'."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return value
    elif isinstance(value, float) and value.is_integer() and 0 < value <= 2**53:  # exact as a float
        return int(value)
    elif isinstance(value, str):
        match = _RATE.fullmatch(value[:100])
        if match:
            whole, frac, prefix = match.group(1), match.group(2) or "", match.group(3).lower()
            exponent = _PREFIX[prefix]
            if len(frac) <= exponent:
                return int(whole) * 10**exponent + (int(frac) * 10 ** (exponent - len(frac)) if frac else 0)
    raise CnnCostError(f"field '{where}': expected a whole number per second, like 312000000000000, '312T' or "
                       f"'2039 GB/s', got {escape(repr(value), 60)}")


def _size(where: str, value: Any) -> int:
    if isinstance(value, str):
        from ..units import SizeError, parse_size
        try:
            return parse_size(value, what="a memory size")
        except SizeError as error:
            raise CnnCostError(f"field '{where}': {error.problem}") from None
    return rate(where, value)


def _fraction(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CnnCostError(f"field '{where}': expected a fraction in (0, 1], got {escape(repr(value), 60)}")
    return float(value)


# --- writing ---

def _text(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def _float(value: float) -> str:
    """repr, with the dot YAML 1.1 needs to read it back as a float (1e-05 -> 1.0e-05)."""
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + (f"e{exponent}" if e else "")


def profile_yaml(profile: HardwareProfile, header: str = "") -> str:
    """The profile as a YAML document that `load_profile` reads back equal."""
    lines = [f"# {line}" for line in header.splitlines()]
    for key in ("name", "vendor_name", "kind", "origin"):
        lines.append(f"{key}: {_text(getattr(profile, key))}")
    for unit in UNITS:
        peaks = getattr(profile, unit)
        lines.append(f"{unit}:" + ("" if peaks else " {}") + f"  # ops/s, dense, per dtype ({', '.join(DTYPES)})")
        lines += [f"  {dtype}: {value}" for dtype, value in peaks.items()]
    lines.append(f"memory_bandwidth: {profile.memory_bandwidth}  # bytes/s")
    lines.append(f"memory_bytes: {profile.memory_bytes}  # bytes")
    lines.append(f"launch_overhead_ns: {profile.launch_overhead_ns}")
    lines += [f"{key}: {getattr(profile, key)}" + ("" if key == "pcie_generation" else "  # bytes/s per direction")
              for key in LINKS if getattr(profile, key) is not None]
    lines.append("achievable:  # fraction of the peak each op class reaches")
    lines += [f"  {c}: {_float(profile.achievable[c])}" for c in OP_CLASSES]
    for label in ("measured", "sources"):
        mapping = getattr(profile, label)
        lines.append(f"{label}:" + ("" if mapping else " {}"))
        lines += [f"  {_text(k)}: {v if label == 'measured' else _text(v)}" for k, v in mapping.items()]
    lines.append(f"notes: {_text(profile.notes)}")
    return "\n".join(lines) + "\n"


def profile_record(profile: HardwareProfile) -> dict[str, Any]:
    """Every field as plain data (JSON output): exact ints."""
    return {"name": profile.name, "vendor_name": profile.vendor_name, "kind": profile.kind,
            "origin": profile.origin, "matrix": dict(profile.matrix), "vector": dict(profile.vector),
            "memory_bandwidth": profile.memory_bandwidth, "memory_bytes": profile.memory_bytes,
            "launch_overhead_ns": profile.launch_overhead_ns, "achievable": dict(profile.achievable),
            "measured": dict(profile.measured), "sources": dict(profile.sources), "notes": profile.notes,
            **{key: getattr(profile, key) for key in LINKS if getattr(profile, key) is not None}}
