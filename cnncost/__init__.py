"""cnncost: exact, framework-free cost accounting for convolutional networks.

>>> import cnncost
>>> report = cnncost.table("alexnet", batch=128)
>>> report.rows[1].name, report.rows[1].params
('conv1', 34944)
"""
from .api import fit, load, table
from .compare import Comparison, compare
from .conventions import Options
from .graph import Graph, compile
from .errors import CnnCostError, ShapeError, SpecError, UnknownArchitecture
from . import layers
from .net import Net
from .report import Report, Row
from .zoo.arch import register_arch
from .zoo.registry import list_archs

__version__ = "0.1.0"

__all__ = ["table", "fit", "Fit", "compare", "Comparison", "sweep", "load", "from_torch", "from_onnx", "compile",
           "Graph", "Net", "Report", "Row", "Options", "load_spec", "parse_spec",
           "dump_spec", "list_archs", "register_arch", "CnnCostError", "SpecError", "ShapeError",
           "UnknownArchitecture", "__version__", "zoo_frame", "receptive_field", "receptive_frame",
           "Setup",  # the job in one object: table/fit/sweep's setup= (cnncost.memory.setup)
           # the Python spec language: one dataclass per layer type (cnncost.layers.TYPES), each
           # family's module imported on first use
           *(name for name in layers.CLASSES if name not in layers.UNNAMED)]


_LAZY = {"dump_spec": "spec", "load_spec": "spec", "parse_spec": "spec",  # spec loads yaml
         "receptive_field": "receptive", "receptive_frame": "receptive", "zoo_frame": "frames", "sweep": "sweeps",
         "from_torch": "importers.torch_trace", "from_onnx": "importers.onnx_graph", "Fit": "memory.fit",
         "Setup": "memory.setup"}


def __getattr__(name: str):
    """Functions whose modules load on first use (they are off the command line's cold path), and the
    layer classes (`cnncost.layers` imports each family's module on first use)."""
    module = _LAZY.get(name)
    if module is None:
        if name in layers.CLASSES and name not in layers.UNNAMED:
            value = getattr(layers, name)
            globals()[name] = value
            return value
        raise AttributeError(f"module 'cnncost' has no attribute '{name}'")
    import importlib
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The loaded names and every public one, those that load on first use included (tab completion)."""
    return sorted(set(globals()) | set(__all__))
