"""What a PyTorch training step really holds: the tensors autograd saves for backward (one rule per
layer type in `rules.py`, run over the graph by `trace.py`), the whole step's timeline and peak
(`step.py`) and the largest batch that fits (`fit.py`). Pure Python; `cnncost.torch_backend.saved_check`
checks it against measurements.

>>> import cnncost
>>> from cnncost.memory import Precision, Setup, step_memory, trace
>>> steps = step_memory(trace(cnncost.load("alexnet"), precision=Precision("fp32")), Setup("adam"))
>>> steps.peak(128).phase
'backward, conv5'
"""
from .fit import Fit, largest_batch, parse_bytes
from .inference import InferenceMemory  # (registers the inference model: step.MODELS)
from .setup import MODES, Setup
from .step import OPTIMIZER_STATE, PARTS, Moment, StepMemory, step_memory
from .tensors import Bytes, Precision
from .trace import Trace, trace

__all__ = ["trace", "Trace", "step_memory", "StepMemory", "Moment", "largest_batch", "Fit", "parse_bytes",
           "Precision", "Bytes", "PARTS", "MODES", "OPTIMIZER_STATE", "Setup",
           "InferenceMemory"]
