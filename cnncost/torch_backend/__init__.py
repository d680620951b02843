"""The PyTorch backend: build any cnncost spec as an `nn.Module` and check the engine's numbers
on real tensors. Imports torch; nothing in the core imports this package.

>>> from cnncost.torch_backend import check
>>> check("inception", batch=1).ok
True
"""
from .build import Network, build, build_graph
from .check import CheckResult, CheckRow, check

__all__ = ["build", "build_graph", "check", "CheckResult", "CheckRow", "Network"]
