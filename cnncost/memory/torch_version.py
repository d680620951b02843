"""The installed PyTorch's version, where its CPU kernels save different tensors by version: read
from the package's metadata (torch is not imported); without torch, the newest version measured."""
from __future__ import annotations

import functools
import re


@functools.cache
def torch_at_least(major: int, minor: int) -> bool:
    from importlib.metadata import PackageNotFoundError, version
    try:
        found = re.match(r"(\d+)\.(\d+)", version("torch"))
    except PackageNotFoundError:
        return True
    return found is not None and (int(found[1]), int(found[2])) >= (major, minor)
