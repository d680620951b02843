"""The PyTorch backend: build any cnncost spec as an `nn.Module` and check the engine's numbers
on real tensors. Imports torch; nothing in the core imports this package.

>>> from cnncost.torch_backend import check
>>> check("inception", batch=1).ok
True
"""
from .build import BUILDERS, Network, build
from .check import CheckResult, CheckRow, check

__all__ = ["build", "check", "CheckResult", "CheckRow", "BUILDERS", "Network"]
