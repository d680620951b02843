"""Hardware profiles for the time model: what a GPU or this machine's CPU can do.

`load_profile(NAME|FILE)` gives a `HardwareProfile` (built-in datasheet profiles, a user's YAML
file, or one `cnncost calibrate` measured); `builtin_profiles()` lists the built-in ones. Torch is
imported only by `calibrate`. See docs/time.md.
"""
from __future__ import annotations

from .files import builtin_profiles, load_profile, profile_from_data, profile_yaml
from .profile import DTYPES, OP_CLASSES, UNITS, HardwareProfile

__all__ = ["HardwareProfile", "load_profile", "builtin_profiles", "profile_from_data", "profile_yaml",
           "DTYPES", "OP_CLASSES", "UNITS"]
